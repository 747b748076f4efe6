import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compileCel, toCondition } from "./cel.js";
import { compileCelGroup, NOT_PROVEN } from "./cel-fuse.js";

// differential: a fused group, whose conditions take their total forms (cel-total.ts) when the
// input lets them, must give each condition exactly the value or error of its own compiled
// function, whatever the input: fields missing, of other types, lists of other things

const schema = {
  type: "object",
  properties: {
    s: { type: "string" },
    t: { type: "string" },
    i: { type: "integer" },
    j: { type: "integer" },
    d: { type: "number" },
    b: { type: "boolean" },
    l: { type: "array", items: { type: "string" } },
    m: {
      type: "object",
      properties: {
        s: { type: "string" },
        i: { type: "integer" },
        l: { type: "array", items: { type: "string" } },
      },
    },
  },
};

const str = fc.constantFrom("input.s", "input.t", "input.m.s");
const int = fc.constantFrom("input.i", "input.j", "input.m.i", "3", "-1");
const num = fc.constantFrom("input.d", "1.5", "0.0");
const list = fc.constantFrom("input.l", "input.m.l");
const word = fc.constantFrom("'a'", "'b'", "''", "'é'");

const atom: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(str, fc.constantFrom("==", "!="), fc.oneof(str, word))
    .map(([a, o, b]) => `${a} ${o} ${b}`),
  fc
    .tuple(
      fc.oneof(fc.tuple(int, int), fc.tuple(num, num)),
      fc.constantFrom("<", "<=", ">", ">=", "==", "!="),
    )
    .map(([[a, b], o]) => `${a} ${o} ${b}`),
  fc.constantFrom("input.b", "!input.b", "input.b == true", "input.b != false"),
  fc.tuple(fc.oneof(str, word), list).map(([a, l]) => `${a} in ${l}`),
  fc
    .tuple(str, fc.array(word, { minLength: 1, maxLength: 3 }))
    .map(([a, ws]) => `${a} in [${ws.join(", ")}]`),
  fc
    .tuple(str, fc.constantFrom("startsWith", "endsWith", "contains"), word)
    .map(([a, f, w]) => `${a}.${f}(${w})`),
  fc.constantFrom("has(input.m.s)", "has(input.m.l)", "has(input.s)", "has(input.m.i)"),
  fc.constantFrom(
    "has(input.m.l) && 'a' in input.m.l",
    "has(input.m.s) && has(input.m.i) && input.m.s == 'a' && input.m.i > 0",
    "!(has(input.l) && 'b' in input.l)",
    "(input.b ? input.s : input.t) == 'a'",
    "(input.b ? input.i : input.j) < 2",
    "input.i < 2.5 || input.d >= 1",
  ),
);

const condition: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    atom,
    fc
      .tuple(tie("c"), fc.constantFrom("&&", "||"), tie("c"))
      .map(([a, o, b]) => `(${a}) ${o} (${b})`),
    tie("c").map((a) => `!(${a})`),
  ),
})).c;

const any = fc.oneof(
  fc.constantFrom(undefined, null, 1, 2 ** 60, 1.5, -0, "a", "", true, false, [], {}, ["a", 1]),
  fc.string({ maxLength: 3 }),
  fc.integer({ min: -3, max: 3 }),
);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof(a, a, a, any);
const strings = fc.array(fc.constantFrom("a", "b", "", "é"), { maxLength: 3 });
const input = fc.oneof(
  fc.record(
    {
      s: maybe(fc.constantFrom("a", "b", "", "ab", "é")),
      t: maybe(fc.constantFrom("a", "b")),
      i: maybe(fc.integer({ min: -2, max: 4 })),
      j: maybe(fc.integer({ min: -2, max: 4 })),
      d: maybe(fc.constantFrom(1.5, 0, -2.25, 3)),
      b: maybe(fc.boolean()),
      l: maybe(strings),
      m: maybe(
        fc.record(
          {
            s: maybe(fc.constantFrom("a", "b", "")),
            i: maybe(fc.integer({ min: -2, max: 4 })),
            l: maybe(strings),
          },
          { requiredKeys: [] },
        ),
      ),
    },
    { requiredKeys: [] },
  ),
  any,
);

function own(expression: string): (input: unknown) => boolean {
  const p = compileCel(expression, { input: schema });
  if (!p.ok) throw new Error(`${expression}: ${JSON.stringify(p.problems)}`);
  const evaluate = p.evaluate;
  return (x) => toCondition(evaluate(x));
}

test("a fused group with total forms gives each condition its own value or error", () => {
  // and so does the group behind its input proof, on every input it vouches for
  let vouched = 0;
  fc.assert(
    fc.property(
      fc.array(condition, { minLength: 1, maxLength: 6 }),
      fc.array(input, { minLength: 1, maxLength: 8 }),
      (expressions, inputs) => {
        const members = expressions.map((expression) => ({ expression, test: own(expression) }));
        const group = compileCelGroup(members, { input: schema });
        assert.ok(group, `the group fuses: ${expressions.join(" ; ")}`);
        const checked = group.evaluateChecked;
        assert.ok(checked, "the group has a proving form");
        const out = new Array<number>(members.length).fill(0);
        const errs: unknown[] = [];
        for (const x of inputs) {
          const runs = [
            () => group.evaluate(x, out, errs),
            () => checked(x, out, errs, 1 << 20, 64),
          ];
          for (const [k, run] of runs.entries()) {
            out.fill(0);
            const mask = run();
            if (mask === NOT_PROVEN) continue;
            if (k === 1) vouched++;
            members.forEach((m, i) => {
              let want: number;
              let message: string | undefined;
              try {
                want = m.test(x) ? 1 : 0;
              } catch (e) {
                want = 2;
                message = (e as Error).message;
              }
              const bit = 1 << i;
              const failed = out[members.length] ?? 0;
              const got =
                mask === -1 ? out[i] : (mask & bit) === 0 ? 0 : (failed & bit) !== 0 ? 2 : 1;
              const where = `${m.expression} on ${JSON.stringify(x)}`;
              assert.equal(got, want, where);
              if (want === 2) assert.equal((errs[i] as Error).message, message, where);
            });
          }
        }
      },
    ),
    { seed: 20261129, numRuns: 1500 },
  );
  assert.ok(vouched > 500, `the proving form vouched for ${vouched} inputs`);
});

test("the api conditions take their total forms: no careful code runs on well-formed input", () => {
  const members = [
    "input.s in ['a', 'b'] && 'x' in input.l && input.m.s == input.t",
    "has(input.m.l) && 'a' in input.m.l",
    "input.i < input.m.i && !input.b",
  ].map((expression) => ({ expression, test: own(expression) }));
  const group = compileCelGroup(members, { input: schema });
  assert.ok(group);
  const source = group.evaluate.toString();
  // the common block returns before any try: every condition ran total
  const common = source.slice(0, source.indexOf("return m;"));
  assert.doesNotMatch(common, /try \{/, source);
});
