import { SteleError } from "../errors.js";

const MAX_DEPTH = 32;
const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
// spec: RFC 8259 §6 and §7, anchored with the sticky flag at the cursor
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// invariant: the first class is every code unit from U+0020 up except `"` and `\`
const STRING = /"(?:[ !#-[\]-\uffff]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/**
 * Parses JSON like `JSON.parse`, but refuses duplicate object keys (`trust.duplicate_key_json`),
 * which `JSON.parse` silently resolves to the last one: a signer and a verifier must never read
 * two different values out of the same signed bytes.
 */
export function parseStrictJson(text: string, what: string): unknown {
  // untrusted: the text is whatever arrived; it is only as good as the signature checked over it
  let at = 0;
  const fail = (why: string) =>
    new SteleError("trust.bad_envelope", `${what} is not valid JSON: ${why} at offset ${at}`);
  const skip = () => {
    while (at < text.length && WHITESPACE.has(text.charAt(at))) at++;
  };
  const expect = (token: string) => {
    if (!text.startsWith(token, at)) throw fail(`expected \`${token}\``);
    at += token.length;
  };
  const string = (): string => {
    STRING.lastIndex = at;
    const match = STRING.exec(text);
    if (!match) throw fail("expected a string");
    at = STRING.lastIndex;
    return JSON.parse(match[0]) as string;
  };
  const value = (depth: number): unknown => {
    if (depth > MAX_DEPTH) throw fail(`nested deeper than ${MAX_DEPTH}`);
    skip();
    const c = text.charAt(at);
    if (c === "{") {
      at++;
      const out: Record<string, unknown> = {};
      const seen = new Set<string>();
      skip();
      if (text.charAt(at) === "}") {
        at++;
        return out;
      }
      for (;;) {
        skip();
        const key = string();
        if (seen.has(key)) {
          throw new SteleError(
            "trust.duplicate_key_json",
            `${what} has the key \`${key.slice(0, 48)}\` twice`,
            { hint: "signed JSON must name each key once; re-create it with `stele approve`" },
          );
        }
        seen.add(key);
        skip();
        expect(":");
        // invariant: defineProperty, so a `__proto__` key is plain data and never a prototype
        Object.defineProperty(out, key, {
          value: value(depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        skip();
        if (text.charAt(at) === ",") {
          at++;
          continue;
        }
        expect("}");
        return out;
      }
    }
    if (c === "[") {
      at++;
      const out: unknown[] = [];
      skip();
      if (text.charAt(at) === "]") {
        at++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        skip();
        if (text.charAt(at) === ",") {
          at++;
          continue;
        }
        expect("]");
        return out;
      }
    }
    if (c === '"') return string();
    for (const [word, literal] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, at)) {
        at += word.length;
        return literal;
      }
    }
    NUMBER.lastIndex = at;
    const number = NUMBER.exec(text);
    if (!number) throw fail("unexpected character");
    at = NUMBER.lastIndex;
    return Number(number[0]);
  };
  const result = value(0);
  skip();
  if (at !== text.length) throw fail("trailing text");
  return result;
}
