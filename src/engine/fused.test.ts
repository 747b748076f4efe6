import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import {
  checkInput,
  compile,
  makeInputProof,
  type PolicySet,
  readSources,
  Source,
} from "../language/index.js";
import { repoRoot } from "../testing/index.js";
import { decide } from "./decide.js";

// differential: the fast path (rules fused into one function, schema-shaped input check) must
// give exactly the Decision of the reference path (each rule's own function, generic checkInput)

const NOW = Date.parse("2026-11-28T00:00:00Z");
const SEED = 20261128;

const api = await (async () => {
  const r = compile(await readSources(join(repoRoot, "examples", "api")), { now: NOW });
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.set;
})();

// the same set without the fast paths: no fused evaluator, no schema for the shape check
function reference(set: PolicySet): PolicySet {
  return {
    ...set,
    policies: set.policies.map(({ evaluate: _, evaluateChecked: __, ...p }) => p),
    schemas: {},
  };
}

function withLimits(set: PolicySet, maxInputBytes: number, maxInputDepth: number): PolicySet {
  return { ...set, project: { ...set.project, limits: { maxInputBytes, maxInputDepth } } };
}

const word = fc.constantFrom(
  "read",
  "list",
  "create",
  "update",
  "delete",
  "export",
  "approve",
  "prod",
  "dev",
  "dana",
  "svc-billing",
  "ann",
  "finance",
  "sales",
  "service-config",
  "audit-log",
  "",
);
const role = fc.constantFrom(
  "reader",
  "editor",
  "approver",
  "exporter",
  "auditor",
  "admin",
  "break-glass",
  "suspended",
);
const level = fc.integer({ min: -1, max: 5 });

// a well-formed request of the api example's schema
const request = fc.record(
  {
    env: fc.constantFrom("dev", "staging", "prod"),
    action: fc.constantFrom("read", "list", "create", "update", "delete", "export", "approve"),
    principal: fc.record({
      id: fc.oneof(word, fc.constant("dana")),
      roles: fc.uniqueArray(role, { maxLength: 4 }),
      department: word,
      clearance: level,
      mfa: fc.boolean(),
    }),
    resource: fc.record(
      {
        type: word,
        id: fc.string({ maxLength: 6 }),
        owner: word,
        department: word,
        classification: level,
        tags: fc.uniqueArray(fc.constantFrom("pii", "legal-hold", "draft"), { maxLength: 3 }),
      },
      { requiredKeys: ["type", "id", "owner", "department", "classification"] },
    ),
  },
  { requiredKeys: [] },
);

class Point {
  constructor(readonly x = 1) {}
}

// anything a hostile caller could hand the engine in place of one value
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3, withNullPrototype: true, withBigInt: true }),
  fc.constantFrom(
    null,
    undefined,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2 ** 60,
    1.5,
    -0,
    [],
    {},
    [1, "reader"],
    ["reader", null],
    "x".repeat(5000),
    new Point(),
    () => true,
    Symbol("s"),
    new Date(0),
    JSON.parse('{"__proto__": {"x": 1}}'),
  ),
  fc.integer({ min: 1, max: 90 }).map((n) => {
    let v: unknown = "deep";
    for (let i = 0; i < n; i++) v = i % 2 ? [v] : { v };
    return v;
  }),
  fc.array(role, { minLength: 200, maxLength: 400 }),
);

// a request with one value replaced, removed, or a key added, anywhere in it
const hostile = fc.tuple(request, fc.nat(), hostileValue, fc.nat(3)).map(([r, at, value, how]) => {
  const copy = structuredClone(r) as Record<string, unknown>;
  const holders: Record<string, unknown>[] = [copy];
  for (const k of ["principal", "resource"]) {
    const o = copy[k];
    if (typeof o === "object" && o !== null) holders.push(o as Record<string, unknown>);
  }
  const holder = holders[at % holders.length] as Record<string, unknown>;
  const keys = Object.keys(holder);
  const key = keys[at % Math.max(1, keys.length)] ?? "env";
  if (how === 0) delete holder[key];
  else if (how === 1) holder.extra = value;
  else holder[key] = value;
  return copy;
});

const anyInput = fc.oneof(request, hostile, hostile, hostileValue);

function same(set: PolicySet, input: unknown, now = NOW): void {
  const fast = decide(set, { input }, { now });
  const slow = decide(reference(set), { input }, { now });
  assert.deepStrictEqual(fast, slow);
}

test("the fused path decides every api request exactly as each rule alone does", () => {
  fc.assert(
    fc.property(request, (input) => same(api, input)),
    { seed: SEED, numRuns: 3000 },
  );
});

test("the fused path decides hostile inputs exactly as each rule alone does", () => {
  fc.assert(
    fc.property(anyInput, (input) => same(api, input)),
    { seed: SEED, numRuns: 3000 },
  );
});

test("the fused path agrees under tight limits and after the exception expired", () => {
  const tight = withLimits(api, 400, 3);
  fc.assert(
    fc.property(anyInput, fc.boolean(), (input, late) => {
      same(tight, input, late ? Date.parse("2027-01-01T00:00:00Z") : NOW);
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

test("fused conditions give each rule's own value or error, without the input check", () => {
  const policy = api.policies[0];
  assert.ok(policy?.evaluate, "examples/api's policy is fused");
  const outcome = new Array<number>(policy.rules.length).fill(0);
  const errors: unknown[] = [];
  fc.assert(
    fc.property(anyInput, (input) => {
      const mask = policy.evaluate?.(input, outcome, errors) ?? -1;
      policy.rules.forEach((rule, i) => {
        const bit = 1 << i;
        const failed = outcome[policy.rules.length] ?? 0;
        const got =
          mask === -1 ? outcome[i] : (mask & bit) === 0 ? 0 : (failed & bit) !== 0 ? 2 : 1;
        let want: number;
        let message: string | undefined;
        try {
          want = rule.when.test(input) ? 1 : 0;
        } catch (e) {
          want = 2;
          message = (e as Error).message;
        }
        assert.equal(got, want, rule.name);
        if (want === 2) assert.equal((errors[i] as Error).message, message, rule.name);
      });
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

test("the schema-shaped input check never vouches for an input checkInput refuses", () => {
  for (const [bytes, depth] of [
    [1024 * 1024, 64],
    [300, 64],
    [100_000, 3],
    [100_000, 2],
  ] as const) {
    const limits = { maxInputBytes: bytes, maxInputDepth: depth };
    const proof = makeInputProof(api.schemas["api-request"]);
    assert.ok(proof);
    fc.assert(
      fc.property(anyInput, (input) => {
        if (proof(input, bytes, depth)) assert.equal(checkInput(input, limits), undefined);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  }
});

test("the schema-shaped input check vouches for well-formed requests within the limits", () => {
  const proof = makeInputProof(api.schemas["api-request"]);
  assert.ok(proof);
  const { maxInputBytes, maxInputDepth } = api.project.limits;
  fc.assert(
    fc.property(request, (input) => proof(input, maxInputBytes, maxInputDepth)),
    { seed: SEED, numRuns: 500 },
  );
  // the byte count is checkInput's, to the byte
  const input = { env: "prod" };
  const limits = { maxInputBytes: 2 + 6 + 6, maxInputDepth: 4 };
  assert.equal(proof(input, limits.maxInputBytes, limits.maxInputDepth), true);
  assert.equal(checkInput(input, limits), undefined);
  const over = { maxInputBytes: 13, maxInputDepth: 4 };
  assert.equal(proof(input, over.maxInputBytes, over.maxInputDepth), false);
  assert.equal(checkInput(input, over)?.code, "engine.input_too_large");
});

// fail closed through the fused path: a small repository whose conditions err on purpose
const FAILING = {
  "stele.yaml": "apiVersion: stele/v1\nkind: Project\nmetadata:\n  name: t\nspec: {}\n",
  "schemas/req.json": JSON.stringify({
    type: "object",
    properties: {
      who: { type: "string" },
      n: { type: "integer" },
      xs: { type: "array", items: { type: "integer" } },
      opt: { type: "string" },
    },
  }),
  "policies/p.yaml": `apiVersion: stele/v1
kind: Policy
metadata:
  name: p
spec:
  subject: req
  default: allow
  rules:
    - name: deny-on-opt
      effect: deny
      when: input.opt == 'x'
    - name: allow-on-opt
      effect: allow
      when: input.opt == 'y'
    - name: warn-on-opt
      effect: deny
      enforcement: warn
      when: input.opt == 'z'
    - name: deny-overflow
      effect: deny
      when: input.n * 2 > 10
    - name: deny-budget
      effect: deny
      when: input.xs.exists(a, input.xs.exists(b, input.xs.exists(c, a + b + c < -1000)))
    - name: waivable
      effect: deny
      when: input.who == 'mallory'
`,
  "exceptions/e.yaml": `apiVersion: stele/v1
kind: Exception
metadata:
  name: e
spec:
  policy: p
  rules: [waivable]
  when: input.opt == 'ok'
  expires: 2026-12-01T00:00:00Z
  owner: o@example.com
  justification: test
`,
};

const failing = (() => {
  const r = compile(
    Object.entries(FAILING).map(([f, t]) => new Source(f, t)),
    { now: NOW },
  );
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.set;
})();

function judge(input: unknown) {
  assert.ok(failing.policies[0]?.evaluate, "the policy is fused");
  const d = decide(failing, { input }, { now: NOW });
  assert.deepStrictEqual(d, decide(reference(failing), { input }, { now: NOW }));
  return d;
}

test("fused: a deny that cannot be evaluated counts as matched, with its error", () => {
  const d = judge({ who: "ann", n: 1, xs: [] });
  assert.equal(d.decision, "deny");
  assert.deepEqual(d.policies[0]?.matched, ["deny-on-opt"]);
  assert.deepEqual(
    d.errors.map((e) => [e.rule, e.message]),
    [
      ["deny-on-opt", "no such key: `opt`"],
      ["allow-on-opt", "no such key: `opt`"],
      ["warn-on-opt", "no such key: `opt`"],
    ],
  );
  assert.deepEqual(d.policies[0]?.warned, ["warn-on-opt"]);
});

test("fused: an allow that cannot be evaluated grants nothing", () => {
  const d = judge({ who: "ann", n: 1, xs: [], opt: "q" });
  assert.equal(d.decision, "allow"); // the default, not the erring allow
  assert.deepEqual(d.policies[0]?.matched, []);
  assert.deepEqual(d.errors, []);
});

test("fused: an overflow errs and fails closed; budgets stay per condition", () => {
  const d = judge({ who: "ann", n: 2 ** 62, xs: [1, 2, 3], opt: "q" });
  assert.deepEqual(d.policies[0]?.matched, ["deny-overflow"]);
  assert.deepEqual(d.errors[0]?.message, "integer overflow");
  const big = judge({ who: "ann", n: 1, xs: Array.from({ length: 120 }, (_, i) => i), opt: "q" });
  assert.deepEqual(big.policies[0]?.matched, ["deny-budget"]);
  assert.equal(big.errors[0]?.message, "evaluation exceeded its budget of work");
  // the next condition has a budget of its own: it runs, and matches
  const next = judge({ who: "mallory", n: 1, xs: Array.from({ length: 120 }, (_, i) => i) });
  assert.ok(next.policies[0]?.matched.includes("waivable"));
});

test("fused: an exception waives only when its own condition holds, and its error shows", () => {
  const waived = judge({ who: "mallory", n: 1, xs: [], opt: "ok" });
  assert.equal(waived.decision, "allow");
  assert.deepEqual(waived.exceptions[0]?.rules, ["waivable"]);
  const erring = judge({ who: "mallory", n: 1, xs: [] });
  assert.equal(erring.decision, "deny");
  assert.ok(erring.errors.some((e) => e.exception === "e" && e.rule === "waivable"));
});

test("fused: an input of the wrong shape takes each rule's own path, and is refused as before", () => {
  for (const input of [null, [], "x", { who: 1 }, { n: "1" }, { xs: [null] }, { xs: {} }])
    judge(input);
  const d = judge({ who: () => 1 });
  assert.equal(d.decision, "deny");
  assert.equal(d.errors[0]?.code, "engine.bad_input");
});

test("fused: without a schema, a condition that gives no bool cannot be evaluated", () => {
  const r = compile(
    [
      new Source("stele.yaml", FAILING["stele.yaml"]),
      new Source(
        "policies/q.yaml",
        "apiVersion: stele/v1\nkind: Policy\nmetadata:\n  name: q\nspec:\n  default: allow\n  rules:\n    - name: d\n      effect: deny\n      when: input.x\n    - name: a\n      effect: allow\n      when: input.y.z == 1\n",
      ),
    ],
    { now: NOW },
  );
  assert.ok(r.ok);
  assert.ok(r.set.policies[0]?.evaluate, "the policy is fused");
  for (const input of [{ x: "yes" }, { x: true, y: { z: 1 } }, { x: null }, {}, null, 3, [1]]) {
    const d = decide(r.set, { input }, { now: NOW });
    assert.deepStrictEqual(d, decide(reference(r.set), { input }, { now: NOW }));
  }
  const d = decide(r.set, { input: { x: "yes" } }, { now: NOW });
  assert.equal(d.decision, "deny");
  assert.equal(d.errors[0]?.message, "condition gave string, not a bool");
});

test("fused: an input whose fields throw when read (not JSON) is decided as each rule alone decides it", () => {
  const input: Record<string, unknown> = { env: "prod", action: "read" };
  Object.defineProperty(input, "principal", {
    enumerable: false,
    get() {
      throw new Error("boom");
    },
  });
  const roles = ["reader"];
  roles[Symbol.iterator] = function* () {
    yield 1;
  } as unknown as () => ArrayIterator<string>;
  const sneaky = {
    env: "dev",
    action: "read",
    principal: { id: "ann", roles, department: "sales", clearance: 1, mfa: true },
    resource: { type: "report", id: "r", owner: "bill", department: "sales", classification: 0 },
  };
  for (const x of [input, sneaky])
    assert.deepStrictEqual(
      decide(api, { input: x }, { now: NOW }),
      decide(reference(api), { input: x }, { now: NOW }),
    );
  // a field that cannot be read fails closed; an iterator the input carries is never used
  assert.equal(decide(api, { input }, { now: NOW }).decision, "deny");
  assert.equal(decide(api, { input: sneaky }, { now: NOW }).decision, "allow");
});

// the proof walk reads each field once, and vouches only for what the generic walk would accept
// and each rule's own function would read the same way

test("proof walk: a field the walk cannot see (not enumerable, or inherited) takes the generic path", () => {
  const base = { env: "prod", action: "read", principal: {}, resource: {} };
  const hidden = { ...base };
  Object.defineProperty(hidden, "extra", { value: { deep: [1, 2, 3] }, enumerable: false });
  Object.defineProperty(hidden, "env", { value: "dev", enumerable: false });
  same(api, hidden);
  const polluted = Object.prototype as unknown as Record<string, unknown>;
  try {
    Object.defineProperty(polluted, "mfa", { value: false, configurable: true });
    same(api, { ...base, principal: { id: "ann", roles: ["reader"], clearance: 1 } });
  } finally {
    delete polluted.mfa;
  }
  assert.equal(({} as Record<string, unknown>).mfa, undefined);
});

test("proof walk: a getter is read once, and the decision is the one its value makes", () => {
  let reads = 0;
  const principal = {
    id: "ann",
    department: "finance",
    clearance: 2,
    mfa: true,
    get roles() {
      reads++;
      return reads === 1 ? ["reader"] : ["suspended"];
    },
  };
  const input = {
    env: "prod",
    action: "read",
    principal,
    resource: { type: "invoice", id: "r", owner: "bob", department: "finance", classification: 1 },
  };
  const d = decide(api, { input }, { now: NOW });
  assert.equal(reads, 1);
  assert.equal(d.decision, "allow");
  assert.deepEqual(d.policies[0]?.matched, ["readers-read-own-department"]);
});

test("proof walk: an int that is not a safe integer, or a list too long, is left to the generic path", () => {
  const input = {
    env: "prod",
    action: "read",
    principal: { id: "ann", roles: ["reader"], department: "f", clearance: 1.5, mfa: true },
    resource: { type: "t", id: "r", owner: "o", department: "f", classification: 1 },
  };
  same(api, input);
  same(api, { ...input, principal: { ...input.principal, clearance: 2 ** 60 } });
  const roles = Array.from({ length: 10_001 }, (_, i) => (i === 10_000 ? "reader" : `r${i}`));
  same(api, { ...input, principal: { ...input.principal, clearance: 1, roles } });
});

test("shared verdicts: decisions of the same clean outcome are one frozen value, per bundle", () => {
  const input = (id: string) => ({
    env: "dev",
    action: "read",
    principal: { id, roles: ["reader"], department: "f", clearance: 1, mfa: true },
    resource: { type: "t", id: "r", owner: "o", department: "f", classification: 1 },
  });
  const a = decide(api, { input: input("ann") }, { now: NOW, bundle: "sha256:a" });
  const b = decide(api, { input: input("bob") }, { now: NOW, bundle: "sha256:a" });
  assert.equal(a, b);
  const matched = a.policies[0]?.matched as string[];
  assert.ok(Object.isFrozen(a) && Object.isFrozen(matched));
  assert.throws(() => matched.push("forged"), TypeError);
  assert.deepEqual(decide(api, { input: input("cy") }, { now: NOW }).policies[0]?.matched, [
    "readers-read-own-department",
  ]);
  const other = decide(api, { input: input("ann") }, { now: NOW, bundle: "sha256:b" });
  assert.equal(other.bundle, "sha256:b");
  assert.equal(a.bundle, "sha256:a");
});

test("shared verdicts: a waiver that applies, or fails, is decided per input", () => {
  // `waivable` matches; the exception holds for opt 'ok', fails without opt, else does not hold
  const held = judge({ who: "mallory", n: 1, xs: [], opt: "ok" });
  assert.equal(held.decision, "allow");
  assert.deepEqual(
    held.exceptions.map((e) => e.name),
    ["e"],
  );
  const plain = judge({ who: "mallory", n: 1, xs: [], opt: "no" });
  assert.deepEqual(plain.policies[0]?.matched, ["waivable"]);
  assert.deepEqual(judge({ who: "mallory", n: 1, xs: [], opt: "ok" }), held);
  assert.equal(judge({ who: "mallory", n: 1, xs: [], opt: "no" }), plain);
});

test("proof walk: an object is plain by its constructor, or its prototype, as checkInput and CEL see it", () => {
  const base = { env: "prod", action: "read", principal: {}, resource: {} };
  const cases: unknown[] = [
    Object.assign(Object.create({}), base),
    Object.assign(Object.create({ env: "dev" }), { action: "read" }),
    Object.assign(Object.create(null), base),
    Object.assign(Object.create(Object.create(null)), base),
    { ...base, constructor: "x" },
    JSON.parse('{"env": "prod", "constructor": {}}'),
    Object.assign([], base),
    Object.assign(Object.assign([], base), { constructor: Object }),
    new (class Request {
      env = "prod";
      action = "read";
    })(),
  ];
  for (const input of cases) same(api, input);
});
