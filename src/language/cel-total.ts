import type { ASTNode } from "@marcbachmann/cel-js";
import type { Val } from "./cel-codegen.js";
import { STRING_METHODS } from "./cel-codegen-calls.js";
import { type CelT, T } from "./cel-types.js";

// the total fast path of a fused group (cel-fuse.ts): for a condition built only from operations
// that cannot fail once their operands have their declared types, plain JavaScript with no
// try/catch, no error values and no budget gives exactly CEL's result. The group's prologue
// proves the operand types (any other value sends the whole group to the members' own tests);
// what it cannot prove up front, that a field is present, each condition checks before it runs
// its total form, and otherwise runs its careful form. Anything outside the small subset below
// has no total form: the careful code alone runs it.

/** What a total form needs from the group: shared field loads whose types the prologue proves. */
export interface TotalLoads {
  /** The local holding `parent.name` (loaded and, for messages, checked once), if shared. */
  field(parent: Val, name: string, t: CelT): string | undefined;
  /** Proves in the prologue that `local` is absent or of type `t`; false when it cannot. */
  prove(local: string, t: CelT): boolean;
  /** Proves in the prologue that `local` (`parent.name`) is defined exactly when it is own. */
  proveOwn(local: string, parent: string, name: string): void;
  /** `item in local`, for a proven string list `local` and a constant `item`, if it has a form. */
  member?(local: string, item: string): string | undefined;
}

/** A condition's total form: a JavaScript boolean expression, and the locals it needs present. */
export interface TotalForm {
  readonly js: string;
  readonly needs: readonly string[];
}

// list scans per condition: each costs the careful code budget; with lists proven at most
// MAX_LIST long, this many can never run a condition out of budget
export const MAX_LIST = 10_000;
const MAX_SCANS = 50;

interface TV {
  readonly js: string;
  readonly t: CelT;
  // locals this value reads that must be present
  readonly needs: ReadonlySet<string>;
  // for `has(x.f)` forms and their conjunctions: the locals proven present when true
  readonly proves?: readonly string[];
}

const NUMERIC = new Set(["int", "double"]);
const EQ = new Set(["string", "bool", "int", "double"]);
const none: ReadonlySet<string> = new Set();
const union = (...sets: ReadonlySet<string>[]) => new Set(sets.flatMap((s) => [...s]));

class Total {
  scans = 0;

  constructor(
    private readonly root: CelT,
    private readonly loads: TotalLoads,
  ) {}

  // undefined: no total form
  value(node: ASTNode, present: ReadonlySet<string>): TV | undefined {
    switch (node.op) {
      case "value":
        return literal(node.args);
      case "id":
        return node.args === "input" && this.root.kind === "message"
          ? { js: "input", t: this.root, needs: none }
          : undefined;
      case ".":
        return this.select(node.args[0], node.args[1], present);
      case "!_": {
        const a = this.value(node.args, present);
        return a?.t.kind === "bool" ? { js: `(!${a.js})`, t: T.bool, needs: a.needs } : undefined;
      }
      case "&&":
      case "||":
        return this.logical(node.op, node.args[0], node.args[1], present);
      case "?:": {
        const [c, x, y] = node.args as [ASTNode, ASTNode, ASTNode];
        const tc = this.value(c, present);
        const tx = this.value(x, present);
        const ty = this.value(y, present);
        if (tc?.t.kind !== "bool" || !tx || !ty || tx.t !== ty.t) return undefined;
        if (!EQ.has(tx.t.kind)) return undefined;
        return {
          js: `(${tc.js} ? ${tx.js} : ${ty.js})`,
          t: tx.t,
          needs: union(tc.needs, tx.needs, ty.needs),
        };
      }
      case "==":
      case "!=":
      case "<":
      case "<=":
      case ">":
      case ">=":
        return this.compare(node.op, node.args[0], node.args[1], present);
      case "in":
        return this.in(node.args[0], node.args[1], present);
      case "call":
        return node.args[0] === "has" && node.args[1].length === 1
          ? this.has(node.args[1][0] as ASTNode, present)
          : undefined;
      case "rcall": {
        const [name, receiver, args] = node.args as [string, ASTNode, ASTNode[]];
        const method = STRING_METHODS[name];
        if (!method || args.length !== 1) return undefined;
        const a = this.value(receiver, present);
        const b = this.value(args[0] as ASTNode, present);
        if (a?.t.kind !== "string" || b?.t.kind !== "string") return undefined;
        return { js: `${a.js}.${method}(${b.js})`, t: T.bool, needs: union(a.needs, b.needs) };
      }
      default:
        return undefined;
    }
  }

  private select(parentNode: ASTNode, name: string, present: ReadonlySet<string>): TV | undefined {
    const parent = this.value(parentNode, present);
    if (parent?.t.kind !== "message") return undefined;
    const t = parent.t.fields.get(name);
    if (!t) return undefined;
    const local = this.loads.field(parent, name, t);
    if (local === undefined) return undefined;
    // a message local was checked (present, an object) before anything runs
    if (t.kind === "message") return { js: local, t, needs: parent.needs };
    if (!this.loads.prove(local, t)) return undefined;
    const needs = present.has(local) ? parent.needs : union(parent.needs, new Set([local]));
    return { js: local, t, needs };
  }

  private has(arg: ASTNode, present: ReadonlySet<string>): TV | undefined {
    if (arg.op !== ".") return undefined;
    const [inner, name] = arg.args as [ASTNode, string];
    const parent = this.value(inner, present);
    if (parent?.t.kind !== "message") return undefined;
    const t = parent.t.fields.get(name);
    if (!t) return undefined;
    const local = this.loads.field(parent, name, t);
    // the careful code tests an own property; with the local defined exactly when the property
    // is own, testing the local is the same, and what it proves present may be read
    if (local === undefined) return undefined;
    this.loads.proveOwn(local, parent.js, name);
    return { js: `(${local} !== undefined)`, t: T.bool, needs: parent.needs, proves: [local] };
  }

  private logical(
    op: "&&" | "||",
    left: ASTNode,
    right: ASTNode,
    present: ReadonlySet<string>,
  ): TV | undefined {
    const a = this.value(left, present);
    if (a?.t.kind !== "bool") return undefined;
    // CEL's && is commutative over errors, JavaScript's short-circuits: the same here, because
    // neither side can fail. What `has(x.f) && …` proves present, the right side may read.
    const proven = op === "&&" ? (a.proves ?? []) : [];
    const b = this.value(right, proven.length > 0 ? union(present, new Set(proven)) : present);
    if (b?.t.kind !== "bool") return undefined;
    const proves = op === "&&" ? [...proven, ...(b.proves ?? [])] : [];
    return {
      js: `(${a.js} ${op} ${b.js})`,
      t: T.bool,
      needs: union(a.needs, b.needs),
      ...(proves.length > 0 && { proves }),
    };
  }

  private compare(
    op: string,
    left: ASTNode,
    right: ASTNode,
    present: ReadonlySet<string>,
  ): TV | undefined {
    const a = this.value(left, present);
    const b = this.value(right, present);
    if (!a || !b) return undefined;
    const ka = a.t.kind;
    const kb = b.t.kind;
    const numeric = NUMERIC.has(ka) && NUMERIC.has(kb);
    if (op === "==" || op === "!=") {
      if (!(numeric || (ka === kb && EQ.has(ka)))) return undefined;
      // int and double compare exactly: ints are proven safe integers
      const js = `(${a.js} ${op === "==" ? "===" : "!=="} ${b.js})`;
      return { js, t: T.bool, needs: union(a.needs, b.needs) };
    }
    // strings order by code points in CEL, by UTF-16 units in JavaScript: numbers only
    if (!numeric) return undefined;
    return { js: `(${a.js} ${op} ${b.js})`, t: T.bool, needs: union(a.needs, b.needs) };
  }

  private in(left: ASTNode, right: ASTNode, present: ReadonlySet<string>): TV | undefined {
    const x = this.value(left, present);
    if (x?.t.kind !== "string") return undefined;
    if (right.op === "list") {
      const items = right.args as ASTNode[];
      if (items.length === 0 || items.length > 16) return undefined;
      if (!items.every((i) => i.op === "value" && typeof i.args === "string")) return undefined;
      const js = items.map((i) => `${x.js} === ${JSON.stringify(i.args)}`).join(" || ");
      return { js: `(${js})`, t: T.bool, needs: x.needs };
    }
    const list = this.value(right, present);
    if (list?.t.kind !== "list" || list.t.elem.kind !== "string") return undefined;
    // the plain group scans the list even for a member test: counted the same
    if (++this.scans > MAX_SCANS) return undefined;
    const member =
      left.op === "value" && typeof left.args === "string"
        ? this.loads.member?.(list.js, left.args)
        : undefined;
    if (member !== undefined) return { js: member, t: T.bool, needs: list.needs };
    // proven: an array of at most MAX_LIST strings, so includes is CEL's `in`
    return {
      js: `${list.js}.includes(${x.js})`,
      t: T.bool,
      needs: union(x.needs, list.needs),
    };
  }
}

function literal(v: unknown): TV | undefined {
  switch (typeof v) {
    case "string":
      return { js: JSON.stringify(v), t: T.string, needs: none };
    case "boolean":
      return { js: String(v), t: T.bool, needs: none };
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0)
        ? { js: String(v), t: T.double, needs: none }
        : undefined;
    case "bigint":
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? { js: String(v), t: T.int, needs: none }
        : undefined;
    default:
      return undefined;
  }
}

/** The total form of a condition, or undefined when it has none. */
export function totalForm(ast: ASTNode, root: CelT, loads: TotalLoads): TotalForm | undefined {
  const v = new Total(root, loads).value(ast, none);
  if (v?.t.kind !== "bool") return undefined;
  return { js: v.js, needs: [...v.needs].sort() };
}
