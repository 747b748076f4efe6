import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { ExceptionPlan, PolicyPlan, PolicySet, RulePlan } from "../language/index.js";
import { DEFAULT_LIMITS } from "../language/index.js";
import { decide } from "./decide.js";

const at = { file: "policies/p.yaml", line: 1, col: 1 };
const NOW = Date.parse("2026-11-28T00:00:00Z");

function rule(
  name: string,
  effect: "allow" | "deny",
  test: (input: unknown) => boolean,
  enforcement: "enforce" | "warn" = "enforce",
): RulePlan {
  return {
    name,
    effect,
    enforcement,
    message: `${name} message`,
    when: { source: name, test },
    position: at,
  };
}

function policy(
  name: string,
  def: "allow" | "deny",
  rules: RulePlan[],
  subject?: string,
): PolicyPlan {
  return { name, description: undefined, subject, default: def, rules, position: at };
}

function exception(
  name: string,
  policyName: string,
  rules: string[],
  expires: string,
  test: (input: unknown) => boolean,
): ExceptionPlan {
  return {
    name,
    description: undefined,
    policy: policyName,
    rules,
    when: { source: name, test },
    expires,
    expiresAt: Date.parse(expires),
    owner: "o@example.com",
    justification: "because",
    position: at,
  };
}

function set(policies: PolicyPlan[], exceptions: ExceptionPlan[] = []): PolicySet {
  return {
    project: {
      name: "t",
      reviewers: [],
      environments: [],
      exceptions: { maxDuration: "7d", maxDurationMs: 7 * 86_400_000 },
      limits: DEFAULT_LIMITS,
    },
    policies,
    exceptions,
    tests: [],
    schemas: {},
  };
}

const yes = () => true;
const no = () => false;
const boom = () => {
  throw new Error("no such key: x");
};

test("a matching enforced deny wins over a matching allow", () => {
  const d = decide(
    set([policy("p", "allow", [rule("a", "allow", yes), rule("d", "deny", yes)])]),
    { input: {} },
    { now: NOW },
  );
  assert.equal(d.decision, "deny");
  assert.deepEqual(d.policies[0]?.matched, ["a", "d"]);
});

test("a matching allow beats a default deny", () => {
  const d = decide(
    set([policy("p", "deny", [rule("a", "allow", yes), rule("d", "deny", no)])]),
    { input: {} },
    { now: NOW },
  );
  assert.equal(d.decision, "allow");
  assert.deepEqual(d.policies[0]?.reasons, [{ rule: "a", effect: "allow", message: "a message" }]);
});

test("with no rule matching the default decides", () => {
  assert.equal(
    decide(set([policy("p", "deny", [rule("a", "allow", no)])]), { input: {} }, { now: NOW })
      .decision,
    "deny",
  );
  assert.equal(
    decide(set([policy("p", "allow", [rule("d", "deny", no)])]), { input: {} }, { now: NOW })
      .decision,
    "allow",
  );
});

test("a warn rule reports and never blocks", () => {
  const d = decide(
    set([policy("p", "allow", [rule("w", "deny", yes, "warn")])]),
    { input: {} },
    { now: NOW },
  );
  assert.equal(d.decision, "allow");
  assert.deepEqual(d.warnings, ["p/w: w message"]);
  assert.deepEqual(d.policies[0]?.warned, ["w"]);
  assert.deepEqual(d.policies[0]?.matched, []);
});

test("a deny that fails to evaluate still denies, even under default allow", () => {
  const d = decide(
    set([policy("p", "allow", [rule("d", "deny", boom)])]),
    { input: {} },
    { now: NOW },
  );
  assert.equal(d.decision, "deny");
  assert.deepEqual(d.policies[0]?.matched, ["d"]);
  assert.equal(d.errors[0]?.code, "engine.eval_error");
  assert.equal(d.errors[0]?.rule, "d");
});

test("an allow that fails to evaluate grants nothing", () => {
  const d = decide(
    set([policy("p", "deny", [rule("a", "allow", boom)])]),
    { input: {} },
    { now: NOW },
  );
  assert.equal(d.decision, "deny");
  assert.deepEqual(d.policies[0]?.matched, []);
  assert.equal(d.errors.length, 1);
});

test("every selected policy must allow", () => {
  const s = set([policy("a", "allow", []), policy("b", "deny", [])]);
  assert.equal(decide(s, { policies: ["a"], input: {} }, { now: NOW }).decision, "allow");
  assert.equal(decide(s, { input: {} }, { now: NOW }).decision, "deny");
});

test("a subject selects every policy that judges it", () => {
  const s = set([policy("a", "allow", [], "x"), policy("b", "deny", [], "y")]);
  const d = decide(s, { subject: "x", input: {} }, { now: NOW });
  assert.deepEqual(
    d.policies.map((p) => p.policy),
    ["a"],
  );
  assert.throws(() => decide(s, { subject: "z", input: {} }, { now: NOW }), {
    code: "engine.unknown_subject",
  });
  assert.throws(() => decide(s, { policies: ["nope"], input: {} }, { now: NOW }), {
    code: "engine.unknown_policy",
  });
});

test("an unexpired exception waives the deny rules it names where its condition holds", () => {
  const s = set(
    [policy("p", "allow", [rule("d", "deny", yes), rule("e", "deny", no)])],
    [
      exception(
        "x",
        "p",
        ["d"],
        "2026-12-05T00:00:00.000Z",
        (i) => (i as { who: string }).who === "alice",
      ),
    ],
  );
  const alice = decide(s, { input: { who: "alice" } }, { now: NOW });
  assert.equal(alice.decision, "allow");
  assert.deepEqual(alice.exceptions, [
    { name: "x", policy: "p", rules: ["d"], expires: "2026-12-05T00:00:00.000Z" },
  ]);
  assert.equal(decide(s, { input: { who: "bob" } }, { now: NOW }).decision, "deny");
});

test("the engine stops honouring an exception the moment it expires", () => {
  const expires = "2026-12-05T00:00:00.000Z";
  const s = set(
    [policy("p", "allow", [rule("d", "deny", yes)])],
    [exception("x", "p", ["d"], expires, yes)],
  );
  assert.equal(decide(s, { input: {} }, { now: Date.parse(expires) - 1 }).decision, "allow");
  assert.equal(decide(s, { input: {} }, { now: Date.parse(expires) }).decision, "deny");
});

test("an exception that fails to evaluate waives nothing", () => {
  const s = set(
    [policy("p", "allow", [rule("d", "deny", yes)])],
    [exception("x", "p", ["d"], "2026-12-05T00:00:00Z", boom)],
  );
  const d = decide(s, { input: {} }, { now: NOW });
  assert.equal(d.decision, "deny");
  assert.equal(d.errors[0]?.exception, "x");
});

test("an exception never waives a deny that failed to evaluate", () => {
  const s = set(
    [policy("p", "allow", [rule("d", "deny", boom)])],
    [exception("x", "p", ["d"], "2026-12-05T00:00:00Z", yes)],
  );
  assert.equal(decide(s, { input: {} }, { now: NOW }).decision, "deny");
});

test("an input nested past the limit is denied without evaluating any rule", () => {
  let deep: unknown = {};
  for (let i = 0; i < 200_000; i++) deep = { a: deep };
  let ran = false;
  const s = set([
    policy("p", "allow", [
      rule("a", "allow", () => {
        ran = true;
        return true;
      }),
    ]),
  ]);
  const d = decide(s, { input: deep }, { now: NOW });
  assert.equal(d.decision, "deny");
  assert.equal(d.errors[0]?.code, "engine.input_too_deep");
  assert.equal(ran, false);
});

test("an input over the size limit is denied", () => {
  const s = set([policy("p", "allow", [])]);
  const d = decide(s, { input: { big: "x".repeat(DEFAULT_LIMITS.maxInputBytes) } }, { now: NOW });
  assert.equal(d.decision, "deny");
  assert.equal(d.errors[0]?.code, "engine.input_too_large");
});

test("an input that is not a JSON value is denied", () => {
  const s = set([policy("p", "allow", [])]);
  for (const input of [{ n: Number.NaN }, { f: () => 1 }, { d: new Date() }, { b: 1n }])
    assert.equal(decide(s, { input }, { now: NOW }).decision, "deny");
});

test("combining is deny-monotone: making any rule match more never turns a deny into an allow", () => {
  // property: for the same rules, a superset of matching deny rules never flips deny to allow
  const arb = fc.array(
    fc.record({
      effect: fc.constantFrom("allow" as const, "deny" as const),
      a: fc.boolean(),
      b: fc.boolean(),
      warn: fc.boolean(),
    }),
    { maxLength: 8 },
  );
  fc.assert(
    fc.property(arb, fc.constantFrom("allow" as const, "deny" as const), (rules, def) => {
      const before = policy(
        "p",
        def,
        rules.map((r, i) => rule(`r${i}`, r.effect, () => r.a, r.warn ? "warn" : "enforce")),
      );
      const after = policy(
        "p",
        def,
        rules.map((r, i) =>
          rule(
            `r${i}`,
            r.effect,
            () => r.a || (r.effect === "deny" && r.b),
            r.warn ? "warn" : "enforce",
          ),
        ),
      );
      const d1 = decide(set([before]), { input: {} }, { now: NOW }).decision;
      const d2 = decide(set([after]), { input: {} }, { now: NOW }).decision;
      return !(d1 === "deny" && d2 === "allow");
    }),
    { seed: 42, numRuns: 500 },
  );
});
