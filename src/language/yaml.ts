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
    for (const e of doc.errors) {
      clean = false;
      const [start, end] = e.pos;
      const duplicate = e.code === "DUPLICATE_KEY";
      out.at(
        source,
        start,
        end,
        duplicate ? "language.yaml_duplicate_key" : "language.yaml_syntax",
        duplicate
          ? `duplicate key \`${keyAt(source.text, start)}\``
          : `yaml: ${firstLine(e.message)}`,
        duplicate
          ? { hint: "each key may appear once; later ones would silently win elsewhere" }
          : {},
      );
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

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message)
    .replace(/\s+at line \d+, column \d+.*$/, "")
    .replace(/\.$/, "");
}

// the key a duplicate-key error points at, as written
function keyAt(text: string, start: number): string {
  return /^["']?([^"':\n]*)/.exec(text.slice(start, start + 200))?.[1]?.trim() ?? "";
}
