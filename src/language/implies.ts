import { type ASTNode, parse } from "@marcbachmann/cel-js";

/**
 * Whether condition `b` holds wherever condition `a` does: a sound, incomplete proof on the two
 * conditions' syntax (false whenever it cannot tell). It holds both when "holds" means "is true"
 * (an allow rule matches) and when it means "is true or fails" (a deny rule denies, since a
 * failed condition never allows): each step below keeps both. `exact`: moreover, `b` fails
 * wherever `a` does, for a deny rule an exception may waive (a failing deny is never waived, a
 * matching one may be): no step may turn a failure into true.
 */
export function conditionImplies(a: string, b: string, { exact = false } = {}): boolean {
  let x: ASTNode;
  let y: ASTNode;
  try {
    x = parse(a).ast;
    y = parse(b).ast;
  } catch {
    return false;
  }
  return new Prover(exact).implies(x, y);
}

// comparisons of one side against a number, with the side on the left; ints kept as bigints
type Bound = {
  readonly side: ASTNode;
  readonly op: "<" | "<=" | ">" | ">=";
  readonly n: number | bigint;
};
const FLIPPED = { "<": ">", "<=": ">=", ">": "<", ">=": "<=" } as const;

// one proof's steps, each pair of nodes decided once: the steps try sides of && and || in several
// ways, and a condition of n terms would otherwise take exponential time
class Prover {
  readonly #known = new Map<ASTNode, Map<ASTNode, boolean>>();

  constructor(private readonly exact: boolean) {}

  implies(a: ASTNode, b: ASTNode): boolean {
    let row = this.#known.get(a);
    if (!row) {
      row = new Map();
      this.#known.set(a, row);
    }
    // each step goes to a smaller pair: no pair is asked again while it is being decided
    let proven = row.get(b);
    if (proven === undefined) {
      proven = this.#step(a, b);
      row.set(b, proven);
    }
    return proven;
  }

  #step(a: ASTNode, b: ASTNode): boolean {
    const exact = this.exact;
    const implies = (x: ASTNode, y: ASTNode) => this.implies(x, y);
    if (same(a, b)) return true;
    // `false` holds nowhere and never fails, so it implies anything; `true` holds everywhere (but
    // where `a` fails, it is no failure)
    if (a.op === "value" && a.args === false) return true;
    if (!exact && b.op === "value" && b.args === true) return true;
    // side by side: a1 && a2 ⇒ b1 && b2 when a1 ⇒ b1 and a2 ⇒ b2, in either order (what
    // `exact` allows of && below needs a to imply each side whole)
    if (a.op === "&&" && b.op === "&&") {
      const [a1, a2] = a.args;
      const [b1, b2] = b.args;
      if (implies(a1, b1) && implies(a2, b2)) return true;
      if (implies(a1, b2) && implies(a2, b1)) return true;
    }
    // a || … holds where either side does (fails where one fails and none holds): each side
    // implying b is enough
    if (a.op === "||" && implies(a.args[0], b) && implies(a.args[1], b)) return true;
    // b && …: a implying each side is enough
    if (b.op === "&&" && implies(a, b.args[0]) && implies(a, b.args[1])) return true;
    if (!exact) {
      // b || …: a implying either side is enough (a failure of a may then be true in b)
      if (b.op === "||" && (implies(a, b.args[0]) || implies(a, b.args[1]))) return true;
      // a && …: either side implying b is enough (where a holds or fails, neither side is false)
      if (a.op === "&&" && (implies(a.args[0], b) || implies(a.args[1], b))) return true;
    }
    return atom(a, b);
  }
}

// one comparison implying another of the same operand
function atom(a: ASTNode, b: ASTNode): boolean {
  // x in [..] / x == c  ⇒  x in [more]
  const from = members(a);
  if (
    from &&
    b.op === "in" &&
    b.args[1].op === "list" &&
    b.args[1].args.every(isLiteral) &&
    same(from.x, b.args[0])
  ) {
    const to = b.args[1].args;
    return from.values.every((v) => to.some((w) => same(v, w)));
  }
  // x > n ⇒ x > m (m ≤ n), and the like
  const p = bound(a);
  const q = bound(b);
  if (!p || !q || !same(p.side, q.side)) return false;
  const up = (op: Bound["op"]) => op === ">" || op === ">=";
  if (up(p.op) !== up(q.op)) return false;
  const order = compare(p.n, q.n);
  if (order === undefined) return false;
  // as a lower bound: x > n is x ≥ n⁺; the same the other way round
  if (up(p.op)) return order > 0 || (order === 0 && (q.op === ">=" || p.op === ">"));
  return order < 0 || (order === 0 && (q.op === "<=" || p.op === "<"));
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
    x.op === "value" &&
    (typeof x.args === "bigint" || (typeof x.args === "number" && Number.isFinite(x.args)))
      ? x.args
      : undefined;
  const right = n(r);
  if (right !== undefined) return { side: l, op: a.op, n: right };
  const left = n(l);
  if (left !== undefined) return { side: r, op: FLIPPED[a.op], n: left };
  return undefined;
}

// p against q (negative: p smaller), or undefined where an int and a double cannot be compared
// exactly (an int past 2^53 as a double is rounded)
function compare(p: number | bigint, q: number | bigint): number | undefined {
  if (typeof p === "bigint" && typeof q === "bigint") return p < q ? -1 : p > q ? 1 : 0;
  const exact = (x: number | bigint) =>
    typeof x === "number" || Number.isSafeInteger(Number(x)) ? Number(x) : undefined;
  const x = exact(p);
  const y = exact(q);
  if (x === undefined || y === undefined) return undefined;
  return x - y;
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
