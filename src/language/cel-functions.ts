import { int, uint } from "./cel-convert.js";
import { CelUint, dynTypeName, fail } from "./cel-values.js";

// the CEL conversion functions: each takes a dyn value and returns the static representation

const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
const DECIMAL_INT = /^[+-]?\d+$/;
const DECIMAL_UINT = /^\+?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_FLOAT = /^[+-]?(inf|infinity|nan)$/i;

const noOverload = (fn: string, v: unknown): never =>
  fail(`no such overload: \`${fn}(${dynTypeName(v)})\``);

/** `int(x)`: truncates doubles toward zero; fails outside the 64-bit signed range. */
export function toInt(v: unknown): number | bigint {
  if (typeof v === "bigint") return int(v);
  if (v instanceof CelUint) return int(v.value);
  if (typeof v === "number") {
    // spec: the double must lie strictly inside the int64 range
    if (!Number.isFinite(v) || v >= TWO_63 || v <= -TWO_63) fail("int() range error");
    return int(BigInt(Math.trunc(v)));
  }
  if (typeof v === "string") {
    if (!DECIMAL_INT.test(v)) fail(`cannot convert \`${v}\` to int`);
    return int(BigInt(v));
  }
  return noOverload("int", v);
}

/** `uint(x)`: truncates doubles toward zero; fails outside the 64-bit unsigned range. */
export function toUint(v: unknown): number | bigint {
  if (typeof v === "bigint") return uint(v);
  if (v instanceof CelUint) return uint(v.value);
  if (typeof v === "number") {
    if (!Number.isFinite(v) || v >= TWO_64 || v <= -1) fail("uint() range error");
    return uint(BigInt(Math.trunc(v)));
  }
  if (typeof v === "string") {
    if (!DECIMAL_UINT.test(v)) fail(`cannot convert \`${v}\` to uint`);
    return uint(BigInt(v));
  }
  return noOverload("uint", v);
}

/** `double(x)`. */
export function toDouble(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof CelUint) return Number(v.value);
  if (typeof v === "string") {
    if (FLOAT.test(v)) return Number(v);
    if (SPECIAL_FLOAT.test(v))
      return /nan/i.test(v) ? Number.NaN : v.startsWith("-") ? -Infinity : Infinity;
    return fail(`cannot convert \`${v}\` to double`);
  }
  return noOverload("double", v);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** `string(x)`. */
export function toStr(v: unknown): string {
  switch (typeof v) {
    case "string":
      return v;
    case "boolean":
    case "bigint":
    case "number":
      return String(v);
  }
  if (v instanceof CelUint) return String(v.value);
  if (v instanceof Uint8Array) {
    try {
      return utf8.decode(v);
    } catch {
      return fail("invalid UTF-8 in bytes converted to string");
    }
  }
  return noOverload("string", v);
}

const TRUE = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const FALSE = new Set(["0", "f", "F", "false", "FALSE", "False"]);

/** `bool(x)`: accepts the spellings Go's `strconv.ParseBool` accepts. */
export function toBool(v: unknown): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    return fail(`type conversion error: cannot convert \`${v}\` to bool`);
  }
  return noOverload("bool", v);
}
