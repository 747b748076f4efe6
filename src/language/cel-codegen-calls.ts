import type { ASTNode } from "@marcbachmann/cel-js";
import { type Gen, Problem, type Val } from "./cel-codegen.js";
import { rangeElem } from "./cel-codegen-ops.js";
import { compileRegex } from "./cel-regex.js";
import { type CelT, T, typeName } from "./cel-types.js";
import { CelType } from "./cel-values.js";

// functions and macros: the supported set is exactly what this file compiles; every other
// function is rejected at compile time (docs/reference.md "CEL conditions")

/** Every function and macro the compiler supports, as `name/arity` (receiver-style with a dot). */
export const SUPPORTED_FUNCTIONS: readonly string[] = [
  "has/1",
  "size/1",
  ".size/0",
  "int/1",
  "uint/1",
  "double/1",
  "string/1",
  "bool/1",
  "dyn/1",
  "type/1",
  ".contains/1",
  ".startsWith/1",
  ".endsWith/1",
  ".matches/1",
  ".all/2",
  ".exists/2",
  ".exists_one/2",
  ".map/2",
  ".map/3",
  ".filter/2",
];

const CONVERSIONS: Record<string, string> = {
  int: "toInt",
  uint: "toUint",
  double: "toDouble",
  string: "toStr",
  bool: "toBool",
};
/** CEL's string methods that are JavaScript's on two strings (code points or not, the same). */
export const STRING_METHODS: Readonly<Record<string, string>> = {
  contains: "includes",
  startsWith: "startsWith",
  endsWith: "endsWith",
};

type Call = ASTNode & { op: "call" | "rcall" };

/** Compiles a function call, method call or macro. */
export function genCall(g: Gen, node: Call): Val {
  const [name, receiver, args] =
    node.op === "call"
      ? [node.args[0], undefined, node.args[1]]
      : [node.args[0], node.args[1], node.args[2]];
  const sig = `${receiver ? "." : ""}${name}/${args.length}`;
  if (!SUPPORTED_FUNCTIONS.includes(sig)) {
    throw new Problem("language.cel_unsupported", `function \`${name}\` is not supported`, node);
  }
  if (receiver) return method(g, name, receiver, args, node);
  const [a0, a1] = args as [ASTNode, ASTNode | undefined];
  if (name === "has") return has(g, a0, node);
  if (name === "matches") return matches(g, g.value(a0), a1 as ASTNode);
  const x = g.value(a0);
  if (name === "size") return size(g, x);
  if (name === "dyn") return g.toDyn(x);
  if (name === "type") return typeOf(g, x);
  const fn = CONVERSIONS[name] as string;
  if (x.t.kind === name) return x;
  return g.let(`rt.${fn}(${g.toDyn(x).js})`, T[name as "int"]);
}

function method(g: Gen, name: string, receiver: ASTNode, args: ASTNode[], node: Call): Val {
  switch (name) {
    case "all":
    case "exists":
    case "exists_one":
    case "map":
    case "filter":
      return comprehension(g, name, receiver, args, node);
  }
  const x = g.value(receiver);
  if (name === "size") return size(g, x);
  if (name === "matches") return matches(g, x, args[0] as ASTNode);
  const y = g.value(args[0] as ASTNode);
  if (x.t.kind === "string" && y.t.kind === "string")
    return g.let(`${x.js}.${STRING_METHODS[name]}(${y.js})`, T.bool);
  return g.let(`rt.${name}(${g.toDyn(x).js}, ${g.toDyn(y).js})`, T.bool);
}

function size(g: Gen, x: Val): Val {
  if (x.t.kind === "string") return g.let(`rt.strSize(${x.js})`, T.int);
  if (x.t.kind === "list" || x.t.kind === "bytes") return g.let(`${x.js}.length`, T.int);
  return g.let(`rt.size(${g.toDyn(x).js})`, T.int);
}

function typeOf(g: Gen, x: Val): Val {
  if (x.t.kind === "dyn") return g.let(`rt.typeOf(${x.js})`, T.type);
  const name = x.t.kind === "list" || x.t.kind === "map" ? x.t.kind : typeName(x.t);
  return { js: g.k(CelType.of(name)), t: T.type };
}

function matches(g: Gen, s: Val, pattern: ASTNode): Val {
  if (pattern.op === "value" && typeof pattern.args === "string") {
    const re = compileRegex(pattern.args);
    if (!re.ok) {
      const code = re.unsupported ? "language.cel_unsupported" : "language.cel_syntax";
      throw new Problem(code, `invalid regular expression: ${re.message}`, pattern);
    }
    const str = s.t.kind === "string" ? s.js : `rt.str(${s.js}, "matches")`;
    return g.let(`${g.k(re.regex)}.test(${str})`, T.bool);
  }
  return g.let(`rt.matches(${g.toDyn(s).js}, ${g.toDyn(g.value(pattern)).js})`, T.bool);
}

// has(e.f): the operand chain is compiled without the library's types (it does not check them)
function has(g: Gen, arg: ASTNode, node: ASTNode): Val {
  if (arg.op !== ".")
    throw new Problem(
      "language.cel_type",
      "has() needs a field selection such as `has(x.f)`",
      node,
    );
  const [inner, name] = arg.args;
  const x = g.value(inner);
  const key = JSON.stringify(name);
  switch (x.t.kind) {
    case "message":
      if (!x.t.fields.has(name))
        throw new Problem("language.cel_type", `undeclared field \`${name}\``, {
          start: arg.pos,
          end: arg.end,
        });
      return g.let(`Object.hasOwn(${x.js}, ${key})`, T.bool);
    case "map":
      return g.let(`rt.hasKey(${x.js}, ${key})`, T.bool);
    case "dyn":
      return g.let(`rt.dynHas(${x.js}, ${key})`, T.bool);
    default:
      throw new Problem(
        "language.cel_type",
        `has() cannot test a field of \`${typeName(x.t)}\``,
        node,
      );
  }
}

function comprehension(g: Gen, name: string, receiver: ASTNode, args: ASTNode[], node: Call): Val {
  const [v, body, transform] = args as [ASTNode, ASTNode, ASTNode | undefined];
  if (v.op !== "id")
    throw new Problem("language.cel_syntax", `${name}() needs a variable name first`, v);
  const coll = g.value(receiver);
  const elem: CelT = rangeElem(coll.t);
  const items = g.let(coll.t.kind === "list" ? coll.js : `rt.range(${coll.js})`, T.dyn);
  const i = g.tmp();
  const x = g.tmp();
  const acc = g.tmp();
  const err = g.tmp();
  const outer = g.scope.get(v.args);
  g.scope.set(v.args, { js: x, t: elem });
  try {
    const loop = (inner: string) =>
      `for (let ${i} = 0; ${i} < ${items.js}.length; ${i}++) {\nif (--B.left < 0) rt.checkBudget();\n${x} = ${items.js}[${i}];\n${checkCode(g, x, elem)}${inner}\n}`;
    const pred = g.block(() => g.value(body));
    const p = pred.result.t.kind === "bool" ? pred.result.js : `rt.bool(${pred.result.js})`;
    switch (name) {
      case "all":
      case "exists": {
        const [start, hit] = name === "all" ? ["true", "false"] : ["false", "true"];
        g.emit(`${acc} = ${start}; ${err} = undefined;`);
        const step = `let p;\ntry {\n${pred.code}\np = ${p};\n} catch (e) { ${err} ??= rt.caught(e); continue; }\nif (p === ${hit}) { ${acc} = ${hit}; break; }`;
        g.emit(loop(step));
        g.emit(`if (${acc} === ${start} && ${err} !== undefined) throw ${err};`);
        return { js: acc, t: T.bool };
      }
      case "exists_one":
        g.emit(`${acc} = 0;`);
        g.emit(loop(`${pred.code}\nif (${p}) ${acc}++;`));
        return g.let(`${acc} === 1`, T.bool);
      case "filter":
        g.emit(`${acc} = [];`);
        g.emit(loop(`${pred.code}\nif (${p}) ${acc}.push(${x});`));
        return { js: acc, t: { kind: "list", elem } };
      default: {
        const want = g.checked(node);
        const out = want?.kind === "list" ? want.elem : T.dyn;
        const fn = transform ?? body;
        const tr = g.block(() => g.coerce(g.value(fn), out));
        const push = `${tr.code}\n${acc}.push(${tr.result.js});`;
        g.emit(`${acc} = [];`);
        g.emit(loop(transform ? `${pred.code}\nif (${p}) {\n${push}\n}` : push));
        return { js: acc, t: { kind: "list", elem: out } };
      }
    }
  } finally {
    if (outer) g.scope.set(v.args, outer);
    else g.scope.delete(v.args);
  }
}

function checkCode(g: Gen, js: string, t: CelT): string {
  const { code } = g.block(() => g.check(js, t));
  return code ? `${code}\n` : "";
}
