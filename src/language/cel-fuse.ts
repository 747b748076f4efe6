import { type CelOptions, checkCel, RT } from "./cel.js";
import { badTest, Gen, type SharedLoads, type Val } from "./cel-codegen.js";
import { MAX_LIST, type TotalLoads, totalForm } from "./cel-total.js";
import type { CelT } from "./cel-types.js";
import { budget, EVAL_BUDGET } from "./cel-values.js";

// several conditions over one input schema → one JavaScript function. Each condition keeps its
// own code, try/catch and budget, exactly as compileCel makes it; what the group shares is the
// loading of `input`'s message fields, done once up front. When a shared message is not where
// the schema says (missing, wrong type), the group runs each condition's own function instead,
// so every error stays exactly what that condition alone would raise.

/**
 * What a fused group reports per condition: 0 false, 1 true, 2 error (the error is in `errors`).
 * It returns a bit mask of the conditions that were not false, or -1: look at every outcome.
 */
export type GroupEvaluator = (input: unknown, outcome: number[], errors: unknown[]) => number;

// groups of at most this many conditions report a mask (bits stay small integers)
const MASKED = 30;

/** One condition of a group: its CEL text and the test compiled from it alone. */
export interface GroupMember {
  readonly expression: string;
  readonly test: (input: unknown) => boolean;
}

// message fields read from `input`, each loaded once; a message is checked once, before any use,
// and so is every field a total form reads (absent, or of its declared type)
class Loads implements SharedLoads, TotalLoads {
  private readonly locals = new Map<string, string>();
  private readonly roots = new Set<string>();
  private readonly proven = new Set<string>();
  readonly prologue: string[] = [];

  constructor(
    root: CelT,
    private readonly slow: string,
  ) {
    const bad = badTest("input", root, false);
    if (bad) this.prologue.push(`if (${bad}) { ${this.slow} }`);
    if (root.kind === "message") this.roots.add("input");
  }

  field(parent: Val, name: string, t: CelT): string | undefined {
    // untrusted: fields named like Object.prototype members go through rt.field at each use
    if (!this.roots.has(parent.js) || name in Object.prototype) return undefined;
    const key = `${parent.js}\u0000${name}`;
    let local = this.locals.get(key);
    if (local === undefined) {
      local = `h${this.locals.size}`;
      this.locals.set(key, local);
      this.prologue.push(`${local} = ${parent.js}[${JSON.stringify(name)}];`);
      if (t.kind === "message") {
        this.prologue.push(`if (${badTest(local, t, false)}) { ${this.slow} }`);
        this.roots.add(local);
      }
    }
    return local;
  }

  prove(local: string, t: CelT): boolean {
    if (this.proven.has(local)) return true;
    let bad: string | undefined;
    switch (t.kind) {
      case "string":
      case "bool":
      case "int":
      case "double":
        bad = badTest(local, t, false);
        break;
      case "list":
        if (t.elem.kind === "string") bad = `!rt.isStringList(${local}, ${MAX_LIST})`;
        break;
    }
    if (bad === undefined) return false;
    this.prologue.push(`if (${local} !== undefined && (${bad})) { ${this.slow} }`);
    this.proven.add(local);
    return true;
  }

  proveOwn(local: string, parent: string, name: string): void {
    const key = `${local}\u0000own`;
    if (this.proven.has(key)) return;
    this.proven.add(key);
    this.prologue.push(
      `if ((${local} === undefined) === Object.hasOwn(${parent}, ${JSON.stringify(name)})) { ${this.slow} }`,
    );
  }

  declarations(): string {
    return this.locals.size === 0 ? "" : `var ${[...this.locals.values()].join(", ")};`;
  }
}

/**
 * Compiles conditions over one input schema into one function that fills in every condition's
 * outcome, with the same value or error each condition's own test gives. Returns undefined when
 * the group cannot be fused; the caller then runs the tests one by one.
 */
export function compileCelGroup(
  members: readonly GroupMember[],
  options: CelOptions = {},
): GroupEvaluator | undefined {
  const checked = members.map((m) => checkCel(m.expression, options));
  const first = checked[0];
  if (!first?.ok) return undefined;
  const types = first.types;
  const gen = new Gen(types.messages, types.root);
  const tests = members.map((m) => m.test);
  const slow = gen.k((input: unknown, out: number[], errs: unknown[]) =>
    runEach(tests, input, out, errs),
  );
  const loads = new Loads(types.root, `return ${slow}(input, out, errs);`);
  gen.shared = loads;
  // outcomes of rules below MASKED go in a bit mask as well, so the caller visits only the hits
  // (and false outcomes need no store); a larger group stores every outcome and returns -1
  const masked = members.length <= MASKED;
  const careful: string[] = [];
  // per condition: its total form's code, and that code behind its own presence checks
  const fast: (string | undefined)[] = [];
  const guarded: (string | undefined)[] = [];
  const needs = new Set<string>();
  try {
    for (const [i, c] of checked.entries()) {
      if (!c.ok || c.types !== types) return undefined;
      const body = gen.block(() => gen.value(c.ast));
      const r = body.result;
      if (r.t.kind !== "bool" && r.t.kind !== "dyn") return undefined;
      const holds = r.t.kind === "bool" ? r.js : `rt.toCondition(${r.js})`;
      const hit = (v: string) =>
        masked ? `out[${i}] = ${v}; m |= ${2 ** i};` : `out[${i}] = ${v};`;
      const miss = masked ? "" : ` else out[${i}] = 0;`;
      // per condition: its own budget (as its own function resets it) and its own error
      careful.push(
        `B.left = ${EVAL_BUDGET};\ntry {\n${body.code}\nif (${holds}) { ${hit("1")} }${miss}\n} catch (e) { ${hit("2")} errs[${i}] = rt.outside(e); }`,
      );
      const total = totalForm(c.ast, types.root, loads);
      const code = total && `if (${total.js}) { ${hit("1")} }${miss}`;
      const present = total?.needs.map((n) => `${n} !== undefined`).join(" && ");
      for (const n of total?.needs ?? []) needs.add(n);
      fast.push(code);
      guarded.push(present ? `if (${present}) {\n${code}\n} else {\n${careful[i]}\n}` : code);
    }
  } catch {
    // a condition this generator cannot fuse: its own function still runs it
    return undefined;
  }
  const done = masked ? "return m;" : "return -1;";
  const each = guarded.map((g, i) => g ?? careful[i]);
  // the usual case, every field the total forms read present: they run with no more checks
  const common =
    needs.size === 0 || fast.every((f) => f === undefined)
      ? []
      : [
          `if (${[...needs].map((n) => `${n} !== undefined`).join(" && ")}) {`,
          ...fast.map((f, i) => f ?? careful[i]),
          done,
          "}",
        ];
  const source = [
    `"use strict";\nreturn function celConditions(input, out, errs) {`,
    gen.declarations(),
    loads.declarations(),
    ...loads.prologue,
    "var m = 0;",
    ...common,
    ...each,
    done,
    "};",
  ].join("\n");
  // invariant: the source holds only generated names, JSON-escaped literals and constant references
  return new Function("rt", "k", "B", source)(RT, gen.consts, budget) as GroupEvaluator;
}

/**
 * The unfused path: each condition's own function, one by one, filling every outcome (0 false,
 * 1 true, 2 error with the error in `errs`); returns -1 (look at every outcome).
 */
export function runEach(
  tests: readonly ((input: unknown) => boolean)[],
  input: unknown,
  out: number[],
  errs: unknown[],
): number {
  for (let i = 0; i < tests.length; i++) {
    try {
      out[i] = (tests[i] as (input: unknown) => boolean)(input) ? 1 : 0;
    } catch (e) {
      out[i] = 2;
      errs[i] = e;
    }
  }
  return -1;
}
