import assert from "node:assert/strict";
import { test } from "node:test";
import { evaluate } from "@marcbachmann/cel-js";
import fc from "fast-check";
import { conditionImplies } from "./implies.js";

// conditionImplies is sound: wherever it says `a` implies `b`, every input on which `a` is true
// makes `b` true (an allow rule), and every input on which `a` is true or fails makes `b` true or
// fail (a deny rule, which a failure never turns into an allow)

const atom = fc.oneof(
  fc
    .tuple(fc.constantFrom(">", ">=", "<", "<="), fc.integer({ min: 0, max: 10 }))
    .map(([op, n]) => `x ${op} ${n}`),
  fc.integer({ min: 0, max: 10 }).map((n) => `${n} < x`),
  fc
    .uniqueArray(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 3 })
    .map((ks) => `k in [${ks.map((k) => `'${k}'`).join(", ")}]`),
  fc.constantFrom("k == 'a'", "'b' == k", "m.y == 1", "m.y > 1", "true", "false"),
);
const condition: fc.Arbitrary<string> = fc.letrec((tie) => ({
  c: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    atom,
    fc
      .tuple(
        tie("c") as fc.Arbitrary<string>,
        fc.constantFrom("&&", "||"),
        tie("c") as fc.Arbitrary<string>,
      )
      .map(([a, op, b]) => `(${a}) ${op} (${b})`),
  ),
})).c;

// inputs where `m.y` is there or not (a failing condition), of every kind and size tried
const inputs = [-1n, 0n, 1n, 5n, 9n, 10n, 11n].flatMap((x) =>
  ["a", "b", "c", "d"].flatMap((k) => [{}, { y: 1n }, { y: 2n }].map((m) => ({ x, k, m }))),
);

// true, false, or "error"
function holds(expr: string, input: object): boolean | "error" {
  try {
    return evaluate(expr, input) === true;
  } catch {
    return "error";
  }
}

test("what conditionImplies proves holds on every input, for allow and for deny rules (property)", () => {
  let proven = 0;
  fc.assert(
    fc.property(
      condition,
      fc.oneof(
        condition,
        // the changes a reviewer makes: something added on either side, a list or bound moved
        fc.tuple(condition, condition).map(([a, extra]) => [a, `(${a}) || (${extra})`] as const),
        fc.tuple(condition, condition).map(([a, extra]) => [`(${a}) && (${extra})`, a] as const),
      ),
      (a0, pair) => {
        const [a, b] = typeof pair === "string" ? [a0, pair] : pair;
        if (!conditionImplies(a, b)) return;
        proven++;
        for (const input of inputs) {
          const x = holds(a, input);
          const y = holds(b, input);
          if (x === true)
            assert.equal(
              y,
              true,
              `allow: ${a} ⇒ ${b} on ${JSON.stringify(input, (_, v) => (typeof v === "bigint" ? Number(v) : v))}`,
            );
          if (x === "error") assert.notEqual(y, false, `deny: ${a} ⇒ ${b} failing`);
        }
      },
    ),
    { seed: 20261129, numRuns: 400 },
  );
  assert.ok(proven > 50, `only ${proven} implications proven`);
});

test("conditionImplies on the changes reviewers make, and what it cannot tell", () => {
  const yes: [string, string][] = [
    ["k in ['a']", "k in ['a', 'b']"],
    ["k == 'a'", "k in ['b', 'a']"],
    ["x > 10", "x >= 10"],
    ["x > 10", "x > 2"],
    ["x < 3", "x <= 3"],
    ["10 < x", "x > 9"],
    ["a && b", "b && a"],
    ["a", "a || b"],
    ["a && b", "a"],
    ["a || b", "b || a"],
  ];
  for (const [a, b] of yes) assert.equal(conditionImplies(a, b), true, `${a} ⇒ ${b}`);
  const no: [string, string][] = [
    ["k in ['a', 'b']", "k in ['a']"],
    ["x >= 10", "x > 10"],
    ["x > 2", "x > 10"],
    ["x > 2", "y > 2"],
    ["a || b", "a"],
    ["!a", "!a || b && c ? d : e"],
    ["a ? b : c", "b"],
    ["k in [z]", "k in [z, 'a']"],
    ["not cel (", "true"],
  ];
  for (const [a, b] of no) assert.equal(conditionImplies(a, b), false, `${a} ⇏ ${b}`);
});
