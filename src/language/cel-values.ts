import type { MessageT } from "./cel-types.js";

// dyn representation: int = bigint, uint = CelUint, double = number, string, boolean, null,
// bytes = Uint8Array, list = Array, map = CelMap or a plain JSON object, type = CelType,
// object with a schema = CelObject. JSON input is already in this form (numbers are doubles).

/** Raised when an expression cannot be evaluated on an input (CEL error value). */
export class CelEvalError extends Error {
  override readonly name = "CelEvalError";
}

/** Throws a CEL evaluation error. */
export function fail(message: string): never {
  throw new CelEvalError(message);
}

/** Work left in the current evaluation: comprehension steps and container elements touched. */
export const budget = { left: 0 };

/** The work one evaluation may do before it fails. */
export const EVAL_BUDGET = 1_000_000;

/** Charges `n` units of work to the current evaluation. */
export function spend(n: number): void {
  budget.left -= n;
  if (budget.left < 0) checkBudget();
}

/** An error no `&&`, `||` or macro may absorb: the evaluation is abandoned. */
export class CelFatalError extends CelEvalError {}

/** Fails the evaluation once its budget is spent. */
export function checkBudget(): never {
  budget.left = 0;
  throw new CelFatalError("evaluation exceeded its budget of work");
}

/** A CEL `uint` in dynamic position. */
export class CelUint {
  constructor(readonly value: bigint) {}
  valueOf(): bigint {
    return this.value;
  }
}

/** A CEL type value, as `type(x)` returns; one instance per name. */
export class CelType {
  private static readonly byName = new Map<string, CelType>();
  private constructor(readonly name: string) {}
  static of(name: string): CelType {
    let t = CelType.byName.get(name);
    if (!t) {
      t = new CelType(name);
      CelType.byName.set(name, t);
    }
    return t;
  }
  toString(): string {
    return this.name;
  }
}

type Key = string | boolean | bigint;

/** A map built by an expression; keys are canonical so `1`, `1u` and `1.0` find the same entry. */
export class CelMap {
  readonly entries = new Map<Key, readonly [unknown, unknown]>();
  get size(): number {
    return this.entries.size;
  }
}

/** An object with a schema (message type) in dynamic position. */
export class CelObject {
  constructor(
    readonly type: MessageT,
    readonly raw: Record<string, unknown>,
  ) {}
}

/** The canonical map key of a dyn value, or undefined when it can never be a key. */
export function keyOf(k: unknown): Key | undefined {
  switch (typeof k) {
    case "string":
    case "boolean":
    case "bigint":
      return k;
    case "number":
      return Number.isInteger(k) ? BigInt(k) : undefined;
    default:
      return k instanceof CelUint ? k.value : undefined;
  }
}

/**
 * A value safe to treat as a plain JSON object (a map with string keys): one whose constructor is
 * `Object` (as `{}` and JSON.parse make them), or whose prototype is `Object.prototype` or null.
 * The constructor is read first: it costs a property read, where reading the prototype is a call
 * (input-proof.ts makes the same test).
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  if ((v as { constructor?: unknown }).constructor === Object) return true;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The CEL type of a dyn value. */
export function typeOfDyn(v: unknown): CelType {
  return CelType.of(dynTypeName(v));
}

/** The CEL type name of a dyn value; throws on values CEL has no type for. */
export function dynTypeName(v: unknown): string {
  switch (typeof v) {
    case "bigint":
      return "int";
    case "number":
      return "double";
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "object":
      if (v === null) return "null_type";
      if (Array.isArray(v)) return "list";
      if (v instanceof CelUint) return "uint";
      if (v instanceof Uint8Array) return "bytes";
      if (v instanceof CelType) return "type";
      if (v instanceof CelObject) return v.type.name;
      if (v instanceof CelMap || isPlainObject(v)) return "map";
  }
  return fail(`unsupported value of JavaScript type \`${typeof v}\``);
}

const MAX_DEPTH = 256;

const numeric = (v: unknown): number | bigint | undefined =>
  typeof v === "number" || typeof v === "bigint" ? v : v instanceof CelUint ? v.value : undefined;

/** CEL equality on dyn values: numbers compare by value across int, uint and double. */
export function eq(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return typeof a !== "number" || !Number.isNaN(a);
  if (depth > MAX_DEPTH) fail("value is nested too deeply");
  const x = numeric(a);
  if (x !== undefined) {
    const y = numeric(b);
    return y !== undefined && numCmp(x, y) === 0;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    spend(a.length);
    for (let i = 0; i < a.length; i++) if (!eq(a[i], b[i], depth + 1)) return false;
    return true;
  }
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (a instanceof CelType || b instanceof CelType) return false;
  if (a instanceof CelObject || b instanceof CelObject) {
    if (!(a instanceof CelObject && b instanceof CelObject) || a.type !== b.type) return false;
    return eqFields(a, b, depth);
  }
  if (Array.isArray(b) || b instanceof Uint8Array || b instanceof CelUint) return false;
  return eqMaps(a, b, depth);
}

// spec: an int or uint meets a double as a double (cel-go compareIntDouble)
function numCmp(x: number | bigint, y: number | bigint): number {
  if (typeof x !== typeof y) {
    x = Number(x);
    y = Number(y);
  }
  return x < y ? -1 : x > y ? 1 : x === y ? 0 : Number.NaN;
}

function entriesOf(m: object): [unknown, unknown][] {
  if (m instanceof CelMap) return [...m.entries.values()].map(([k, v]) => [k, v]);
  return Object.entries(m);
}

function lookup(m: object, k: unknown): { found: boolean; value: unknown } {
  if (m instanceof CelMap) {
    const key = keyOf(k);
    const e = key === undefined ? undefined : m.entries.get(key);
    return e ? { found: true, value: e[1] } : { found: false, value: undefined };
  }
  if (typeof k !== "string" || !Object.hasOwn(m, k)) return { found: false, value: undefined };
  return { found: true, value: (m as Record<string, unknown>)[k] };
}

function eqMaps(a: object, b: object, depth: number): boolean {
  const ea = entriesOf(a);
  if (ea.length !== entriesOf(b).length) return false;
  spend(ea.length);
  for (const [k, v] of ea) {
    const other = lookup(b, k);
    if (!other.found || !eq(v, other.value, depth + 1)) return false;
  }
  return true;
}

function eqFields(a: CelObject, b: CelObject, depth: number): boolean {
  for (const name of a.type.fields.keys()) {
    const ha = Object.hasOwn(a.raw, name);
    if (ha !== Object.hasOwn(b.raw, name)) return false;
    if (ha && !eq(a.raw[name], b.raw[name], depth + 1)) return false;
  }
  return true;
}

/** Looks a key up in a dyn map; `found` is false when absent. */
export const mapLookup = lookup;

/** Compares UTF-16 strings in code point order, as CEL (UTF-8 byte order) does. */
export function strCmp(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // surrogates encode code points above every other utf-16 unit
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function bytesCmp(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] ?? 0) < (b[i] ?? 0) ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** CEL ordering of two dyn values: -1, 0, 1, or NaN when a NaN takes part. */
export function cmp(a: unknown, b: unknown): number {
  const x = numeric(a);
  const y = numeric(b);
  if (x !== undefined && y !== undefined) return numCmp(x, y);
  if (typeof a === "string" && typeof b === "string") return strCmp(a, b);
  if (typeof a === "boolean" && typeof b === "boolean") return a === b ? 0 : a ? 1 : -1;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return bytesCmp(a, b);
  return fail(`no such overload: \`${dynTypeName(a)}\` < \`${dynTypeName(b)}\``);
}
