import type { ASTNode } from "@marcbachmann/cel-js";
import type { Gen, Val } from "./cel-codegen.js";
import { type CelT, T } from "./cel-types.js";

// binary operators: fast paths where both static types are known, full CEL semantics through
// the dyn runtime otherwise

const NUMERIC = new Set(["int", "uint", "double"]);
const SAME_EQ = new Set(["string", "bool", "null", "type"]);
const MAX_INLINE_IN = 8;

/** Compiles `left op right`. */
export function genBinary(g: Gen, op: string, left: ASTNode, right: ASTNode, node: ASTNode): Val {
  if (op === "in") return genIn(g, left, right);
  const a = g.value(left);
  const b = g.value(right);
  switch (op) {
    case "==":
      return genEq(g, a, b, false);
    case "!=":
      return genEq(g, a, b, true);
    case "<":
    case "<=":
    case ">":
    case ">=":
      return genCompare(g, op, a, b);
    default:
      return genArith(g, op, a, b, node);
  }
}

function genEq(g: Gen, a: Val, b: Val, negate: boolean): Val {
  const not = negate ? "!" : "";
  const ka = a.t.kind;
  const kb = b.t.kind;
  if (ka === kb && SAME_EQ.has(ka))
    return g.let(`${a.js} ${negate ? "!==" : "==="} ${b.js}`, T.bool);
  if (NUMERIC.has(ka) && NUMERIC.has(kb)) {
    // canonical ints: a bigint only outside the safe range, so === is equality
    const [x, y] = numericPair(a, b);
    return g.let(`${x} ${negate ? "!==" : "==="} ${y}`, T.bool);
  }
  // a dyn operand against a string: compare strings directly, else the full rule
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    if (x.t.kind === "dyn" && y.t.kind === "string") {
      return g.let(
        `${not}(typeof ${x.js} === "string" ? ${x.js} === ${y.js} : rt.eq(${x.js}, ${y.js}))`,
        T.bool,
      );
    }
  }
  return g.let(`${not}rt.eq(${g.toDyn(a).js}, ${g.toDyn(b).js})`, T.bool);
}

function genCompare(g: Gen, op: string, a: Val, b: Val): Val {
  const ka = a.t.kind;
  const kb = b.t.kind;
  if (NUMERIC.has(ka) && NUMERIC.has(kb)) {
    const [x, y] = numericPair(a, b);
    return g.let(`${x} ${op} ${y}`, T.bool);
  }
  if (ka === "string" && kb === "string")
    return g.let(`rt.strCmp(${a.js}, ${b.js}) ${op} 0`, T.bool);
  if (ka === "bool" && kb === "bool") return g.let(`${a.js} ${op} ${b.js}`, T.bool);
  return g.let(`rt.cmp(${g.toDyn(a).js}, ${g.toDyn(b).js}) ${op} 0`, T.bool);
}

// spec: an int or uint meets a double as a double; int meets uint exactly (both canonical)
function numericPair(a: Val, b: Val): [string, string] {
  if ((a.t.kind === "double") === (b.t.kind === "double")) return [a.js, b.js];
  return a.t.kind === "double" ? [a.js, `Number(${b.js})`] : [`Number(${a.js})`, b.js];
}

const INT_FAST: Record<string, (a: string, b: string, t: string) => string> = {
  "+": (a, b, t) => `Number.isSafeInteger(${t} = ${a} + ${b})`,
  "-": (a, b, t) => `Number.isSafeInteger(${t} = ${a} - ${b})`,
  "*": (a, b, t) => `Number.isSafeInteger(${t} = ${a} * ${b} + 0)`,
  "/": (a, b, t) => `${b} !== 0 && ((${t} = (${a} - ${a} % ${b}) / ${b} + 0), true)`,
  "%": (a, b, t) => `${b} !== 0 && ((${t} = ${a} % ${b} + 0), true)`,
};
const SLOW: Record<string, string> = { "+": "add", "-": "sub", "*": "mul", "/": "div", "%": "mod" };

function genArith(g: Gen, op: string, a: Val, b: Val, node: ASTNode): Val {
  const ka = a.t.kind;
  if (ka === b.t.kind && (ka === "int" || ka === "uint")) {
    const t = g.tmp();
    const fast = (INT_FAST[op] as (a: string, b: string, t: string) => string)(a.js, b.js, t);
    const sign = ka === "uint" ? ` && ${t} >= 0` : "";
    const slow = `rt.${SLOW[op]}${ka === "int" ? "Int" : "Uint"}(${a.js}, ${b.js})`;
    g.emit(
      `${t} = typeof ${a.js} === "number" && typeof ${b.js} === "number" && ${fast}${sign} ? ${t} : ${slow};`,
    );
    return { js: t, t: a.t };
  }
  if (ka === "double" && b.t.kind === "double" && op !== "%")
    return g.let(`${a.js} ${op} ${b.js}`, T.double);
  if (ka === "string" && b.t.kind === "string" && op === "+")
    return g.let(`${a.js} + ${b.js}`, T.string);
  if (ka === "list" && b.t.kind === "list" && op === "+") {
    // both sides in the result's element representation
    const t = g.checked(node) ?? { kind: "list", elem: T.dyn };
    return g.let(`rt.concat(${g.coerce(a, t).js}, ${g.coerce(b, t).js})`, t);
  }
  return g.let(`rt.arith(${JSON.stringify(op)}, ${g.toDyn(a).js}, ${g.toDyn(b).js})`, T.dyn);
}

function genIn(g: Gen, left: ASTNode, right: ASTNode): Val {
  const x = g.value(left);
  // `x in ['a', 'b']`: compare against the literal strings directly
  if (
    right.op === "list" &&
    right.args.length > 0 &&
    right.args.every((e) => e.op === "value" && typeof e.args === "string")
  ) {
    const words = right.args.map((e) => e.args as string);
    if (x.t.kind === "string" || x.t.kind === "dyn") {
      const test =
        words.length <= MAX_INLINE_IN
          ? words.map((w) => `${x.js} === ${JSON.stringify(w)}`).join(" || ")
          : `${g.k(new Set(words))}.has(${x.js})`;
      // a non-string dyn value can equal no string: false, as CEL's heterogeneous equality says
      return g.let(
        x.t.kind === "string" ? test : `typeof ${x.js} === "string" && (${test})`,
        T.bool,
      );
    }
  }
  const r = g.value(right);
  if (r.t.kind === "list") {
    if (x.t.kind === "string" && r.t.elem.kind === "string")
      return g.let(`rt.inStrings(${x.js}, ${r.js})`, T.bool);
    return g.let(`rt.inList(${g.toDyn(x).js}, ${g.toDyn(r).js})`, T.bool);
  }
  if (r.t.kind === "map") return g.let(`rt.hasKey(${r.js}, ${g.toDyn(x).js})`, T.bool);
  return g.let(`rt.inList(${g.toDyn(x).js}, ${r.js})`, T.bool);
}

/** The element type of a list or key type of a map a comprehension ranges over. */
export function rangeElem(t: CelT): CelT {
  if (t.kind === "list") return t.elem;
  if (t.kind === "map") return t.key;
  return T.dyn;
}
