import assert from "node:assert/strict";
import { test } from "node:test";
import { compile, type PolicySet, Source } from "../language/index.js";
import { diffSets } from "./diff.js";

const NOW = Date.parse("2026-11-28T00:00:00Z");
const PROJECT = `apiVersion: stele/v1
kind: Project
metadata:
  name: demo
spec: {}
`;

function set(rules: string, extra: Record<string, string> = {}, def = "allow"): PolicySet {
  const sources = [
    new Source("stele.yaml", PROJECT),
    new Source(
      "policies/p.yaml",
      `apiVersion: stele/v1
kind: Policy
metadata:
  name: p
spec:
  default: ${def}
  rules:
${rules}`,
    ),
    ...Object.entries(extra).map(([f, t]) => new Source(f, t)),
  ];
  const result = compile(sources, { now: NOW });
  assert.ok(result.ok, JSON.stringify(result.diagnostics));
  return result.set;
}

const deny = (name: string, when: string, extra = "") =>
  `    - name: ${name}\n      effect: deny\n      when: ${JSON.stringify(when)}\n${extra}`;
const allow = (name: string, when: string) =>
  `    - name: ${name}\n      effect: allow\n      when: ${JSON.stringify(when)}\n`;

const exception = (expires: string, when = "input.who == 'alice'") => ({
  "exceptions/x.yaml": `apiVersion: stele/v1
kind: Exception
metadata:
  name: x
spec:
  policy: p
  rules: [d]
  when: ${JSON.stringify(when)}
  expires: ${expires}
  owner: alice@example.com
  justification: incident
`,
});

test("identical sets are equivalent", () => {
  const a = set(deny("d", "input.x == 1"));
  assert.deepEqual(diffSets(a, set(deny("d", "input.x == 1"))), {
    class: "equivalent",
    changes: [],
  });
});

test("removing a deny rule is weakening", () => {
  const r = diffSets(
    set(deny("d", "input.x == 1") + deny("e", "input.y == 1")),
    set(deny("d", "input.x == 1")),
  );
  assert.equal(r.class, "weakening");
  assert.equal(r.changes[0]?.subject, "policy/p/e");
});

test("adding an allow rule is weakening, adding a deny rule is strengthening", () => {
  const base = set(deny("d", "input.x == 1"));
  assert.equal(
    diffSets(base, set(deny("d", "input.x == 1") + allow("a", "input.y == 1"))).class,
    "weakening",
  );
  assert.equal(
    diffSets(base, set(deny("d", "input.x == 1") + deny("e", "input.y == 1"))).class,
    "strengthening",
  );
});

test("deny to allow, enforce to warn, and default deny to allow are weakening", () => {
  assert.equal(
    diffSets(set(deny("d", "input.x == 1")), set(allow("d", "input.x == 1"))).class,
    "weakening",
  );
  assert.equal(
    diffSets(
      set(deny("d", "input.x == 1")),
      set(deny("d", "input.x == 1", "      enforcement: warn\n")),
    ).class,
    "weakening",
  );
  assert.equal(
    diffSets(set(deny("d", "false"), {}, "deny"), set(deny("d", "false"), {}, "allow")).class,
    "weakening",
  );
  assert.equal(
    diffSets(set(deny("d", "false"), {}, "allow"), set(deny("d", "false"), {}, "deny")).class,
    "strengthening",
  );
});

test("a changed deny condition is weakening unless it provably widens", () => {
  const base = set(deny("d", "input.x == 1"));
  assert.equal(diffSets(base, set(deny("d", "input.x == 2"))).class, "weakening");
  assert.equal(
    diffSets(base, set(deny("d", "input.x == 1 || input.x == 2"))).class,
    "strengthening",
  );
  // `?:` binds looser than `||`: this is not a superset of the old condition
  assert.equal(
    diffSets(base, set(deny("d", "input.x == 1 || input.y ? false : true"))).class,
    "weakening",
  );
});

test("a changed allow condition is weakening unless it provably narrows", () => {
  const base = set(allow("a", "input.x == 1 || input.y == 1"));
  assert.equal(
    diffSets(base, set(allow("a", "(input.x == 1 || input.y == 1) && input.z == 1"))).class,
    "strengthening",
  );
  // `&&` binds tighter than `||`: `x || (y && z)` matches only where `x || y` did
  assert.equal(
    diffSets(base, set(allow("a", "input.x == 1 || input.y == 1 && input.z == 1"))).class,
    "strengthening",
  );
  // but `(x || y) || z` matches more
  assert.equal(
    diffSets(base, set(allow("a", "input.x == 1 || input.y == 1 || input.z == 1"))).class,
    "weakening",
  );
});

test("a deny list or bound widened is strengthening, narrowed is weakening, rewritten is neutral", () => {
  const cls = (a: string, b: string) => diffSets(set(deny("d", a)), set(deny("d", b))).class;
  const kind = "input.statement.kind";
  assert.equal(cls(`${kind} in ['DROP']`, `${kind} in ['DROP', 'TRUNCATE']`), "strengthening");
  assert.equal(cls(`${kind} in ['DROP', 'TRUNCATE']`, `${kind} in ['DROP']`), "weakening");
  assert.equal(cls(`${kind} == 'DROP'`, `${kind} in ['TRUNCATE', 'DROP']`), "strengthening");
  assert.equal(cls("input.rows > 1000", "input.rows > 100"), "strengthening");
  assert.equal(cls("input.rows > 1000", "input.rows >= 1000"), "strengthening");
  assert.equal(cls("input.rows >= 1000", "input.rows > 1000"), "weakening");
  assert.equal(cls("1000 < input.rows", "input.rows > 999"), "strengthening");
  assert.equal(cls("input.rows < 10", "input.rows < 100"), "strengthening");
  assert.equal(cls("input.rows < 10", "input.other < 100"), "weakening");
  // a condition of the same parts in another order matches the same inputs
  assert.equal(
    cls(`${kind} == 'DROP' && input.env == 'prod'`, `input.env == 'prod'  &&  ${kind} == 'DROP'`),
    "equivalent",
  );
  // the parts are the same, but one side was widened: a deny that matches more
  assert.equal(
    cls(
      `input.env == 'prod' && ${kind} in ['DROP']`,
      `input.env == 'prod' && ${kind} in ['DROP', 'TRUNCATE']`,
    ),
    "strengthening",
  );
});

test("an exception added or extended is weakening; removed or shortened is strengthening", () => {
  const rules = deny("d", "input.x == 1");
  const none = set(rules);
  const short = set(rules, exception("2026-12-01T00:00:00Z"));
  const long = set(rules, exception("2026-12-04T00:00:00Z"));
  assert.equal(diffSets(none, short).class, "weakening");
  assert.equal(diffSets(short, long).class, "weakening");
  assert.equal(diffSets(long, short).class, "strengthening");
  assert.equal(diffSets(short, none).class, "strengthening");
});

test("a deny an exception may waive is stronger only if it still fails wherever it failed (a failing deny is never waived)", () => {
  const waiver = exception("2026-12-01T00:00:00Z");
  const cls = (a: string, b: string) =>
    diffSets(set(deny("d", a), waiver), set(deny("d", b), waiver)).class;
  // a review's case: the old condition failed on `roles: []` (denied, unwaivable); the new one is
  // true there, and the exception waives it
  assert.equal(
    cls("input.kind == 'DROP' && input.roles[0] != 'owner'", "input.kind == 'DROP'"),
    "weakening",
  );
  assert.equal(cls("input.x == 1", "input.x == 1 || input.y == 1"), "weakening");
  // a list widened beside a condition kept fails where it failed: still strengthening
  assert.equal(
    cls(
      "input.env == 'prod' && input.kind in ['DROP']",
      "input.env == 'prod' && input.kind in ['DROP', 'TRUNCATE']",
    ),
    "strengthening",
  );
  // without an exception, the first is a widened deny
  assert.equal(
    diffSets(
      set(deny("d", "input.kind == 'DROP' && input.roles[0] != 'owner'")),
      set(deny("d", "input.kind == 'DROP'")),
    ).class,
    "strengthening",
  );
});

test("a message change is neutral", () => {
  const r = diffSets(
    set(deny("d", "input.x == 1", "      message: a\n")),
    set(deny("d", "input.x == 1", "      message: b\n")),
  );
  assert.equal(r.class, "equivalent");
  assert.equal(r.changes[0]?.class, "neutral");
});
