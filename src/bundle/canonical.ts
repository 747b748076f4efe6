import { SteleError } from "../errors.js";

/**
 * Canonical JSON text (RFC 8785 JCS for the values Stele writes): object keys sorted by UTF-16
 * code units, no insignificant white space, numbers in ECMAScript form. The same value always
 * gives the same bytes, whatever key order it was built in.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, 0);
  return out.join("");
}

function write(value: unknown, out: string[], depth: number): void {
  if (depth > 256) throw new SteleError("bundle.malformed", "value nests too deeply for a bundle");
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    out.push(JSON.stringify(value));
  } else if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new SteleError("bundle.malformed", `cannot encode the number \`${value}\``);
    out.push(JSON.stringify(value));
  } else if (Array.isArray(value)) {
    out.push("[");
    value.forEach((item, i) => {
      if (i > 0) out.push(",");
      write(item, out, depth + 1);
    });
    out.push("]");
  } else if (typeof value === "object") {
    out.push("{");
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    keys.forEach((key, i) => {
      if (i > 0) out.push(",");
      out.push(JSON.stringify(key), ":");
      write((value as Record<string, unknown>)[key], out, depth + 1);
    });
    out.push("}");
  } else {
    throw new SteleError("bundle.malformed", `cannot encode a ${typeof value} in a bundle`);
  }
}
