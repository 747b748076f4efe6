import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CelEvalError, type CelProgram, compileCel } from "./cel.js";
import { compileRegex } from "./cel-regex.js";
import { canon } from "./cel-testing.js";

const schema = {
  type: "object",
  required: ["env", "principal"],
  properties: {
    env: { type: "string" },
    action: { type: "string" },
    count: { type: "integer" },
    score: { type: "number" },
    note: { type: ["string", "null"] },
    principal: { $ref: "#/$defs/principal" },
    labels: { type: "object", additionalProperties: { type: "string" } },
    matrix: { type: "array", items: { type: "array", items: { type: "integer" } } },
    anything: {},
  },
  $defs: {
    principal: {
      type: "object",
      properties: {
        id: { type: "string" },
        roles: { type: "array", items: { type: "string" } },
        clearance: { type: "integer" },
        mfa: { type: "boolean" },
        manager: { $ref: "#/$defs/principal" },
      },
    },
  },
};

const input = {
  env: "prod",
  action: "read",
  count: 3,
  score: 2.5,
  note: null,
  principal: {
    id: "bob",
    roles: ["dev", "admin"],
    clearance: 3,
    mfa: false,
    manager: { id: "eve" },
  },
  labels: { team: "core" },
  matrix: [[1, 2], [3]],
  anything: { deep: [1, "x"] },
};

function compiled(expression: string, withSchema = true): Extract<CelProgram, { ok: true }> {
  const p = compileCel(expression, withSchema ? { input: schema } : {});
  if (!p.ok) assert.fail(`${expression}: ${JSON.stringify(p.problems)}`);
  return p;
}

const run = (expression: string, value: unknown = input, withSchema = true) =>
  canon(compiled(expression, withSchema).evaluate(value));

function problem(expression: string, withSchema = true) {
  const p = compileCel(expression, withSchema ? { input: schema } : {});
  assert.equal(p.ok, false, `${expression} should not compile`);
  return p.ok ? assert.fail() : (p.problems[0] ?? assert.fail());
}

function evalError(expression: string, value: unknown = input, withSchema = true): string {
  const p = compiled(expression, withSchema);
  try {
    p.evaluate(value);
  } catch (e) {
    assert.ok(e instanceof CelEvalError, `${expression}: ${String(e)}`);
    return e.message;
  }
  return assert.fail(`${expression} should fail to evaluate`);
}

describe("compileCel: values and operators", () => {
  const cases: [string, string][] = [
    ["1 + 2 * 3", "7"],
    ["7 / 2", "3"],
    ["-7 / 2", "-3"],
    ["-7 % 3", "-1"],
    ["7.0 / 2.0", "3.5"],
    ["1u + 2u", "3u"],
    ["'a' + 'b'", '"ab"'],
    ["b'ab' + b'c'", 'b"616263"'],
    ["[1] + [2, 3]", "[1, 2, 3]"],
    ["{'a': 1}['a']", "1"],
    ["{1: 'x'}[1u]", '"x"'],
    ["{1: 'x'}[dyn(1.0)]", '"x"'],
    ["true ? 'y' : 'n'", '"y"'],
    ["!false", "true"],
    ["-(-9223372036854775807)", "9223372036854775807"],
    ["-9223372036854775808", "-9223372036854775808"],
    ["9007199254740993 + 1", "9007199254740994"],
    ["dyn(1) == 1.0", "true"],
    ["dyn(1u) == 1", "true"],
    ["1 < 1.5", "true"],
    ["2u > 1", "true"],
    ["'a' < 'b'", "true"],
    ["'\\uffff' < '\\U0001F600'", "true"],
    ["[1, 2] == [1, 2]", "true"],
    ["{'a': [1]} == {'a': [1]}", "true"],
    ["[[1]] != [[2]]", "true"],
    ["null == null", "true"],
    ["dyn(null) == 1", "false"],
    ["2 in [1, 2]", "true"],
    ["'a' in {'a': 1}", "true"],
    ["3 in {1: 'x'}", "false"],
    ["type(1) == int", "true"],
    ["type(1.0)", "type(double)"],
    ["type([1])", "type(list)"],
    ["type(dyn({}))", "type(map)"],
  ];
  for (const [expr, want] of cases)
    test(`evaluates \`${expr}\` to ${want}`, () => assert.equal(run(expr), want));
});

describe("compileCel: functions and macros", () => {
  const cases: [string, string][] = [
    ["size('héllo😀')", "6"],
    ["'héllo'.size()", "5"],
    ["size([1, 2])", "2"],
    ["size({'a': 1})", "1"],
    ["size(b'abc')", "3"],
    ["'hello'.contains('ell')", "true"],
    ["'hello'.startsWith('he')", "true"],
    ["'hello'.endsWith('lo')", "true"],
    ["'hello'.matches('^h.l+o$')", "true"],
    ["'a\\nb'.matches('a.b')", "false"],
    ["'ABC'.matches('(?i)abc')", "true"],
    ["int('-42')", "-42"],
    ["int(2.9)", "2"],
    ["int(-2.9)", "-2"],
    ["uint(42)", "42u"],
    ["double(3)", "3.0"],
    ["double('1e3')", "1000.0"],
    ["string(1.5)", '"1.5"'],
    ["string(12u)", '"12"'],
    ["string(b'hi')", '"hi"'],
    ["bool('true')", "true"],
    ["dyn(1)", "1"],
    ["[1, 2, 3].all(x, x > 0)", "true"],
    ["[1, 2, 3].exists(x, x == 2)", "true"],
    ["[1, 2, 3].exists_one(x, x > 1)", "false"],
    ["[1, 2, 3].map(x, x * 2)", "[2, 4, 6]"],
    ["[1, 2, 3].map(x, x > 1, x * 10)", "[20, 30]"],
    ["[1, 2, 3].filter(x, x % 2 == 1)", "[1, 3]"],
    ["{'a': 1, 'b': 2}.all(k, k.size() == 1)", "true"],
    ["{'a': 1}.map(k, k + '!')", '["a!"]'],
  ];
  for (const [expr, want] of cases)
    test(`evaluates \`${expr}\` to ${want}`, () => assert.equal(run(expr), want));
});

describe("compileCel: the typed input", () => {
  test("reads declared fields with their schema types", () => {
    assert.equal(run("input.count + 1"), "4");
    assert.equal(run("input.score * 2.0"), "5.0");
    assert.equal(run("input.principal.manager.id"), '"eve"');
    assert.equal(run("input.labels.team"), '"core"');
    assert.equal(run("input.labels['team']"), '"core"');
    assert.equal(run("input.matrix[1][0]"), "3");
    assert.equal(run("input.note == null"), "true");
    assert.equal(run("input.anything.deep[0]"), "1.0");
    assert.equal(run("'admin' in input.principal.roles"), "true");
    assert.equal(run("input.action in ['read', 'list']"), "true");
  });

  test("has() tests presence of declared fields and map keys", () => {
    assert.equal(run("has(input.principal.mfa)"), "true");
    assert.equal(run("has(input.principal.manager.roles)"), "false");
    assert.equal(run("has(input.labels.owner)"), "false");
    assert.equal(run("has(input.anything.deep)"), "true");
  });

  test("an undeclared field is a type error at the field name", () => {
    const p = problem("input.principal.nope == 'x'");
    assert.deepEqual(p, {
      code: "language.cel_type",
      message: "undeclared field `nope`",
      start: 16,
      end: 20,
    });
    assert.equal(problem("has(input.principal.nope)").code, "language.cel_type");
  });

  test("a type mismatch is a type error", () => {
    const p = problem("input.count == 'three'");
    assert.equal(p.code, "language.cel_type");
    assert.match(p.message, /no such overload: int == string/);
    assert.equal(compileCel("input.env + 1", { input: schema }).ok, false);
  });

  test("the result type is reported", () => {
    assert.equal(compiled("input.env == 'prod'").type, "bool");
    assert.equal(compiled("input.anything").type, "dyn");
    assert.equal(compiled("input.principal.roles").type, "list<string>");
  });

  test("without a schema input is dyn and json numbers are doubles", () => {
    assert.equal(run("input.count == 3", input, false), "true");
    assert.equal(run("input.count + 1.0", input, false), "4.0");
    assert.match(evalError("input.count + 1", input, false), /no such overload/);
    assert.match(evalError("input.nope", input, false), /no such key: `nope`/);
  });
});

describe("compileCel: errors at evaluation", () => {
  const cases: [string, RegExp][] = [
    ["9223372036854775807 + 1", /integer overflow/],
    ["-9223372036854775808 - 1", /integer overflow/],
    ["9223372036854775807 * 2", /integer overflow/],
    ["-9223372036854775808 / -1", /integer overflow/],
    ["1 / 0", /division by zero/],
    ["1 % 0", /modulo by zero/],
    ["0u - 1u", /unsigned integer overflow/],
    ["18446744073709551615u + 1u", /unsigned integer overflow/],
    ["[1][2]", /index out of range/],
    ["{'a': 1}['b']", /no such key/],
    ["int('x')", /cannot convert/],
    ["int(1e19)", /range/],
    ["uint(-1)", /overflow/],
    ["string(b'\\xff')", /invalid UTF-8/],
    ["bool('yes')", /conversion/],
    ["dyn('a') + 1", /no such overload/],
    ["[1, 0].exists_one(x, 1 / x == 1)", /division by zero/],
    ["[1, 0].map(x, 1 / x)", /division by zero/],
    ["{dyn(1): 1, dyn(1u): 2}", /repeated map key/],
    ["dyn(1).f", /does not support field selection/],
    ["dyn(1) ? 1 : 2", /expected `bool`/],
  ];
  for (const [expr, want] of cases)
    test(`\`${expr}\` fails with ${want}`, () => assert.match(evalError(expr), want));

  test("a missing required field fails and a non-integer number in an int field fails", () => {
    assert.match(
      evalError("input.count > 1", { ...input, count: undefined }),
      /no such key: `count`/,
    );
    assert.match(evalError("input.count > 1", { ...input, count: 1.5 }), /non-integer/);
    assert.match(evalError("input.count > 1", { ...input, count: 1e300 }), /overflow/);
    assert.match(
      evalError("'x' in input.principal.roles", { ...input, principal: { roles: [1] } }),
      /expected `string`/,
    );
    assert.match(evalError("input.env == 'x'", { ...input, env: 5 }), /expected `string`/);
    assert.match(evalError("input.env == 'x'", "not an object"), /expected `stele.Input`/);
  });

  test("fields named like object prototype members are read as own properties", () => {
    const p = compileCel("input.constructor == 'x'", {
      input: { type: "object", properties: { constructor: { type: "string" } } },
    });
    assert.ok(p.ok);
    assert.throws(() => p.evaluate({}), /no such key/);
    assert.match(evalError("input.toString == 'x'", {}, false), /no such key/);
  });
});

describe("compileCel: && and || absorb errors like CEL", () => {
  const cases: [string, string][] = [
    ["false && 1 / 0 == 1", "false"],
    ["1 / 0 == 1 && false", "false"],
    ["true || 1 / 0 == 1", "true"],
    ["1 / 0 == 1 || true", "true"],
    ["[0, 1].all(x, 1 / x > 1)", "false"],
    ["[0, 2].exists(x, 2 / x == 1)", "true"],
    ["dyn('x') || true", "true"],
  ];
  for (const [expr, want] of cases)
    test(`evaluates \`${expr}\` to ${want}`, () => assert.equal(run(expr), want));

  const errors = [
    "true && 1 / 0 == 1",
    "1 / 0 == 1 || false",
    "[0, 1].all(x, 1 / x > 0)",
    "dyn('x') && true",
  ];
  for (const expr of errors) test(`\`${expr}\` is an error`, () => assert.ok(evalError(expr)));
});

describe("compileCel: problems at compile time", () => {
  test("a syntax error has the library's substance without its caret drawing", () => {
    const p = problem("input.env == ");
    assert.equal(p.code, "language.cel_syntax");
    assert.doesNotMatch(p.message, /\n|\^/);
    assert.equal(problem("'unterminated").code, "language.cel_syntax");
  });

  test("unsupported functions are rejected by name", () => {
    for (const [expr, name] of [
      ["timestamp('2024-01-01T00:00:00Z')", "timestamp"],
      ["'abc'.substring(1)", "substring"],
      ["cel.bind(x, 1, x)", "bind"],
      ["bytes('a')", "bytes"],
    ] as const) {
      const p = problem(expr, false);
      assert.equal(p.code, "language.cel_unsupported");
      assert.equal(p.message, `function \`${name}\` is not supported`);
    }
  });

  test("out-of-range literals are syntax errors", () => {
    assert.equal(problem("9223372036854775808").code, "language.cel_syntax");
    assert.equal(problem("18446744073709551616u").code, "language.cel_syntax");
  });

  test("limits on size and depth are reported as limits", () => {
    assert.equal(problem(`${"[".repeat(60)}${"]".repeat(60)}`).code, "language.cel_limit");
    assert.equal(
      problem(Array.from({ length: 1200 }, () => "1").join(" + ")).code,
      "language.cel_limit",
    );
    assert.equal(problem("x".repeat(20_000)).code, "language.cel_limit");
    assert.equal(problem(`${"!".repeat(100_000)}true`).code, "language.cel_limit");
  });

  test("regular expressions that RE2 lacks or that backtrack badly are rejected", () => {
    for (const re of ["(a)\\1", "a(?=b)", "(?<!a)b", "(a+)+$", "(x*)*y"]) {
      const p = problem(`'a'.matches('${re.replaceAll("\\", "\\\\")}')`);
      assert.equal(p.code, "language.cel_unsupported", re);
    }
    assert.equal(problem("'a'.matches('(')").code, "language.cel_syntax");
    assert.match(evalError("'a'.matches(dyn('(a+)+'))"), /invalid regular expression/);
  });

  test("regex translation keeps RE2's meaning of `.`, `\\s` and `\\z`", () => {
    const re = (p: string) => (compileRegex(p) as { regex: RegExp }).regex;
    assert.equal(re("a.b").test("a\rb"), true);
    assert.equal(re("\\s").test("\u00a0"), false);
    assert.equal(re("a\\z").test("a\n"), false);
    assert.equal(re("[[:digit:]]+").test("42"), true);
    assert.equal(re("(?P<n>x)").test("x"), true);
  });
});

describe("compileCel: bounded work", () => {
  test("comprehensions that run too long fail instead of hanging", () => {
    const big = Array.from({ length: 2000 }, (_, i) => i);
    const msg = evalError("input.all(x, input.all(y, x + y >= 0.0))", big, false);
    assert.match(msg, /budget/);
  });

  test("the budget is not absorbed by && or all", () => {
    const big = Array.from({ length: 2000 }, (_, i) => i);
    assert.match(evalError("input.all(x, input.all(y, y >= 0.0)) || true", big, false), /budget/);
  });

  test("each evaluation gets a fresh budget", () => {
    const p = compiled("input.all(x, x >= 0.0)", false);
    for (let i = 0; i < 3; i++)
      assert.equal(p.evaluate(Array.from({ length: 500_000 }, () => 1)), true);
  });

  test("deeply nested input fails cleanly", () => {
    const nest = () => {
      let deep: unknown = [];
      for (let i = 0; i < 100_000; i++) deep = [deep];
      return deep;
    };
    assert.match(evalError("input[0] == input[1]", [nest(), nest()], false), /nested/);
  });
});
