import { type Position, SteleError } from "../errors.js";
import type { Effect, PolicySet, TestCasePlan, TestPlan } from "../language/index.js";
import { type Decision, decide } from "./decide.js";

/** One case's outcome: what was expected, what happened, and each way they differ. */
export interface CaseResult {
  readonly test: string;
  readonly case: string;
  readonly ok: boolean;
  readonly expected: Effect;
  readonly actual: Effect | undefined;
  /** Human-readable differences, empty when the case passed. */
  readonly problems: readonly string[];
  readonly position: Position;
  readonly decision: Decision | undefined;
}

/** Every case of every test document, and the totals. */
export interface TestReport {
  readonly results: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
}

/** Runs every test document's cases; the clock is the case's `now`, the test's, or `now`. */
export function runTests(set: PolicySet, options: { now: number; bundle?: string }): TestReport {
  const results: CaseResult[] = [];
  for (const test of set.tests) {
    for (const c of test.cases) results.push(runCase(set, test, c, options));
  }
  const failed = results.filter((r) => !r.ok).length;
  return { results, passed: results.length - failed, failed };
}

function runCase(
  set: PolicySet,
  test: TestPlan,
  c: TestCasePlan,
  options: { now: number; bundle?: string },
): CaseResult {
  const at = c.now ?? test.now;
  const now = at === undefined ? options.now : Date.parse(at);
  const base = { test: test.name, case: c.name, expected: c.expect, position: c.position };
  let decision: Decision;
  try {
    decision = decide(
      set,
      { policies: test.policies, subject: test.subject, input: c.input },
      { now, bundle: options.bundle },
    );
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    return { ...base, ok: false, actual: undefined, problems: [e.message], decision: undefined };
  }
  const problems: string[] = [];
  if (decision.decision !== c.expect)
    problems.push(`expected ${c.expect}, got ${decision.decision}${because(decision)}`);
  const matched = decision.policies.flatMap((p) => p.matched);
  compareSet(problems, "matched rules", c.rules, matched);
  compareSet(
    problems,
    "exceptions used",
    c.exceptions,
    decision.exceptions.map((e) => e.name),
  );
  compareSet(
    problems,
    "warnings",
    c.warnings,
    decision.policies.flatMap((p) => p.warned),
  );
  for (const e of decision.errors)
    problems.push(
      `evaluation error in ${e.policy ?? "input"}${e.rule ? `/${e.rule}` : ""}: ${e.message}`,
    );
  return { ...base, ok: problems.length === 0, actual: decision.decision, problems, decision };
}

function because(decision: Decision): string {
  const reasons = decision.policies.flatMap((p) =>
    p.reasons.map((r) => `${p.policy}/${r.rule} (${r.effect})`),
  );
  if (reasons.length > 0) return ` (matched: ${reasons.join(", ")})`;
  const defaults = decision.policies.map((p) => `${p.policy}: default ${p.effect}`);
  return ` (no rule matched; ${defaults.join(", ")})`;
}

function compareSet(
  problems: string[],
  what: string,
  expected: readonly string[] | undefined,
  actual: readonly string[],
): void {
  if (expected === undefined) return;
  const want = new Set(expected);
  const got = new Set(actual);
  const missing = [...want].filter((x) => !got.has(x));
  const extra = [...got].filter((x) => !want.has(x));
  if (missing.length === 0 && extra.length === 0) return;
  const parts = [
    ...(missing.length > 0 ? [`missing ${missing.map((x) => `\`${x}\``).join(", ")}`] : []),
    ...(extra.length > 0 ? [`unexpected ${extra.map((x) => `\`${x}\``).join(", ")}`] : []),
  ];
  problems.push(`${what}: ${parts.join("; ")}`);
}
