import { isAlias, type Node, parseAllDocuments, visit } from "yaml";
import type { Diagnostics } from "./diagnostics.js";
import type { Source } from "./source.js";

/** One YAML document of a source: its root node (yaml's AST, with ranges). */
export interface YamlDoc {
  readonly source: Source;
  readonly root: Node;
}

// a policy file larger than this is refused before parsing
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Parses every document of a YAML source (YAML 1.2 core schema). Syntax errors, duplicate keys,
 * anchors, aliases and tags are reported at their position; aliases are refused outright, which
 * also rules out expansion bombs.
 */
export function parseYaml(source: Source, out: Diagnostics): YamlDoc[] {
  if (source.text.length > MAX_FILE_BYTES) {
    out.at(source, 0, 0, "language.too_large", `file is larger than ${MAX_FILE_BYTES} bytes`);
    return [];
  }
  const docs = parseAllDocuments(source.text, {
    version: "1.2",
    schema: "core",
    uniqueKeys: true,
    keepSourceTokens: true,
    prettyErrors: false,
    strict: true,
  });
  const list = Array.isArray(docs) ? docs : [];
  const result: YamlDoc[] = [];
  let clean = true;
  for (const doc of list) {
    // one mistake often makes the parser stumble twice or more on its line: the first says it
    const lines = new Set<number>();
    for (const e of doc.errors) {
      clean = false;
      const duplicate = e.code === "DUPLICATE_KEY";
      if (duplicate) {
        const [start, end] = e.pos;
        out.at(
          source,
          start,
          end,
          "language.yaml_duplicate_key",
          `duplicate key \`${keyAt(source.text, start)}\``,
          { hint: "each key may appear once; later ones would silently win elsewhere" },
        );
        continue;
      }
      const [start, end] = syntaxErrorAt(source.text, e.code, e.message, e.pos);
      const line = lineOf(source.text, start);
      if (lines.has(line)) continue;
      lines.add(line);
      out.at(source, start, end, "language.yaml_syntax", `yaml: ${firstLine(e.message)}`, {
        hint: syntaxHint(source.text, e.code, e.message, start),
      });
    }
    if (!doc.contents) continue;
    let refused = false;
    visit(doc, {
      Alias(_key, node) {
        refused = true;
        const [s, e] = node.range ?? [0, 0];
        out.at(source, s, e, "language.yaml_alias", "yaml aliases are not allowed", {
          hint: "write the value out; policies are read by people first",
        });
      },
      Node(_key, node) {
        if (isAlias(node)) return;
        const [s, e] = node.range ?? [0, 0];
        if (node.anchor) {
          refused = true;
          out.at(
            source,
            s,
            e,
            "language.yaml_alias",
            `yaml anchors are not allowed (\`&${node.anchor}\`)`,
          );
        }
        if (node.tag) {
          refused = true;
          out.at(
            source,
            s,
            e,
            "language.yaml_syntax",
            `yaml tags are not allowed (\`${node.tag}\`)`,
          );
        }
      },
    });
    if (!refused && clean) result.push({ source, root: doc.contents as Node });
  }
  return result;
}

// what to do about each kind of YAML syntax error, in words a policy author knows
const SYNTAX_HINTS: Partial<Record<string, string>> = {
  TAB_AS_INDENT: "indent with spaces: YAML does not allow tabs",
  BAD_INDENT:
    "indent a value deeper than its key, line up the keys of one mapping, and close every `[` or `{`",
  BLOCK_AS_IMPLICIT_KEY:
    "a line indented deeper than the one before it continues that line: line it up with the keys beside it, or end the line before with `key:` and nothing after",
  MULTILINE_IMPLICIT_KEY:
    "a line indented deeper than the one before it continues that line: line it up with the keys beside it, or end the line before with `key:` and nothing after",
  MISSING_CHAR: "something this line opened is not closed: a `[`, a `{`, or a key's `:`",
  BAD_SCALAR_START:
    "quote a value that starts with @, `, |, > or another reserved character: 'like this'",
  UNEXPECTED_TOKEN: "look for a stray character, or a `:` missing after a key",
  BLOCK_IN_FLOW: "inside `[ ]` or `{ }` write values on the line, not `- item` or `key:` blocks",
  BAD_DQ_ESCAPE:
    'in "double quotes" a backslash starts an escape: write \\\\ for one, or use single quotes',
};

// the hint for a syntax error: by its kind, and for two of them by what the line holds
function syntaxHint(text: string, code: string, message: string, start: number): string {
  if (code === "MISSING_CHAR" && /^Missing closing ["']quote/.test(message))
    return "close the quote on the same value; for text over several lines, use a block scalar (`key: |`)";
  if (code === "BLOCK_AS_IMPLICIT_KEY" || code === "MULTILINE_IMPLICIT_KEY") {
    const from = text.lastIndexOf("\n", Math.max(0, start - 1)) + 1;
    const to = text.indexOf("\n", start);
    // `key: a: b`: a second `: ` in an unquoted value
    if (/:\s.*:(\s|$)/.test(text.slice(from, to < 0 ? undefined : to)))
      return "a value holding `: ` must be quoted: `key: 'a: b'`";
  }
  return SYNTAX_HINTS[code] ?? "the file is not valid YAML from here";
}

// where to point at a syntax error: where the library does, but an unclosed quote at the quote
// that opened it (the library points at the end of the file)
function syntaxErrorAt(
  text: string,
  code: string,
  message: string,
  [start, end]: [number, number],
): [number, number] {
  const quote = /^Missing closing (["'])quote/.exec(message)?.[1];
  if (code === "MISSING_CHAR" && quote) {
    const open = text.lastIndexOf(quote, Math.max(0, start - 1));
    if (open >= 0) return [open, open + 1];
  }
  return [start, end];
}

// the 0-based line an offset is on
function lineOf(text: string, offset: number): number {
  let line = 0;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message)
    .replace(/\s+at line \d+, column \d+.*$/, "")
    .replace(/\.$/, "");
}

// the key a duplicate-key error points at, as written
function keyAt(text: string, start: number): string {
  return /^["']?([^"':\n]*)/.exec(text.slice(start, start + 200))?.[1]?.trim() ?? "";
}
