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

const pairs = fc
  .tuple(
    condition,
    fc.oneof(
      condition,
      // the changes a reviewer makes: something added on either side, a list or bound moved
      fc.tuple(condition, condition).map(([a, extra]) => [a, `(${a}) || (${extra})`] as const),
      fc.tuple(condition, condition).map(([a, extra]) => [`(${a}) && (${extra})`, a] as const),
      fc
        .tuple(condition, condition, condition)
        .map(([p, a, b]) => [`(${p}) && (${a})`, `(${p}) && ((${a}) || (${b}))`] as const),
      // a list widened and a bound loosened beside a condition kept
      fc
        .tuple(
          condition,
          fc.uniqueArray(fc.constantFrom("a", "b", "c"), { minLength: 1, maxLength: 2 }),
          fc.constantFrom("a", "b", "c", "d"),
          fc.integer({ min: 0, max: 10 }),
        )
        .map(([p, ks, more, n]) => {
          const list = (xs: string[]) => `[${xs.map((k) => `'${k}'`).join(", ")}]`;
          return [
            `(${p}) && k in ${list(ks)} && x > ${n}`,
            `(${p}) && k in ${list([...ks, more])} && x >= ${n}`,
          ] as const;
        }),
    ),
  )
  .map(([a0, pair]) => (typeof pair === "string" ? ([a0, pair] as const) : pair));

const shown = (input: object) =>
  JSON.stringify(input, (_, v) => (typeof v === "bigint" ? Number(v) : v));

for (const exact of [false, true])
  test(`what conditionImplies proves holds on every input${exact ? ", failing where it failed (exact: a deny an exception may waive)" : ", for allow and for deny rules"} (property)`, () => {
    let proven = 0;
    fc.assert(
      fc.property(pairs, ([a, b]) => {
        if (!conditionImplies(a, b, { exact })) return;
        proven++;
        for (const input of inputs) {
          const x = holds(a, input);
          const y = holds(b, input);
          if (x === true) assert.equal(y, true, `${a} ⇒ ${b} on ${shown(input)}`);
          if (x === "error")
            assert.ok(
              exact ? y === "error" : y !== false,
              `${a} ⇒ ${b} failing on ${shown(input)}: ${y}`,
            );
        }
      }),
      { seed: 20261129, numRuns: 600 },
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
    // an element of the wider list that can fail (a review found it: true became a failure)
    ["k in ['a']", "k in ['a', m.y]"],
    // ints past 2^53 compared exactly, never rounded (a review found it)
    ["x >= 9007199254740992", "x >= 9007199254740993"],
    ["x < 9007199254740993", "x < 9007199254740992"],
    ["not cel (", "true"],
  ];
  for (const [a, b] of no) assert.equal(conditionImplies(a, b), false, `${a} ⇏ ${b}`);
  assert.equal(conditionImplies("x >= 9007199254740993", "x >= 9007199254740992"), true);
  // exact: where a failed, b fails (a deny an exception may waive)
  const exact = { exact: true };
  assert.equal(conditionImplies("k in ['a']", "k in ['a', 'b']", exact), true);
  assert.equal(conditionImplies("p && k in ['a']", "p && k in ['b', 'a']", exact), true);
  assert.equal(conditionImplies("k == 'a' && m.y == 1", "k == 'a'", exact), false);
  assert.equal(conditionImplies("a", "a || b", exact), false);
  assert.equal(conditionImplies("a", "true", exact), false);
});

test("a long condition is decided: each pair of its parts is judged once (without that, 12 terms took most of a minute)", () => {
  const terms = Array.from({ length: 40 }, (_, i) => `input.f${i} == ${i}`);
  const all = terms.join(" && ");
  // the same terms in another order, and one dropped from an allow (it matches more)
  assert.equal(conditionImplies(all, [...terms].reverse().join(" && ")), true);
  assert.equal(conditionImplies(terms.slice(1).join(" && "), all), false);
  assert.equal(conditionImplies(all, terms.slice(1).join(" && ")), true);
});
