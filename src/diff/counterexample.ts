import { type DecisionRequest, decide } from "../engine/index.js";
import { SteleError } from "../errors.js";
import type { PolicySet } from "../language/index.js";

/** An input the old set denied and the new one allows: a weakening shown, not argued. */
export interface Counterexample {
  /** Where the input comes from: `test/case` of either version's tests. */
  readonly source: string;
  readonly input: unknown;
  /** The old version's enforced deny rules that matched it (`policy/rule`). */
  readonly deniedBy: readonly string[];
}

/**
 * Inputs the old set denies and the new one allows, from the tests of both versions (each case
 * judged as its test judges it, at its own time or `now`); at most `max`. None found proves
 * nothing: the diff's classes stand either way.
 */
export function counterexamples(
  old: PolicySet,
  next: PolicySet,
  now: number,
  max = 3,
): Counterexample[] {
  const found: Counterexample[] = [];
  const seen = new Set<string>();
  for (const test of [...next.tests, ...old.tests])
    for (const c of test.cases) {
      if (found.length >= max) return found;
      const request: DecisionRequest = {
        input: c.input,
        ...(test.policies !== undefined && { policies: test.policies }),
        ...(test.subject !== undefined && { subject: test.subject }),
      };
      const key = JSON.stringify(request);
      if (seen.has(key)) continue;
      seen.add(key);
      const time = c.now ?? test.now;
      const at = time === undefined ? now : Date.parse(time);
      try {
        const before = decide(old, request, { now: at });
        if (before.decision !== "deny") continue;
        if (decide(next, request, { now: at }).decision !== "allow") continue;
        found.push({
          source: `${test.name}/${c.name}`,
          input: c.input,
          deniedBy: before.policies
            .filter((p) => p.effect === "deny")
            .flatMap((p) => p.matched.map((r) => `${p.policy}/${r}`)),
        });
      } catch (e) {
        // a policy or subject one version does not have: no comparison on this case
        if (!(e instanceof SteleError)) throw e;
      }
    }
  return found;
}
