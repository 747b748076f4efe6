import { CelMap, CelObject, CelType, CelUint, isPlainObject } from "./cel-values.js";

// helpers for the CEL tests: a canonical text for dyn values (type-exact, so `1`, `1u` and
// `1.0` differ) that also reads the library's own value representation

/** Canonical text of a CEL value in the dyn representation or the library's representation. */
export function canon(v: unknown): string {
  switch (typeof v) {
    case "bigint":
      return `${v}`;
    case "number":
      return Number.isNaN(v)
        ? "NaN"
        : Number.isInteger(v) && Math.abs(v) < 1e21
          ? `${v}.0`
          : `${v}`;
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return String(v);
    case "undefined":
      return "undefined";
  }
  if (v === null) return "null";
  if (v instanceof CelUint) return `${v.value}u`;
  // the library's UnsignedInt and Type
  const ctor = (v as object).constructor?.name;
  if (ctor === "UnsignedInt") return `${(v as { valueOf(): bigint }).valueOf()}u`;
  if (v instanceof CelType) return `type(${v.name})`;
  if (ctor === "Type") return `type(${(v as { name: string }).name})`;
  if (v instanceof Uint8Array) return `b"${Buffer.from(v).toString("hex")}"`;
  if (Array.isArray(v)) return `[${v.map(canon).join(", ")}]`;
  if (v instanceof CelObject) return canon(v.raw);
  let entries: [unknown, unknown][] | undefined;
  if (v instanceof CelMap) entries = [...v.entries.values()].map(([k, x]) => [k, x]);
  else if (v instanceof Map) entries = [...v.entries()];
  else if (isPlainObject(v)) entries = Object.entries(v);
  if (entries) {
    const items = entries.map(([k, x]) => `${canon(k)}: ${canon(x)}`).sort();
    return `{${items.join(", ")}}`;
  }
  return `<${ctor ?? typeof v}>`;
}
