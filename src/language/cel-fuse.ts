import { type CelOptions, checkCel, RT } from "./cel.js";
import { badTest, Gen, type SharedLoads, type Val } from "./cel-codegen.js";
import { MAX_LIST, type TotalLoads, totalForm } from "./cel-total.js";
import type { CelT } from "./cel-types.js";
import { budget, EVAL_BUDGET } from "./cel-values.js";
import { ProofWalk, type WalkLocals } from "./input-proof.js";
import type { CheckedRulesEvaluator, RulesEvaluator } from "./plan.js";

// several conditions over one input schema → one JavaScript function. Each condition keeps its
// own code, try/catch and budget, exactly as compileCel makes it; what the group shares is the
// loading of `input`'s message fields, done once up front. When a shared message is not where
// the schema says (missing, wrong type), the group runs each condition's own function instead,
// so every error stays exactly what that condition alone would raise.

/** What a proving group (`PolicyPlan.evaluateChecked`) returns for an input it cannot vouch for. */
export const NOT_PROVEN = -2;

/** A fused group: its evaluators, as a policy's plan holds them (`PolicyPlan`). */
export interface FusedGroup {
  readonly evaluate: RulesEvaluator;
  readonly evaluateChecked?: CheckedRulesEvaluator;
}

// groups of at most this many conditions report a mask (bits stay small integers)
const MASKED = 30;

/** One condition of a group: its CEL text and the test compiled from it alone. */
export interface GroupMember {
  readonly expression: string;
  readonly test: (input: unknown) => boolean;
}

// member tests in the conditions' code until rendered (Loads.member): a control character cannot
// come from a JSON-escaped literal
const MARK = "\u0001";
const MARKER = new RegExp(`${MARK}(\\d+)${MARK}`, "g");

// what a line of the prologue does: load a field, check a value's type (implied by a passing
// proof walk), check a message is there, or check a field read has its own key
type Step = "load" | "type" | "message" | "own";

// message fields read from `input`, each loaded once; a message is checked once, before any use,
// and so is every field a total form reads (absent, or of its declared type)
class Loads implements SharedLoads, TotalLoads, WalkLocals {
  private readonly locals = new Map<string, string>();
  private readonly roots = new Set<string>();
  private readonly proven = new Set<string>();
  // proven string lists, and per list the constants the conditions look for in it (bit each)
  private readonly stringLists = new Set<string>();
  private readonly items = new Map<string, Map<string, number>>();
  private readonly markers: {
    readonly local: string;
    readonly item: string;
    readonly bit: number;
  }[] = [];
  private readonly steps: { readonly step: Step; readonly code: string; readonly local: string }[] =
    [];

  constructor(
    root: CelT,
    private readonly slow: string,
  ) {
    const bad = badTest("input", root, false);
    if (bad)
      this.steps.push({ step: "type", code: `if (${bad}) { ${this.slow} }`, local: "input" });
    if (root.kind === "message") this.roots.add("input");
  }

  /** Every load and check, in order: the plain group's prologue. */
  get prologue(): string[] {
    return this.steps.map((s) => s.code);
  }

  /**
   * The prologue after a passing proof walk, which loaded every field and proved its type: a
   * message field may still be absent, and a field read for `has()` must be checked for its own key.
   */
  provenPrologue(): string[] {
    return this.steps.flatMap((s) => {
      if (s.step === "message") return [`if (${s.local} === undefined) { ${this.slow} }`];
      return s.step === "own" ? [s.code] : [];
    });
  }

  local(parent: string, name: string): string | undefined {
    return this.locals.get(`${parent}\u0000${name}`);
  }

  field(parent: Val, name: string, t: CelT): string | undefined {
    // untrusted: fields named like Object.prototype members go through rt.field at each use
    if (!this.roots.has(parent.js) || name in Object.prototype) return undefined;
    const key = `${parent.js}\u0000${name}`;
    let local = this.locals.get(key);
    if (local === undefined) {
      local = `h${this.locals.size}`;
      this.locals.set(key, local);
      this.steps.push({
        step: "load",
        code: `${local} = ${parent.js}[${JSON.stringify(name)}];`,
        local,
      });
      if (t.kind === "message") {
        const code = `if (${badTest(local, t, false)}) { ${this.slow} }`;
        this.steps.push({ step: "message", code, local });
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
        if (t.elem.kind === "string") {
          bad = `!rt.isStringList(${local}, ${MAX_LIST})`;
          this.stringLists.add(local);
        }
        break;
    }
    if (bad === undefined) return false;
    const code = `if (${local} !== undefined && (${bad})) { ${this.slow} }`;
    this.steps.push({ step: "type", code, local });
    this.proven.add(local);
    return true;
  }

  proveOwn(local: string, parent: string, name: string): void {
    const key = `${local}\u0000own`;
    if (this.proven.has(key)) return;
    this.proven.add(key);
    const has = `Object.hasOwn(${parent}, ${JSON.stringify(name)})`;
    this.steps.push({
      step: "own",
      code: `if ((${local} === undefined) === ${has}) { ${this.slow} }`,
      local,
    });
  }

  // a member test is written as a marker (MARK) and rendered per form: a scan in the plain
  // group, a bit the proof walk set when the walk proves the input (it looks at every element).
  // (Strings compared with constants stay comparisons: a switch in the walk made `npm run bench`
  // slower.)
  member(local: string, item: string): string | undefined {
    if (!this.stringLists.has(local)) return undefined;
    let items = this.items.get(local);
    if (!items) {
      items = new Map();
      this.items.set(local, items);
    }
    let bit = items.get(item);
    if (bit === undefined) {
      // one bit per constant: at most 30, so the bits stay a small integer
      if (items.size >= 30) return undefined;
      bit = items.size;
      items.set(item, bit);
    }
    this.markers.push({ local, item, bit });
    return `${MARK}${this.markers.length - 1}${MARK}`;
  }

  members(
    local: string,
  ): { readonly bits: string; readonly items: ReadonlyMap<string, number> } | undefined {
    const items = this.items.get(local);
    return items && { bits: `b${local}`, items };
  }

  /** Conditions' code with their member tests as scans (plain) or as the walk's bits (proven). */
  render(code: string, proven: boolean): string {
    return code.replace(MARKER, (_, id: string) => {
      const m = this.markers[Number(id)];
      if (!m) throw new Error(`no member test ${id}`);
      return proven
        ? `((b${m.local} & ${1 << m.bit}) !== 0)`
        : `${m.local}.includes(${JSON.stringify(m.item)})`;
    });
  }

  declarations(proven = false): string {
    const names = [...this.locals.values()];
    if (proven) for (const local of this.items.keys()) names.push(`b${local} = 0`);
    return names.length === 0 ? "" : `var ${names.join(", ")};`;
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
): FusedGroup | undefined {
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
      // with a mask, the mask and the error mask say it all: no outcome is stored
      const hit = (v: "1" | "2") =>
        masked ? `m |= ${2 ** i};${v === "2" ? ` f |= ${2 ** i};` : ""}` : `out[${i}] = ${v};`;
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
  // with a mask, the outcome after the last is the mask of those that are errors (the others
  // matched)
  const done = masked ? `out[${members.length}] = f;\nreturn m;` : "return -1;";
  const each = guarded.map((g, i) => g ?? (careful[i] as string));
  // the usual case, every field the total forms read present: they run with no more checks
  const common =
    needs.size === 0 || fast.every((f) => f === undefined)
      ? []
      : [
          `if (${[...needs].map((n) => `${n} !== undefined`).join(" && ")}) {`,
          ...fast.map((f, i) => f ?? (careful[i] as string)),
          done,
          "}",
        ];
  const conditions = ["var m = 0, f = 0;", ...common, ...each, done, "};"];
  const source = [
    `"use strict";\nreturn function celConditions(input, out, errs) {`,
    gen.declarations(),
    loads.declarations(),
    ...loads.prologue,
    loads.render(conditions.join("\n"), false),
  ].join("\n");
  // invariant: the source holds only generated names, JSON-escaped literals and constant references
  const make = (text: string) => new Function("rt", "k", "B", text)(RT, gen.consts, budget);
  const proving = checkedSource(types.root, loads, conditions, gen.declarations());
  const evaluate = make(source) as RulesEvaluator;
  if (proving === undefined) return { evaluate };
  return { evaluate, evaluateChecked: make(proving) as CheckedRulesEvaluator };
}

// the group behind a proof walk that loads the fields the conditions read: the walk proved every
// type the plain prologue checks, so only the checks it cannot make are left
function checkedSource(
  root: CelT,
  loads: Loads,
  conditions: readonly string[],
  declarations: string,
): string | undefined {
  if (root.kind !== "message") return undefined;
  const fail = `return ${NOT_PROVEN};`;
  const walk = new ProofWalk(fail, loads);
  let body: string;
  try {
    body = walk.node(root, "input", 1);
  } catch {
    return undefined;
  }
  return [
    `"use strict";\nreturn function celConditionsChecked(input, out, errs, maxBytes, maxDepth) {`,
    declarations,
    loads.declarations(true),
    walk.declarations(),
    `if (maxDepth < ${walk.depth}) ${fail}`,
    "var n = 0;",
    body,
    `if (n > maxBytes) ${fail}`,
    ...loads.provenPrologue(),
    loads.render(conditions.join("\n"), true),
  ].join("\n");
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
