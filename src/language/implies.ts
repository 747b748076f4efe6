import { type ASTNode, parse } from "@marcbachmann/cel-js";

/**
 * Whether condition `b` holds wherever condition `a` does: a sound, incomplete proof on the two
 * conditions' syntax (false whenever it cannot tell). It holds both when "holds" means "is true"
 * (an allow rule matches) and when it means "is true or fails" (a deny rule denies, since a
 * failed condition never allows): each step below keeps both.
 */
export function conditionImplies(a: string, b: string): boolean {
  let x: ASTNode;
  let y: ASTNode;
  try {
    x = parse(a).ast;
    y = parse(b).ast;
  } catch {
    return false;
  }
  return implies(x, y);
}

// comparisons of one side against a number, with the side on the left
type Bound = { readonly side: ASTNode; readonly op: "<" | "<=" | ">" | ">="; readonly n: number };
const FLIPPED = { "<": ">", "<=": ">=", ">": "<", ">=": "<=" } as const;

function implies(a: ASTNode, b: ASTNode): boolean {
  if (same(a, b)) return true;
  // `true` holds everywhere; `false` holds nowhere, so it implies anything
  if (b.op === "value" && b.args === true) return true;
  if (a.op === "value" && a.args === false) return true;
  // a || … holds where either side does: each side must imply b
  if (a.op === "||") return implies(a.args[0], b) && implies(a.args[1], b);
  // b && …: a must imply each side
  if (b.op === "&&") return implies(a, b.args[0]) && implies(a, b.args[1]);
  // b || …: a implying either side is enough
  if (b.op === "||" && (implies(a, b.args[0]) || implies(a, b.args[1]))) return true;
  // a && …: either side implying b is enough (where a holds, neither side is false)
  if (a.op === "&&" && (implies(a.args[0], b) || implies(a.args[1], b))) return true;
  return atom(a, b);
}

// one comparison implying another of the same operand
function atom(a: ASTNode, b: ASTNode): boolean {
  // x in [..] / x == c  ⇒  x in [more]
  const from = members(a);
  if (from && b.op === "in" && b.args[1].op === "list" && same(from.x, b.args[0])) {
    const to = b.args[1].args;
    return from.values.every((v) => to.some((w) => same(v, w)));
  }
  // x > n ⇒ x > m (m ≤ n), and the like
  const p = bound(a);
  const q = bound(b);
  if (!p || !q || !same(p.side, q.side)) return false;
  const up = (op: Bound["op"]) => op === ">" || op === ">=";
  if (up(p.op) !== up(q.op)) return false;
  // as a lower bound: x > n is x ≥ n⁺; the same the other way round
  if (up(p.op)) return q.n < p.n || (q.n === p.n && (q.op === ">=" || p.op === ">"));
  return q.n > p.n || (q.n === p.n && (q.op === "<=" || p.op === "<"));
}

// `x in [literals]` or `x == literal`: x and the literal values
function members(a: ASTNode): { x: ASTNode; values: readonly ASTNode[] } | undefined {
  if (a.op === "in" && a.args[1].op === "list" && a.args[1].args.every(isLiteral))
    return { x: a.args[0], values: a.args[1].args };
  if (a.op === "==") {
    const [l, r] = a.args;
    if (isLiteral(r)) return { x: l, values: [r] };
    if (isLiteral(l)) return { x: r, values: [l] };
  }
  return undefined;
}

function bound(a: ASTNode): Bound | undefined {
  if (a.op !== "<" && a.op !== "<=" && a.op !== ">" && a.op !== ">=") return undefined;
  const [l, r] = a.args;
  const n = (x: ASTNode) =>
    x.op === "value" && (typeof x.args === "number" || typeof x.args === "bigint")
      ? Number(x.args)
      : undefined;
  const right = n(r);
  if (right !== undefined && Number.isFinite(right)) return { side: l, op: a.op, n: right };
  const left = n(l);
  if (left !== undefined && Number.isFinite(left)) return { side: r, op: FLIPPED[a.op], n: left };
  return undefined;
}

const isLiteral = (x: ASTNode) => x.op === "value";

// the same expression, whatever its spacing (nodes compared by operator and operands)
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array)
    return (
      a instanceof Uint8Array &&
      b instanceof Uint8Array &&
      a.length === b.length &&
      a.every((x, i) => x === b[i])
    );
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (typeof a === "object" && a !== null && b !== null && "op" in a && "args" in (b as object)) {
    const x = a as ASTNode;
    const y = b as ASTNode;
    return x.op === y.op && same(x.args, y.args);
  }
  return false;
}
