import { type CelT, typeName } from "./cel-types.js";
import {
  CelMap,
  CelObject,
  CelType,
  CelUint,
  dynTypeName,
  fail,
  isPlainObject,
  keyOf,
} from "./cel-values.js";

// static representation: int and uint are a number when a safe integer, else a bigint (never a
// safe integer as a bigint, so `===` is equality); double = number; lists, maps and objects are
// the JSON (or built) containers themselves, their elements checked as they are read

/** A function from one representation of a value to another; throws on a type mismatch. */
export type Conv = (v: unknown) => unknown;

const INT_MIN = -(2n ** 63n);
const INT_MAX = 2n ** 63n - 1n;
const UINT_MAX = 2n ** 64n - 1n;

/** Canonical int: throws `integer overflow` outside the 64-bit signed range. */
export function int(v: bigint): number | bigint {
  if (v < INT_MIN || v > INT_MAX) fail("integer overflow");
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

/** Canonical uint: throws `unsigned integer overflow` outside the 64-bit unsigned range. */
export function uint(v: bigint): number | bigint {
  if (v < 0n || v > UINT_MAX) fail("unsigned integer overflow");
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

const mismatch = (t: CelT, v: unknown): never =>
  fail(`expected \`${typeName(t)}\`, found \`${describe(v)}\``);

function describe(v: unknown): string {
  try {
    return dynTypeName(v);
  } catch {
    return typeof v;
  }
}

const convs = new WeakMap<CelT, Conv>();
const toDyns = new WeakMap<CelT, Conv>();
const fromDyns = new WeakMap<CelT, Conv>();

function cached(table: WeakMap<CelT, Conv>, t: CelT, make: () => Conv): Conv {
  let f = table.get(t);
  if (!f) {
    // recursive types: a forwarding stub until the real function exists
    let real: Conv | undefined;
    table.set(t, (v) => (real as Conv)(v));
    real = make();
    table.set(t, real);
    f = real;
  }
  return f;
}

/** Reads a JSON value, a static value or a dyn value of type `t` into the static representation. */
export function conv(t: CelT): Conv {
  return cached(convs, t, () => makeConv(t));
}

function makeConv(t: CelT): Conv {
  switch (t.kind) {
    case "int":
      return (v) => {
        if (typeof v === "number") {
          if (Number.isSafeInteger(v)) return v;
          // untrusted: a json number in an int field must be a whole number in range
          if (!Number.isInteger(v))
            return fail(`expected \`int\`, found non-integer number \`${v}\``);
          return int(BigInt(v));
        }
        return typeof v === "bigint" ? int(v) : mismatch(t, v);
      };
    case "uint":
      return (v) => {
        if (typeof v === "number" && Number.isInteger(v)) return uint(BigInt(v));
        if (typeof v === "bigint") return uint(v);
        return v instanceof CelUint ? uint(v.value) : mismatch(t, v);
      };
    case "double":
      return (v) => (typeof v === "number" ? v : mismatch(t, v));
    case "string":
      return (v) => (typeof v === "string" ? v : mismatch(t, v));
    case "bool":
      return (v) => (typeof v === "boolean" ? v : mismatch(t, v));
    case "null":
      return (v) => (v === null ? v : mismatch(t, v));
    case "bytes":
      return (v) => (v instanceof Uint8Array ? v : mismatch(t, v));
    case "type":
      return (v) => (v instanceof CelType ? v : mismatch(t, v));
    case "dyn":
      return checkDyn;
    case "list":
      return (v) => (Array.isArray(v) ? v : mismatch(t, v));
    case "map":
      return (v) => (v instanceof CelMap || isPlainObject(v) ? v : mismatch(t, v));
    case "message":
      return (v) => {
        if (v instanceof CelObject) return v.type === t ? v.raw : mismatch(t, v);
        return isPlainObject(v) ? v : mismatch(t, v);
      };
  }
}

/** Accepts any value CEL has a type for. */
export function checkDyn(v: unknown): unknown {
  if (v === undefined || typeof v === "function" || typeof v === "symbol") {
    return fail(`unsupported value of JavaScript type \`${typeof v}\``);
  }
  return v;
}

/** Converts a static value of type `t` to the dyn representation (deeply, for containers). */
export function toDyn(t: CelT): Conv {
  return cached(toDyns, t, () => makeToDyn(t));
}

const identity: Conv = (v) => v;

function makeToDyn(t: CelT): Conv {
  switch (t.kind) {
    case "int":
      return (v) => (typeof v === "number" ? BigInt(v) : v);
    case "uint":
      return (v) => new CelUint(BigInt(v as number | bigint));
    case "list": {
      if (t.elem.kind === "dyn") return identity;
      const c = conv(t.elem);
      const d = toDyn(t.elem);
      return (v) => (v as unknown[]).map((e) => d(c(e)));
    }
    case "map": {
      if (t.key.kind === "dyn" && t.value.kind === "dyn") return identity;
      const ck = conv(t.key);
      const dk = toDyn(t.key);
      const cv = conv(t.value);
      const dv = toDyn(t.value);
      return (v) => {
        const out = new CelMap();
        const entries = v instanceof CelMap ? v.entries.values() : Object.entries(v as object);
        for (const [k, x] of entries) {
          const key = dk(ck(k));
          out.entries.set(keyOf(key) as string, [key, dv(cv(x))]);
        }
        return out;
      };
    }
    case "message":
      return (v) => new CelObject(t, v as Record<string, unknown>);
    default:
      return identity;
  }
}

/** Narrows a dyn value to the static representation of `t`, checking its runtime type. */
export function fromDyn(t: CelT): Conv {
  return cached(fromDyns, t, () => makeFromDyn(t));
}

function makeFromDyn(t: CelT): Conv {
  switch (t.kind) {
    case "int":
      return (v) => (typeof v === "bigint" ? int(v) : mismatch(t, v));
    case "uint":
      return (v) => (v instanceof CelUint ? uint(v.value) : mismatch(t, v));
    case "list": {
      if (t.elem.kind === "dyn") return conv(t);
      const f = fromDyn(t.elem);
      return (v) => (Array.isArray(v) ? v.map(f) : mismatch(t, v));
    }
    case "map": {
      if (t.key.kind === "dyn" && t.value.kind === "dyn") return conv(t);
      const fk = fromDyn(t.key);
      const fv = fromDyn(t.value);
      return (v) => {
        if (!(v instanceof CelMap || isPlainObject(v))) return mismatch(t, v);
        const out = new CelMap();
        const entries = v instanceof CelMap ? v.entries.values() : Object.entries(v);
        for (const [k, x] of entries) {
          fk(k);
          out.entries.set(keyOf(k) as string, [k, fv(x)]);
        }
        return out;
      };
    }
    case "message":
      return (v) => (v instanceof CelObject && v.type === t ? v.raw : mismatch(t, v));
    default:
      return conv(t);
  }
}
