// RE2 (CEL `matches`) → JavaScript RegExp: a translation of the common subset; constructs that
// RE2 lacks (backreferences, lookaround) or that JavaScript reads differently are rejected, and
// so is nested repetition such as `(a+)+`, which backtracks catastrophically in JavaScript

/** A translated pattern, or why it cannot be used. */
export type RegexResult =
  | { readonly ok: true; readonly regex: RegExp }
  | { readonly ok: false; readonly message: string; readonly unsupported: boolean };

const SYNTAX = new Set("^$\\.*+?()[]{}|/");
const SPACE = "\\t\\n\\f\\r ";
const WORD = "0-9A-Za-z_";
const POSIX: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7f",
  blank: "\\t ",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: WORD,
  xdigit: "0-9A-Fa-f",
};
const MAX_REPEAT = 1000;

class Unsupported extends Error {}
class Invalid extends Error {}

/** Translates an RE2 pattern into an equivalent JavaScript RegExp (unicode mode). */
export function compileRegex(pattern: string): RegexResult {
  try {
    const { source, flags } = translate(pattern);
    return { ok: true, regex: new RegExp(source, `u${flags}`) };
  } catch (e) {
    const message =
      e instanceof Error ? e.message.replace(/^Invalid regular expression: /, "") : String(e);
    return { ok: false, message: message.toLowerCase(), unsupported: e instanceof Unsupported };
  }
}

function translate(p: string): { source: string; flags: string } {
  let i = 0;
  let flags = "";
  const lead = /^\(\?([imsU]+)\)/.exec(p);
  if (lead) {
    if (lead[1]?.includes("U")) throw new Unsupported("the `U` (ungreedy) flag is not supported");
    flags = [...new Set(lead[1])].join("");
    i = lead[0].length;
  }
  const dotAll = flags.includes("s");
  let out = "";
  // per open group: whether it holds an unbounded repetition
  const groups: { nested: boolean }[] = [];
  let last: { nested: boolean } | undefined;
  const mark = (nested: boolean) => {
    last = { nested };
  };

  while (i < p.length) {
    const c = p[i] as string;
    if (c === "\\") {
      const [js, len] = escapeAt(p, i, false);
      out += js;
      i += len;
      mark(false);
    } else if (c === "[") {
      const [js, len] = charClass(p, i);
      out += js;
      i += len;
      mark(false);
    } else if (c === "(") {
      if (p[i + 1] === "?") {
        const rest = p.slice(i + 2);
        if (rest.startsWith(":")) {
          out += "(?:";
          i += 3;
        } else if (rest.startsWith("P<") || (rest.startsWith("<") && /^<[A-Za-z_]/.test(rest))) {
          const skip = rest.startsWith("P") ? 2 : 1;
          out += "(?<";
          i += 2 + skip;
        } else if (/^(=|!|<=|<!)/.test(rest)) {
          throw new Unsupported("lookaround is not supported by RE2");
        } else {
          throw new Unsupported("inline flags are only supported at the start of the pattern");
        }
      } else {
        out += "(";
        i++;
      }
      groups.push({ nested: false });
      last = undefined;
    } else if (c === ")") {
      const g = groups.pop();
      if (!g) throw new Invalid("unmatched `)`");
      out += ")";
      i++;
      mark(g.nested);
    } else if (
      c === "*" ||
      c === "+" ||
      c === "?" ||
      (c === "{" && /^\{\d+(,\d*)?\}/.test(p.slice(i)))
    ) {
      const m = /^(\*|\+|\?|\{(\d+)(,(\d*))?\})(\?)?/.exec(p.slice(i)) as RegExpExecArray;
      if (!last) throw new Invalid("missing argument to repetition operator");
      const min = m[2] === undefined ? 0 : Number(m[2]);
      const max =
        m[2] === undefined
          ? c === "?"
            ? 1
            : Number.POSITIVE_INFINITY
          : m[3] === undefined
            ? min
            : m[4] === ""
              ? Number.POSITIVE_INFINITY
              : Number(m[4]);
      if (min > MAX_REPEAT || (max !== Number.POSITIVE_INFINITY && max > MAX_REPEAT) || max < min) {
        throw new Invalid(`bad repetition operator \`${m[1]}\``);
      }
      const repeats = max > 1;
      if (repeats && last.nested)
        throw new Unsupported("nested repetition (such as `(a+)+`) is not supported");
      out += m[0];
      i += m[0].length;
      if (repeats) for (const g of groups) g.nested = true;
      last = undefined;
    } else if (c === "{") {
      out += "\\{";
      i++;
      mark(false);
    } else if (c === "}") {
      out += "\\}";
      i++;
      mark(false);
    } else if (c === ".") {
      out += dotAll ? "[^]" : "[^\\n]";
      i++;
      mark(false);
    } else if (c === "|") {
      out += c;
      i++;
      last = undefined;
    } else if (c === "/") {
      out += "\\/";
      i++;
      mark(false);
    } else {
      const cp = p.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      out += ch;
      i += ch.length;
      if (c === "^" || c === "$") last = undefined;
      else mark(false);
    }
  }
  if (groups.length > 0) throw new Invalid("missing `)`");
  return { source: out, flags };
}

// one escape sequence at p[i] === "\\": its JavaScript form and its length in the pattern
function escapeAt(p: string, i: number, inClass: boolean): [string, number] {
  const c = p[i + 1];
  if (c === undefined) throw new Invalid("trailing `\\`");
  switch (c) {
    case "d":
    case "D":
      return [`\\${c}`, 2];
    case "w":
      return [inClass ? WORD : `[${WORD}]`, 2];
    case "s":
      return [inClass ? SPACE : `[${SPACE}]`, 2];
    case "W":
    case "S":
      if (inClass) throw new Unsupported(`\`\\${c}\` inside a character class is not supported`);
      return [c === "W" ? `[^${WORD}]` : `[^${SPACE}]`, 2];
    case "b":
    case "B":
      if (inClass) throw new Unsupported("`\\b` inside a character class is not supported");
      return [`\\${c}`, 2];
    case "A":
      if (inClass) throw new Invalid("`\\A` inside a character class");
      return ["(?<![^])", 2];
    case "z":
      if (inClass) throw new Invalid("`\\z` inside a character class");
      return ["(?![^])", 2];
    case "a":
      return ["\\x07", 2];
    case "f":
    case "n":
    case "r":
    case "t":
    case "v":
      return [`\\${c}`, 2];
    case "x": {
      const braced = /^\\x\{([0-9A-Fa-f]{1,6})\}/.exec(p.slice(i));
      if (braced) return [`\\u{${braced[1]}}`, braced[0].length];
      const two = /^\\x[0-9A-Fa-f]{2}/.exec(p.slice(i));
      if (two) return [two[0], 4];
      throw new Invalid("invalid escape sequence `\\x`");
    }
    case "p":
    case "P": {
      const m = /^\\[pP](\{\^?([A-Za-z_]+)\}|([A-Za-z]))/.exec(p.slice(i));
      if (!m) throw new Invalid(`invalid character class range \`\\${c}\``);
      const name = (m[2] ?? m[3]) as string;
      const negated = (c === "P") !== Boolean(m[1]?.startsWith("{^"));
      const prop = /^[A-Z][a-z]?$/.test(name) ? name : `Script=${name}`;
      return [`\\${negated ? "P" : "p"}{${prop}}`, m[0].length];
    }
    default:
      if (/[0-9]/.test(c)) throw new Unsupported("backreferences are not supported by RE2");
      if (/[A-Za-z]/.test(c)) throw new Unsupported(`escape \`\\${c}\` is not supported`);
      if (SYNTAX.has(c) || (inClass && c === "-")) return [`\\${c}`, 2];
      return [
        `\\u{${(p.codePointAt(i + 1) as number).toString(16)}}`,
        1 + String.fromCodePoint(p.codePointAt(i + 1) as number).length,
      ];
  }
}

function charClass(p: string, start: number): [string, number] {
  let i = start + 1;
  let out = "[";
  if (p[i] === "^") {
    out += "^";
    i++;
  }
  if (p[i] === "]") {
    out += "\\]";
    i++;
  }
  while (i < p.length && p[i] !== "]") {
    const c = p[i] as string;
    if (c === "\\") {
      const [js, len] = escapeAt(p, i, true);
      out += js;
      i += len;
    } else if (c === "[" && p[i + 1] === ":") {
      const m = /^\[:(\^)?([a-z]+):\]/.exec(p.slice(i));
      const set = m ? POSIX[m[2] as string] : undefined;
      if (!m || set === undefined) throw new Invalid("invalid character class range");
      if (m[1]) throw new Unsupported("negated posix classes are not supported");
      out += set;
      i += m[0].length;
    } else if (c === "[" || c === "/") {
      out += `\\${c}`;
      i++;
    } else {
      const ch = String.fromCodePoint(p.codePointAt(i) as number);
      out += ch;
      i += ch.length;
    }
  }
  if (p[i] !== "]") throw new Invalid("missing closing `]`");
  return [`${out}]`, i + 1 - start];
}
