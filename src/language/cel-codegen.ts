import type { ASTNode } from "@marcbachmann/cel-js";
import type { CelProblem } from "./cel.js";
import { genIndex, genSelect } from "./cel-codegen-access.js";
import { genCall } from "./cel-codegen-calls.js";
import { genBinary } from "./cel-codegen-ops.js";
import { conv, fromDyn, toDyn } from "./cel-convert.js";
import { type CelT, T, typeName } from "./cel-types.js";
import { CelType } from "./cel-values.js";

// checked AST → the body of a JavaScript function. Every node becomes statements that leave its
// value in a temporary, in the static representation of its checked type (cel-convert.ts).
// Only literals (JSON-escaped), field names (JSON-escaped) and generated names reach the source.

/** A compiled value: a JavaScript atom (temporary, literal or constant) and its CEL type. */
export interface Val {
  readonly js: string;
  readonly t: CelT;
}

/** A compile-time problem at a node. */
export class Problem extends Error {
  constructor(
    readonly code: CelProblem["code"],
    message: string,
    readonly node: { start: number; end: number },
  ) {
    super(message);
  }
}

const TYPE_IDENTS = new Set([
  "int",
  "uint",
  "double",
  "string",
  "bool",
  "bytes",
  "list",
  "map",
  "null_type",
  "type",
]);
const INT_MAX = 2n ** 63n - 1n;
const UINT_MAX = 2n ** 64n - 1n;

/** Field loads shared by the expressions of a fused group (cel-fuse.ts). */
export interface SharedLoads {
  /** The local holding `parent.name`, or undefined when the load is not shared. */
  field(parent: Val, name: string, t: CelT): string | undefined;
}

/** The code generator for one expression. */
export class Gen {
  /** Set when compiling a fused group: message fields read from `input` are loaded once. */
  shared: SharedLoads | undefined;
  out: string[] = [];
  private temps = 0;
  readonly consts: unknown[] = [];
  private readonly constIndex = new Map<unknown, string>();
  readonly scope = new Map<string, Val>();

  constructor(
    readonly messages: ReadonlyMap<string, CelT>,
    root: CelT,
  ) {
    this.scope.set("input", { js: "input", t: root });
  }

  /** A fresh temporary. */
  tmp(): string {
    return `t${this.temps++}`;
  }

  /** Declarations for every temporary used. */
  declarations(): string {
    if (this.temps === 0) return "";
    // var, not let: optimized code then carries no temporal-dead-zone checks
    return `var ${Array.from({ length: this.temps }, (_, i) => `t${i}`).join(", ")};`;
  }

  /** A reference to a constant (runtime function, regex, set or type value). */
  k(value: unknown): string {
    let ref = this.constIndex.get(value);
    if (!ref) {
      ref = `k[${this.consts.length}]`;
      this.consts.push(value);
      this.constIndex.set(value, ref);
    }
    return ref;
  }

  emit(line: string): void {
    this.out.push(line);
  }

  /** Runs `fn` collecting its statements separately; returns them and its result. */
  block<R>(fn: () => R): { code: string; result: R } {
    const saved = this.out;
    this.out = [];
    try {
      const result = fn();
      return { code: this.out.join("\n"), result };
    } finally {
      this.out = saved;
    }
  }

  /** Assigns `expr` to a fresh temporary. */
  let(expr: string, t: CelT): Val {
    const js = this.tmp();
    this.emit(`${js} = ${expr};`);
    return { js, t };
  }

  /** The static type the checker gave a node, if it checked it. */
  checked(node: ASTNode): CelT | undefined {
    const decl = (node as { checkedType?: Decl }).checkedType;
    return decl ? this.fromDecl(decl, node) : undefined;
  }

  private fromDecl(d: Decl, node: ASTNode): CelT {
    switch (d.kind) {
      case "primitive":
        switch (d.name) {
          case "null":
            return T.null;
          case "int":
          case "uint":
          case "double":
          case "string":
          case "bool":
          case "bytes":
          case "type":
            return T[d.name];
        }
        break;
      case "dyn":
      case "param":
        return T.dyn;
      case "list":
        return { kind: "list", elem: this.fromDecl(d.valueType as Decl, node) };
      case "map":
        return {
          kind: "map",
          key: this.fromDecl(d.keyType as Decl, node),
          value: this.fromDecl(d.valueType as Decl, node),
        };
      case "message": {
        const m = this.messages.get(d.name);
        if (m) return m;
      }
    }
    throw new Problem("language.cel_unsupported", `type \`${d.name}\` is not supported`, node);
  }

  /** Compiles a node to a value of its checked type. */
  value(node: ASTNode): Val {
    const v = this.natural(node);
    const want = this.checked(node);
    return want ? this.coerce(v, want) : v;
  }

  /** Converts a value to another static type, through dyn when the types differ. */
  coerce(v: Val, to: CelT): Val {
    if (v.t === to || typeName(v.t) === typeName(to)) return { js: v.js, t: to };
    if (to.kind === "dyn") return this.toDyn(v);
    if (v.t.kind === "dyn") return this.let(`${this.k(fromDyn(to))}(${v.js})`, to);
    return this.coerce(this.toDyn(v), to);
  }

  /** The value in the dyn representation. */
  toDyn(v: Val): Val {
    switch (v.t.kind) {
      case "dyn":
      case "double":
      case "string":
      case "bool":
      case "null":
      case "bytes":
      case "type":
        return { js: v.js, t: T.dyn };
      case "int":
        return this.let(`typeof ${v.js} === "number" ? BigInt(${v.js}) : ${v.js}`, T.dyn);
      default:
        return this.let(`${this.k(toDyn(v.t))}(${v.js})`, T.dyn);
    }
  }

  /** Checks the variable `input` has the schema's type. */
  checkInput(): void {
    const root = this.scope.get("input")?.t ?? T.dyn;
    const bad = root.kind === "dyn" ? "input === undefined" : badTest("input", root, false);
    if (bad) this.emit(`if (${bad}) input = ${this.k(conv(root))}(input);`);
  }

  /** Checks (and converts) a stored element or field `js` of type `t` in place. */
  check(js: string, t: CelT, missing?: string): void {
    const fix =
      missing === undefined
        ? `${this.k(conv(t))}(${js})`
        : `rt.present(${js}, ${JSON.stringify(missing)}, ${this.k(conv(t))})`;
    const bad = badTest(js, t, missing !== undefined);
    if (bad) this.emit(`if (${bad}) ${js} = ${fix};`);
  }

  private natural(node: ASTNode): Val {
    switch (node.op) {
      case "value":
        return this.literal(node.args, node);
      case "id":
        return this.ident(node.args, node);
      case ".":
        return this.select(this.value(node.args[0]), node.args[1], node);
      case "[]":
        return genIndex(this, node);
      case "&&":
      case "||":
        return this.logical(node.op, node.args[0], node.args[1]);
      case "!_": {
        const a = this.value(node.args);
        return a.t.kind === "bool"
          ? this.let(`!${a.js}`, T.bool)
          : this.let(`rt.not(${a.js})`, T.bool);
      }
      case "-_":
        return this.negate(node);
      case "?:":
        return this.ternary(node);
      case "list":
        return this.list(node);
      case "map":
        return this.map(node);
      case "call":
      case "rcall":
        return genCall(this, node);
      case "==":
      case "!=":
      case "<":
      case "<=":
      case ">":
      case ">=":
      case "in":
      case "+":
      case "-":
      case "*":
      case "/":
      case "%":
        return genBinary(this, node.op, node.args[0], node.args[1], node);
    }
    throw new Problem("language.cel_unsupported", `operator \`${node.op}\` is not supported`, node);
  }

  private literal(v: unknown, node: ASTNode): Val {
    switch (typeof v) {
      case "string":
        return { js: JSON.stringify(v), t: T.string };
      case "boolean":
        return { js: String(v), t: T.bool };
      case "number":
        return { js: Object.is(v, -0) ? "-0" : String(v), t: T.double };
      case "bigint":
        if (v > INT_MAX)
          throw new Problem(
            "language.cel_syntax",
            `integer literal \`${v}\` is out of range`,
            node,
          );
        return { js: intLiteral(v), t: T.int };
      case "object":
        if (v === null) return { js: "null", t: T.null };
        if (v instanceof Uint8Array) {
          // the library keeps only the low byte of a literal non-ascii character
          if (/[^ -~\t\n\r]/.test(node.input.slice(node.start, node.end))) {
            throw new Problem(
              "language.cel_unsupported",
              "non-ascii characters in bytes literals are not supported: use escapes",
              node,
            );
          }
          return { js: this.k(v), t: T.bytes };
        }
        if (typeof v.valueOf() === "bigint") {
          const u = v.valueOf() as bigint;
          if (u > UINT_MAX)
            throw new Problem(
              "language.cel_syntax",
              `unsigned literal \`${u}u\` is out of range`,
              node,
            );
          return { js: intLiteral(u), t: T.uint };
        }
    }
    throw new Problem("language.cel_unsupported", "literal is not supported", node);
  }

  private ident(name: string, node: ASTNode): Val {
    const v = this.scope.get(name);
    if (v) return v;
    if (TYPE_IDENTS.has(name)) return { js: this.k(CelType.of(name)), t: T.type };
    throw new Problem("language.cel_unsupported", `identifier \`${name}\` is not supported`, node);
  }

  /** `x.name` on a value of any type. */
  select(x: Val, name: string, node: ASTNode): Val {
    return genSelect(this, x, name, node);
  }

  /** `a && b` / `a || b`: the short-circuit value absorbs an error on either side. */
  private logical(op: "&&" | "||", left: ASTNode, right: ASTNode): Val {
    const stop = op === "&&" ? "false" : "true";
    const go = op === "&&" ? "true" : "false";
    const r = this.tmp();
    const a = this.block(() => this.value(left));
    const b = this.block(() => this.value(right));
    const s = this.tmp();
    this.emit(`try {\n${a.code}\n${r} = ${a.result.js};\n} catch (e) { ${r} = rt.caught(e); }`);
    if (a.result.t.kind !== "bool")
      this.emit(`if (typeof ${r} !== "boolean") ${r} = rt.notBool(${r});`);
    this.emit(`if (${r} !== ${stop}) {`);
    this.emit(
      `try {\n${b.code}\n${s} = ${b.result.js};\n} catch (e) { if (${r} === ${go}) throw e; ${s} = rt.caught(e); }`,
    );
    if (b.result.t.kind !== "bool") this.emit(`if (${r} === ${go}) ${s} = rt.bool(${s});`);
    this.emit(`${r} = ${r} === ${go} ? ${s} : rt.${op === "&&" ? "and" : "or"}(${r}, ${s});\n}`);
    return { js: r, t: T.bool };
  }

  private negate(node: ASTNode & { op: "-_" }): Val {
    const arg = node.args;
    if (arg.op === "value" && typeof arg.args === "bigint") {
      const v = -arg.args;
      if (v < -INT_MAX - 1n)
        throw new Problem("language.cel_syntax", `integer literal \`${v}\` is out of range`, node);
      return { js: intLiteral(v), t: T.int };
    }
    const a = this.value(arg);
    if (a.t.kind === "int")
      return this.let(`typeof ${a.js} === "number" ? 0 - ${a.js} : rt.negInt(${a.js})`, T.int);
    if (a.t.kind === "double") return this.let(`-${a.js}`, T.double);
    return this.let(`rt.neg(${this.toDyn(a).js})`, T.dyn);
  }

  private ternary(node: ASTNode & { op: "?:" }): Val {
    const [c, l, r] = node.args;
    const want = this.checked(node) ?? T.dyn;
    const cond = this.value(c);
    const out = this.tmp();
    const a = this.block(() => this.coerce(this.value(l), want));
    const b = this.block(() => this.coerce(this.value(r), want));
    const test = cond.t.kind === "bool" ? cond.js : `rt.bool(${cond.js})`;
    this.emit(
      `if (${test}) {\n${a.code}\n${out} = ${a.result.js};\n} else {\n${b.code}\n${out} = ${b.result.js};\n}`,
    );
    return { js: out, t: want };
  }

  private list(node: ASTNode & { op: "list" }): Val {
    const want = this.checked(node);
    const elem = want?.kind === "list" ? want.elem : T.dyn;
    const items = node.args.map((e) => this.coerce(this.value(e), elem).js);
    return this.let(`[${items.join(", ")}]`, { kind: "list", elem });
  }

  private map(node: ASTNode & { op: "map" }): Val {
    const want = this.checked(node);
    const [key, value] = want?.kind === "map" ? [want.key, want.value] : [T.dyn, T.dyn];
    const keys: string[] = [];
    const values: string[] = [];
    for (const [k, v] of node.args) {
      keys.push(this.toDyn(this.coerce(this.value(k), key)).js);
      values.push(this.coerce(this.value(v), value).js);
    }
    return this.let(`rt.makeMap([${keys.join(", ")}], [${values.join(", ")}])`, {
      kind: "map",
      key,
      value,
    });
  }
}

interface Decl {
  kind: string;
  name: string;
  keyType?: Decl;
  valueType?: Decl;
}

function intLiteral(v: bigint): string {
  return Number.isSafeInteger(Number(v)) ? String(v) : `${v}n`;
}

/** A JavaScript test that is true when `js` is not already a checked value of type `t`. */
export function badTest(js: string, t: CelT, mayBeMissing: boolean): string | undefined {
  switch (t.kind) {
    case "int":
      return `!Number.isSafeInteger(${js})`;
    case "uint":
      return `!(Number.isSafeInteger(${js}) && ${js} >= 0)`;
    case "double":
      return `typeof ${js} !== "number"`;
    case "string":
      return `typeof ${js} !== "string"`;
    case "bool":
      return `typeof ${js} !== "boolean"`;
    case "null":
      return `${js} !== null`;
    case "list":
      return `!Array.isArray(${js})`;
    case "map":
    case "message":
      return `typeof ${js} !== "object" || ${js} === null || Array.isArray(${js})`;
    case "dyn":
      return mayBeMissing ? `${js} === undefined` : undefined;
    default:
      return "true";
  }
}
