// the only importer of the CEL library (STYLE 2.2 rule 4)
import { type ASTNode, Environment } from "@marcbachmann/cel-js";
import { Gen, Problem } from "./cel-codegen.js";
import { toDyn } from "./cel-convert.js";
import * as functions from "./cel-functions.js";
import * as runtime from "./cel-runtime.js";
import { type CelT, type SchemaTypes, schemaToTypes, typeName } from "./cel-types.js";
import { budget, CelEvalError, EVAL_BUDGET } from "./cel-values.js";
import { didYouMean } from "./suggest.js";

export { SUPPORTED_FUNCTIONS } from "./cel-codegen-calls.js";
export { toCondition } from "./cel-runtime.js";
export { CelMap, CelObject, CelType, CelUint, EVAL_BUDGET } from "./cel-values.js";
export { CelEvalError };

/** A problem in one CEL expression, as offsets into the expression text. */
export interface CelProblem {
  readonly code:
    | "language.cel_syntax"
    | "language.cel_type"
    | "language.cel_unsupported"
    | "language.cel_limit";
  readonly message: string;
  /** Offset of the first character in the expression (UTF-16 code units). */
  readonly start: number;
  /** Offset just past the last character. */
  readonly end: number;
  /** How to fix it, when there is a likely fix (a misspelled field's nearest name). */
  readonly hint?: string;
}

/** What the expression may refer to. */
export interface CelOptions {
  /** JSON Schema of the variable `input`; when absent, `input` is `dyn`. */
  readonly input?: unknown;
}

/** A compiled expression, or every problem found in it. */
export type CelProgram =
  | { readonly ok: true; readonly type: string; readonly evaluate: (input: unknown) => unknown }
  | { readonly ok: false; readonly problems: readonly CelProblem[] };

/** Bounds on one expression, checked when it is compiled. */
export const CEL_LIMITS = {
  maxLength: 16_384,
  maxAstNodes: 2_000,
  maxDepth: 48,
  maxListElements: 500,
  maxMapEntries: 500,
  maxCallArguments: 16,
} as const;

interface Checker {
  readonly env: Environment;
  readonly types: SchemaTypes;
}

const checkers = new WeakMap<object, Checker>();
let dynChecker: Checker | undefined;

function checkerFor(schema: unknown): Checker {
  if (typeof schema !== "object" || schema === null) {
    dynChecker ??= makeChecker(undefined);
    return dynChecker;
  }
  let c = checkers.get(schema);
  if (!c) {
    c = makeChecker(schema);
    checkers.set(schema, c);
  }
  return c;
}

function makeChecker(schema: unknown): Checker {
  const { maxLength: _, ...limits } = CEL_LIMITS;
  const env = new Environment({ limits });
  const types = schemaToTypes(schema);
  for (const m of types.messages.values()) {
    const fields = Object.fromEntries([...m.fields].map(([k, t]) => [k, typeName(t)]));
    // the library only type-checks: values never pass through its constructors
    env.registerType(m.name, { ctor: class {}, fields });
  }
  env.registerVariable("input", typeName(types.root));
  return { env, types };
}

/** A parsed, type-checked expression, ready for code generation. */
export type CheckedCel =
  | { readonly ok: true; readonly ast: ASTNode; readonly types: SchemaTypes }
  | { readonly ok: false; readonly problems: readonly CelProblem[] };

/** Parses and type-checks one CEL expression against the input schema. */
export function checkCel(expression: string, options: CelOptions = {}): CheckedCel {
  if (expression.length > CEL_LIMITS.maxLength) {
    return fail(
      "language.cel_limit",
      `expression is longer than ${CEL_LIMITS.maxLength} characters`,
      0,
      expression.length,
      expression,
    );
  }
  const { env, types } = checkerFor(options.input);
  let parsed: ReturnType<Environment["parse"]>;
  try {
    parsed = env.parse(expression);
  } catch (e) {
    return fromLibrary(e, "language.cel_syntax", expression);
  }
  const checked = parsed.check();
  if (!checked.valid) {
    const failed = fromLibrary(checked.error, "language.cel_type", expression);
    return { ok: false, problems: failed.problems.map((p) => withFieldHint(p, expression, types)) };
  }
  return { ok: true, ast: parsed.ast, types };
}

/** Parses, type-checks and compiles one CEL expression to a JavaScript function. */
export function compileCel(expression: string, options: CelOptions = {}): CelProgram {
  const c = checkCel(expression, options);
  if (!c.ok) return c;
  const { ast, types } = c;
  const gen = new Gen(types.messages, types.root);
  let source: string;
  let resultType: string;
  try {
    const inputCheck = gen.block(() => gen.checkInput());
    const body = gen.block(() => gen.value(ast));
    const result = body.result;
    resultType = typeName(result.t);
    const ret = result.t.kind === "bool" ? result.js : `${gen.k(toDyn(result.t))}(${result.js})`;
    // one function per expression, so call sites stay monomorphic
    source = [
      `"use strict";\nreturn function celExpression(input) {`,
      gen.declarations(),
      `B.left = ${EVAL_BUDGET};\ntry {`,
      inputCheck.code,
      body.code,
      `return ${ret};`,
      "} catch (e) { throw rt.outside(e); }\n};",
    ].join("\n");
  } catch (e) {
    if (e instanceof Problem) return fail(e.code, e.message, e.node.start, e.node.end, expression);
    if (e instanceof RangeError)
      return fail(
        "language.cel_limit",
        "expression is nested too deeply",
        0,
        expression.length,
        expression,
      );
    throw e;
  }
  // invariant: the source holds only generated names, JSON-escaped literals and constant references
  const evaluate = new Function("rt", "k", "B", source)(RT, gen.consts, budget) as (
    input: unknown,
  ) => unknown;
  return { ok: true, type: resultType, evaluate };
}

/** The runtime helpers generated code reaches as `rt`. */
export const RT = Object.freeze({ ...runtime, ...functions });

function fail(
  code: CelProblem["code"],
  message: string,
  start: number,
  end: number,
  expression: string,
): { readonly ok: false; readonly problems: readonly CelProblem[] } {
  const s = Math.max(0, Math.min(start, expression.length));
  const e = Math.max(s, Math.min(end, expression.length));
  return {
    ok: false,
    problems: [{ code, message, start: s, end: e === s && e < expression.length ? e + 1 : e }],
  };
}

// an undeclared field: the nearest name the schema declares where it was read, if one is close
function withFieldHint(p: CelProblem, expression: string, types: SchemaTypes): CelProblem {
  const field = /^undeclared field `(.+)`$/.exec(p.message)?.[1];
  if (field === undefined) return p;
  const path = /([A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_][\w]*)*)\s*\.\s*$/.exec(
    expression.slice(0, p.start),
  )?.[1];
  let t: CelT | undefined = types.root;
  const [first, ...rest] = (path ?? "").split(/\s*\.\s*/);
  if (first !== "input") t = undefined;
  for (const name of rest) t = t?.kind === "message" ? t.fields.get(name) : undefined;
  const names =
    t?.kind === "message"
      ? [...t.fields.keys()]
      : [...new Set([...types.messages.values()].flatMap((m) => [...m.fields.keys()]))];
  const near = didYouMean(field, names);
  return near === undefined ? p : { ...p, hint: `did you mean \`${near}\`?` };
}

interface LibraryError {
  readonly code?: string;
  readonly summary?: string;
  readonly message?: string;
  readonly range?: { readonly start: number; readonly end: number };
}

// the library's errors: keep the substance, drop the caret drawing, speak the house style
function fromLibrary(
  e: unknown,
  code: CelProblem["code"],
  expression: string,
): { readonly ok: false; readonly problems: readonly CelProblem[] } {
  if (e instanceof RangeError)
    return fail(
      "language.cel_limit",
      "expression is nested too deeply",
      0,
      expression.length,
      expression,
    );
  const err = (typeof e === "object" && e !== null ? e : {}) as LibraryError;
  const range = err.range ?? { start: 0, end: expression.length };
  if (err.code === "limit_exceeded") {
    const limit = /Exceeded (\w+) \((\d+)\)/.exec(err.summary ?? "");
    const what = limit ? `${limit[1]} (${limit[2]})` : "a limit";
    return fail(
      "language.cel_limit",
      `expression exceeds ${what}`,
      range.start,
      range.end,
      expression,
    );
  }
  return fail(
    code,
    readable(err.code, err.summary ?? err.message ?? String(e)),
    range.start,
    range.end,
    expression,
  );
}

function readable(code: string | undefined, summary: string): string {
  const first = summary.split("\n")[0] ?? "";
  const m = /^[^:]*:\s*(.*)$/.exec(first);
  switch (code) {
    case "unknown_variable":
      return `unknown variable \`${m?.[1] ?? ""}\``;
    case "no_such_key":
      return `undeclared field \`${m?.[1] ?? ""}\``;
  }
  const text = first
    .replace(/'([^']*)'/g, "`$1`")
    .replace(/\.$/, "")
    .trim();
  return text.charAt(0).toLowerCase() + text.slice(1);
}
