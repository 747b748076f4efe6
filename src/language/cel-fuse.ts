import { type CelOptions, checkCel, RT } from "./cel.js";
import { badTest, Gen, type SharedLoads, type Val } from "./cel-codegen.js";
import type { CelT } from "./cel-types.js";
import { budget, EVAL_BUDGET } from "./cel-values.js";

// several conditions over one input schema → one JavaScript function. Each condition keeps its
// own code, try/catch and budget, exactly as compileCel makes it; what the group shares is the
// loading of `input`'s message fields, done once up front. When a shared message is not where
// the schema says (missing, wrong type), the group runs each condition's own function instead,
// so every error stays exactly what that condition alone would raise.

/** What a fused group reports per condition: 0 false, 1 true, 2 error (the error is in `errors`). */
export type GroupEvaluator = (input: unknown, outcome: Int8Array, errors: unknown[]) => void;

/** One condition of a group: its CEL text and the test compiled from it alone. */
export interface GroupMember {
  readonly expression: string;
  readonly test: (input: unknown) => boolean;
}

// message fields read from `input`, each loaded once; a message is checked once, before any use
class Loads implements SharedLoads {
  private readonly locals = new Map<string, string>();
  private readonly roots = new Set<string>();
  readonly prologue: string[] = [];

  constructor(
    root: CelT,
    private readonly slow: string,
  ) {
    const bad = badTest("input", root, false);
    if (bad) this.prologue.push(`if (${bad}) { ${this.slow}; return; }`);
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
        this.prologue.push(`if (${badTest(local, t, false)}) { ${this.slow}; return; }`);
        this.roots.add(local);
      }
    }
    return local;
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
  const slow = gen.k((input: unknown, out: Int8Array, errs: unknown[]) =>
    runEach(tests, input, out, errs),
  );
  const loads = new Loads(types.root, `${slow}(input, out, errs)`);
  gen.shared = loads;
  const bodies: string[] = [];
  try {
    for (const [i, c] of checked.entries()) {
      if (!c.ok || c.types !== types) return undefined;
      const body = gen.block(() => gen.value(c.ast));
      const r = body.result;
      if (r.t.kind !== "bool" && r.t.kind !== "dyn") return undefined;
      const holds = r.t.kind === "bool" ? r.js : `rt.toCondition(${r.js})`;
      // per condition: its own budget (as its own function resets it) and its own error
      bodies.push(
        `B.left = ${EVAL_BUDGET};\ntry {\n${body.code}\nout[${i}] = ${holds} ? 1 : 0;\n} catch (e) { out[${i}] = 2; errs[${i}] = rt.outside(e); }`,
      );
    }
  } catch {
    // a condition this generator cannot fuse: its own function still runs it
    return undefined;
  }
  const source = [
    `"use strict";\nreturn function celConditions(input, out, errs) {`,
    gen.declarations(),
    loads.declarations(),
    ...loads.prologue,
    ...bodies,
    "};",
  ].join("\n");
  // invariant: the source holds only generated names, JSON-escaped literals and constant references
  return new Function("rt", "k", "B", source)(RT, gen.consts, budget) as GroupEvaluator;
}

// the unfused path: each condition's own function, one by one
function runEach(
  tests: readonly ((input: unknown) => boolean)[],
  input: unknown,
  out: Int8Array,
  errs: unknown[],
): void {
  for (let i = 0; i < tests.length; i++) {
    try {
      out[i] = (tests[i] as (input: unknown) => boolean)(input) ? 1 : 0;
    } catch (e) {
      out[i] = 2;
      errs[i] = e;
    }
  }
}
