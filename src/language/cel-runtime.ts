import { conv, int, toDyn, uint } from "./cel-convert.js";
import { compileRegex } from "./cel-regex.js";
import type { MessageT } from "./cel-types.js";
import {
  CelEvalError,
  CelFatalError,
  CelMap,
  CelObject,
  CelType,
  CelUint,
  checkBudget,
  cmp,
  dynTypeName,
  eq,
  fail,
  isPlainObject,
  keyOf,
  mapLookup,
  spend,
  strCmp,
} from "./cel-values.js";

// runtime helpers the generated code calls; every value here is in the dyn representation
// unless the name says otherwise (`*Int`, `*Uint` take and return static int representation)

type N = number | bigint;
const big = (v: N): bigint => (typeof v === "bigint" ? v : BigInt(v));

/** Turns anything thrown during evaluation into a CEL error value. */
export function caught(e: unknown): CelEvalError {
  if (e instanceof CelFatalError) throw e;
  if (e instanceof CelEvalError) return e;
  if (e instanceof RangeError) throw new CelFatalError("value is too deeply nested to evaluate");
  return new CelEvalError(e instanceof Error ? e.message : String(e));
}

/** What escapes an evaluation: always a CelEvalError. */
export function outside(e: unknown): CelEvalError {
  if (e instanceof CelEvalError) return e;
  if (e instanceof RangeError) return new CelEvalError("value is too deeply nested to evaluate");
  return new CelEvalError(e instanceof Error ? e.message : String(e));
}

/** The error value for a non-bool operand of `&&`, `||`, `!` or `?:`. */
export function notBool(v: unknown): CelEvalError {
  return v instanceof CelEvalError
    ? v
    : new CelEvalError(`expected \`bool\`, found \`${dynTypeName(v)}\``);
}

/** `l && r` once `l` is known not to be a bool: false absorbs errors. */
export function and(l: unknown, r: unknown): boolean {
  if (r === false) return false;
  throw notBool(l);
}

/** `l || r` once `l` is known not to be a bool: true absorbs errors. */
export function or(l: unknown, r: unknown): boolean {
  if (r === true) return true;
  throw notBool(l);
}

/** Checks a dyn value is a bool where CEL needs one. */
export function bool(v: unknown): boolean {
  return typeof v === "boolean" ? v : fail(`expected \`bool\`, found \`${dynTypeName(v)}\``);
}

export const addInt = (a: N, b: N) => int(big(a) + big(b));
export const subInt = (a: N, b: N) => int(big(a) - big(b));
export const mulInt = (a: N, b: N) => int(big(a) * big(b));
export const negInt = (a: N) => int(-big(a));
export function divInt(a: N, b: N): N {
  if (big(b) === 0n) fail("division by zero");
  return int(big(a) / big(b));
}
export function modInt(a: N, b: N): N {
  if (big(b) === 0n) fail("modulo by zero");
  return int(big(a) % big(b));
}
export const addUint = (a: N, b: N) => uint(big(a) + big(b));
export const subUint = (a: N, b: N) => uint(big(a) - big(b));
export const mulUint = (a: N, b: N) => uint(big(a) * big(b));
export function divUint(a: N, b: N): N {
  if (big(b) === 0n) fail("division by zero");
  return uint(big(a) / big(b));
}
export function modUint(a: N, b: N): N {
  if (big(b) === 0n) fail("modulo by zero");
  return uint(big(a) % big(b));
}

const noOverload = (op: string, a: unknown, b?: unknown): never =>
  fail(
    b === undefined && op.length === 1
      ? `no such overload: \`${op}${dynTypeName(a)}\``
      : `no such overload: \`${dynTypeName(a)}\` ${op} \`${dynTypeName(b)}\``,
  );

const dynInt = (v: bigint): bigint => big(int(v));
const dynUint = (v: bigint): CelUint => new CelUint(big(uint(v)));

/** Arithmetic on dyn values: `+ - * / %`. */
export function arith(op: string, a: unknown, b: unknown): unknown {
  if (typeof a === "bigint" && typeof b === "bigint") {
    if (op === "+") return dynInt(a + b);
    if (op === "-") return dynInt(a - b);
    if (op === "*") return dynInt(a * b);
    if (op === "/") return big(divInt(a, b));
    if (op === "%") return big(modInt(a, b));
  }
  if (a instanceof CelUint && b instanceof CelUint) {
    if (op === "+") return dynUint(a.value + b.value);
    if (op === "-") return dynUint(a.value - b.value);
    if (op === "*") return dynUint(a.value * b.value);
    if (op === "/") return new CelUint(big(divUint(a.value, b.value)));
    if (op === "%") return new CelUint(big(modUint(a.value, b.value)));
  }
  if (typeof a === "number" && typeof b === "number") {
    if (op === "+") return a + b;
    if (op === "-") return a - b;
    if (op === "*") return a * b;
    if (op === "/") return a / b;
  }
  if (op === "+") {
    if (typeof a === "string" && typeof b === "string") return a + b;
    if (Array.isArray(a) && Array.isArray(b)) return concat(a, b);
    if (a instanceof Uint8Array && b instanceof Uint8Array) {
      const out = new Uint8Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    }
  }
  return noOverload(op, a, b);
}

/** Unary minus on a dyn value. */
export function neg(a: unknown): unknown {
  if (typeof a === "bigint") return dynInt(-a);
  if (typeof a === "number") return -a;
  return noOverload("-", a);
}

/** Logical not on a dyn value. */
export function not(a: unknown): boolean {
  return typeof a === "boolean" ? !a : noOverload("!", a);
}

/** List concatenation, charged to the evaluation budget. */
export function concat(a: readonly unknown[], b: readonly unknown[]): unknown[] {
  spend(a.length + b.length);
  return [...a, ...b];
}

/** `size()` of a dyn value, as a static int. */
export function size(v: unknown): number {
  if (typeof v === "string") return strSize(v);
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length;
  if (v instanceof CelMap) return v.size;
  if (isPlainObject(v)) return Object.keys(v).length;
  return fail(`no such overload: \`size(${dynTypeName(v)})\``);
}

/** String length in code points. */
export function strSize(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** `x in list` on dyn values. */
export function inList(x: unknown, list: unknown): boolean {
  if (!Array.isArray(list)) return hasKey(list, x);
  spend(list.length);
  for (const e of list) if (eq(x, e)) return true;
  return false;
}

/** `k in map` on dyn values. */
export function hasKey(m: unknown, k: unknown): boolean {
  if (m instanceof CelMap || isPlainObject(m)) return mapLookup(m, k).found;
  return fail(`no such overload: \`${dynTypeName(k)}\` in \`${dynTypeName(m)}\``);
}

/** Builds a map from a literal; keys are dyn values, values any representation. */
export function makeMap(keys: readonly unknown[], values: readonly unknown[]): CelMap {
  const m = new CelMap();
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const key = typeof k === "number" ? undefined : keyOf(k);
    if (key === undefined) fail(`unsupported map key type \`${dynTypeName(k)}\``);
    if (m.entries.has(key)) fail(`repeated map key \`${String(k)}\``);
    m.entries.set(key, [k, values[i]]);
  }
  return m;
}

/** The keys of a map (as dyn values) or the elements of a list, for a comprehension. */
export function range(v: unknown): readonly unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof CelMap) return [...v.entries.values()].map((e) => e[0]);
  if (isPlainObject(v)) return Object.keys(v);
  return fail(`expression of type \`${dynTypeName(v)}\` cannot be the range of a comprehension`);
}

/** `m[k]` on a map in any representation: the stored value, or `no such key`. */
export function mapGet(m: unknown, k: unknown): unknown {
  const hit = mapLookup(m as object, k);
  return hit.found ? hit.value : fail(`no such key: \`${String(k)}\``);
}

/** `l[i]` with a static int index: the stored element, or `index out of range`. */
export function listGet(l: readonly unknown[], i: N): unknown {
  if (typeof i !== "number" || i < 0 || i >= l.length) fail(`index out of range: \`${i}\``);
  return l[i];
}

/** A declared field of an object that may be absent: `no such key` when it is. */
export function field(o: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(o, name) ? o[name] : fail(`no such key: \`${name}\``);
}

/** `x.f` on a dyn value. */
export function dynField(x: unknown, name: string): unknown {
  if (x instanceof CelObject) return objectField(x, name);
  if (x instanceof CelMap || isPlainObject(x)) return mapGet(x, name);
  return fail(`type \`${dynTypeName(x)}\` does not support field selection`);
}

function objectField(x: CelObject, name: string): unknown {
  const t = declared(x.type, name);
  return toDyn(t)(conv(t)(field(x.raw, name)));
}

function declared(t: MessageT, name: string) {
  return t.fields.get(name) ?? fail(`no such field \`${name}\` in \`${t.name}\``);
}

/** `x[k]` on a dyn value. */
export function dynIndex(x: unknown, k: unknown): unknown {
  if (Array.isArray(x)) {
    const i = typeof k === "bigint" ? k : k instanceof CelUint ? k.value : undefined;
    const n = typeof k === "number" && Number.isInteger(k) ? BigInt(k) : i;
    if (n === undefined) return fail(`no such overload: \`list[${dynTypeName(k)}]\``);
    if (n < 0n || n >= BigInt(x.length)) fail(`index out of range: \`${n}\``);
    return x[Number(n)];
  }
  if (x instanceof CelObject && typeof k === "string") return objectField(x, k);
  if (x instanceof CelMap || isPlainObject(x)) return mapGet(x, k);
  return fail(`no such overload: \`${dynTypeName(x)}[${dynTypeName(k)}]\``);
}

/** `has(x.f)` on a dyn value. */
export function dynHas(x: unknown, name: string): boolean {
  if (x instanceof CelObject) return declared(x.type, name) && Object.hasOwn(x.raw, name);
  if (x instanceof CelMap || isPlainObject(x)) return mapLookup(x, name).found;
  return fail(`type \`${dynTypeName(x)}\` does not support field selection`);
}

const str = (v: unknown, fn: string): string =>
  typeof v === "string" ? v : fail(`no such overload: \`${dynTypeName(v)}.${fn}()\``);

/** `s.contains(t)` on dyn values. */
export const contains = (s: unknown, t: unknown) => str(s, "contains").includes(str(t, "contains"));
/** `s.startsWith(t)` on dyn values. */
export const startsWith = (s: unknown, t: unknown) =>
  str(s, "startsWith").startsWith(str(t, "startsWith"));
/** `s.endsWith(t)` on dyn values. */
export const endsWith = (s: unknown, t: unknown) => str(s, "endsWith").endsWith(str(t, "endsWith"));

const regexCache = new Map<string, RegExp>();

/** `s.matches(re)` with a pattern known only at run time. */
export function matches(s: unknown, p: unknown): boolean {
  const pattern = str(p, "matches");
  let re = regexCache.get(pattern);
  if (!re) {
    const r = compileRegex(pattern);
    if (!r.ok) fail(`invalid regular expression \`${pattern}\`: ${r.message}`);
    re = r.regex;
    if (regexCache.size > 256) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re.test(str(s, "matches"));
}

/** A stored field read as `undefined` is absent: `no such key`; anything else is converted. */
export function present(v: unknown, name: string, c: (v: unknown) => unknown): unknown {
  return v === undefined ? fail(`no such key: \`${name}\``) : c(v);
}

/** A dyn list index as a static int: ints, uints and whole doubles. */
export function index(k: unknown): N {
  if (typeof k === "bigint") return int(k);
  if (k instanceof CelUint) return uint(k.value);
  if (typeof k === "number" && Number.isInteger(k)) return int(BigInt(k));
  return fail(`no such overload: \`list[${dynTypeName(k)}]\``);
}

/** `s in list` for a list of strings, checking each element is one. */
export function inStrings(s: string, list: readonly unknown[]): boolean {
  spend(list.length);
  // by index, never an iterator the input may carry
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    if (e === s) return true;
    if (typeof e !== "string") fail(`expected \`string\`, found \`${dynTypeName(e)}\``);
  }
  return false;
}

/** An array of at most `max` strings (a proven operand of a total `in`, cel-total.ts). */
export function isStringList(v: unknown, max: number): boolean {
  if (!Array.isArray(v) || v.length > max) return false;
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== "string") return false;
  return true;
}

/** A condition's result: a bool, or the error of a condition that gave something else. */
export function toCondition(v: unknown): boolean {
  if (typeof v !== "boolean")
    throw new CelEvalError(`condition gave ${v === null ? "null" : typeof v}, not a bool`);
  return v;
}

/** Shared helpers generated code calls directly. */
export { checkBudget, cmp, eq, str, strCmp };

/** The type value of a dyn value. */
export const typeOf = (v: unknown): CelType => CelType.of(dynTypeName(v));
