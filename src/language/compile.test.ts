import assert from "node:assert/strict";
import { test } from "node:test";
import { compile } from "./compile.js";
import type { Diagnostic } from "./diagnostics.js";
import { formatDiagnostic } from "./diagnostics.js";
import { Source } from "./source.js";

const NOW = Date.parse("2026-11-28T00:00:00Z");
const PROJECT = "apiVersion: stele/v1\nkind: Project\nmetadata:\n  name: demo\nspec: {}\n";
const SCHEMA = JSON.stringify({
  type: "object",
  required: ["env", "statement"],
  properties: {
    env: { type: "string" },
    statement: {
      type: "object",
      required: ["kind"],
      properties: { kind: { type: "string" }, rows: { type: "integer" } },
    },
  },
});

function policy(when: string, extra = ""): string {
  return `apiVersion: stele/v1
kind: Policy
metadata:
  name: p
spec:
  subject: sql
  default: allow
  rules:
    - name: r
      effect: deny
      when: ${when}
${extra}`;
}

function check(files: Record<string, string>): { ok: boolean; diagnostics: Diagnostic[] } {
  const sources = Object.entries({
    "stele.yaml": PROJECT,
    "schemas/sql.json": SCHEMA,
    ...files,
  }).map(([f, t]) => new Source(f, t));
  const r = compile(sources, { now: NOW });
  return { ok: r.ok, diagnostics: r.diagnostics };
}

// where `needle` is in the file, as line:col
function where(text: string, needle: string): string {
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `${needle} not in the text`);
  const before = text.slice(0, at).split("\n");
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
}

function only(d: Diagnostic[], code: string): Diagnostic {
  const found = d.filter((x) => x.code === code);
  assert.equal(found.length, 1, JSON.stringify(d, null, 1));
  return found[0] as Diagnostic;
}

const at = (d: Diagnostic) => `${d.position.line}:${d.position.col}`;

for (const [style, when] of [
  ["plain", "input.env == 'prod' && input.statement.knd == 'DROP'"],
  ["single-quoted", "'input.env == ''prod'' && input.statement.knd == ''DROP'''"],
  ["double-quoted", '"input.env == \\"prod\\" && input.statement.knd == \\"DROP\\""'],
  ["literal block", "|\n        input.env == 'prod' &&\n        input.statement.knd == 'DROP'"],
  ["folded block", ">-\n        input.env == 'prod'\n        && input.statement.knd == 'DROP'"],
  ["plain over two lines", "input.env == 'prod' &&\n        input.statement.knd == 'DROP'"],
] as const) {
  test(`a CEL type error is reported at its exact line and column in a ${style} scalar`, () => {
    const text = policy(when);
    const { ok, diagnostics } = check({ "policies/p.yaml": text });
    assert.equal(ok, false);
    const d = only(diagnostics, "language.cel_type");
    assert.equal(d.position.file, "policies/p.yaml");
    // the error points into `input.statement.knd`, never merely at the scalar's start
    const field = where(text, "input.statement.knd");
    const [line, col] = field.split(":").map(Number) as [number, number];
    assert.equal(d.position.line, line, `${style}: ${at(d)} vs ${field}`);
    assert.ok(
      d.position.col >= col && d.position.col <= col + "input.statement.knd".length,
      `${style}: ${at(d)} vs ${field}`,
    );
  });
}

test("a CEL syntax error names its place", () => {
  const text = policy("input.env == 'prod' &&");
  const d = only(check({ "policies/p.yaml": text }).diagnostics, "language.cel_syntax");
  assert.equal(d.position.line, 11);
});

test("every problem is reported at once, sorted by file, line and column", () => {
  const text = policy("input.env == 1", "      colour: red\n");
  const { diagnostics } = check({
    "policies/p.yaml": text,
    "policies/q.yaml": "apiVersion: stele/v2\nkind: Policy\n",
  });
  const codes = diagnostics.map((d) => `${d.position.file}:${d.code}`);
  // missing fields are reported at the mapping that lacks them (1:1), before `apiVersion`'s value
  assert.deepEqual(codes, [
    "policies/p.yaml:language.cel_type",
    "policies/p.yaml:language.unknown_field",
    "policies/q.yaml:language.missing_field",
    "policies/q.yaml:language.missing_field",
    "policies/q.yaml:language.bad_value",
  ]);
});

test("a misspelled field gets a did-you-mean hint at the key", () => {
  const text = policy("true").replace("effect: deny", "efect: deny");
  const d = only(check({ "policies/p.yaml": text }).diagnostics, "language.unknown_field");
  assert.equal(at(d), where(text, "efect"));
  assert.equal(d.hint, "did you mean `effect`?");
});

test("wrong types and bad values say what was expected and found", () => {
  const text = policy("true")
    .replace("default: allow", "default: maybe")
    .replace("name: r", "name: [r]");
  const { diagnostics } = check({ "policies/p.yaml": text });
  assert.match(
    only(diagnostics, "language.bad_value").message,
    /`default` must be `allow` or `deny`, found `maybe`/,
  );
  assert.match(only(diagnostics, "language.wrong_type").message, /must be a string, found a list/);
});

test("duplicate keys, duplicate names and YAML aliases are errors", () => {
  const dupKey = policy("true").replace("default: allow", "default: allow\n  default: deny");
  assert.ok(
    check({ "policies/p.yaml": dupKey }).diagnostics.some(
      (d) => d.code === "language.yaml_duplicate_key",
    ),
  );
  const twice = check({ "policies/p.yaml": policy("true"), "policies/p2.yaml": policy("false") });
  assert.match(
    only(twice.diagnostics, "language.duplicate_name").message,
    /policy `p` is defined twice/,
  );
  const alias = check({
    "policies/p.yaml": `${policy("true")}    - &a {name: s, effect: deny, when: 'true'}\n    - *a\n`,
  });
  assert.ok(alias.diagnostics.some((d) => d.code === "language.yaml_alias"));
});

test("a YAML syntax error is said once per line, where to fix it, with what to do in a policy author's words", () => {
  const at = (d: Diagnostic) => `${d.position.line}:${d.position.col}`;
  const yaml = (text: string) =>
    check({ "policies/p.yaml": text }).diagnostics.filter((d) => d.code === "language.yaml_syntax");
  const tab = policy("true").replace("  default: allow", "\tdefault: allow");
  const [tabbed] = yaml(tab);
  assert.match(tabbed?.hint ?? "", /indent with spaces/);
  // an unclosed quote is shown at the quote that opened it, not at the end of the file
  const unclosed = `${policy("true")}    - name: q\n      effect: deny\n      when: "input.a\n`;
  const [quote] = yaml(unclosed);
  assert.equal(at(quote as Diagnostic), where(unclosed, '"input.a'));
  assert.match(quote?.hint ?? "", /close the quote/);
  // `key: a: b` trips the parser twice on one line: said once, with the fix
  const colon = policy("true").replace("default: allow", "default: allow: no");
  const colons = yaml(colon);
  assert.equal(colons.length, 1, JSON.stringify(colons));
  assert.match(colons[0]?.hint ?? "", /must be quoted/);
  // a line indented too deep
  const deep = policy("true").replace("  default: allow", "  default: allow\n    extra: 1");
  const [indent] = yaml(deep);
  assert.match(indent?.hint ?? "", /line it up with the keys beside it/);
});

test("an alias expansion bomb is refused without expanding it", () => {
  const lines = ["a: &a [x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 12; i++)
    lines.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(", ")}]`,
    );
  const { ok, diagnostics } = check({ "policies/bomb.yaml": lines.join("\n") });
  assert.equal(ok, false);
  assert.ok(diagnostics.some((d) => d.code === "language.yaml_alias"));
});

test("a condition that is not a bool is a type error", () => {
  const d = only(
    check({ "policies/p.yaml": policy("input.env") }).diagnostics,
    "language.cel_type",
  );
  assert.match(d.message, /must be a bool, found `string`/);
});

test("an exception longer than the maximum duration is an error; an expired one a warning", () => {
  const exception = (expires: string) => `apiVersion: stele/v1
kind: Exception
metadata:
  name: x
spec:
  policy: p
  rules: [r]
  when: input.env == 'dev'
  expires: ${expires}
  owner: a@example.com
  justification: incident
`;
  const long = check({
    "policies/p.yaml": policy("true"),
    "exceptions/x.yaml": exception("2026-12-06T00:00:01Z"),
  });
  assert.match(only(long.diagnostics, "language.exception_expiry").message, /at most 7d/);
  const expired = check({
    "policies/p.yaml": policy("true"),
    "exceptions/x.yaml": exception("2026-11-27T00:00:00Z"),
  });
  assert.equal(expired.ok, true);
  assert.equal(only(expired.diagnostics, "language.exception_expired").severity, "warning");
});

test("an exception may only waive enforced deny rules of an existing policy", () => {
  const text = `apiVersion: stele/v1
kind: Exception
metadata:
  name: x
spec:
  policy: nope
  rules: [r]
  when: "true"
  expires: 2026-12-01T00:00:00Z
  owner: a
  justification: j
`;
  const d = only(
    check({ "policies/p.yaml": policy("true"), "exceptions/x.yaml": text }).diagnostics,
    "language.unknown_reference",
  );
  assert.equal(at(d), where(text, "nope"));
});

test("a missing stele.yaml is reported with how to make one", () => {
  const r = compile([new Source("policies/p.yaml", policy("true"))], { now: NOW });
  const d = only(r.diagnostics, "language.missing_field");
  assert.equal(d.position.file, "stele.yaml");
  assert.match(d.hint ?? "", /stele init/);
});

test("the plan is the same whatever order the sources come in", () => {
  const files = {
    "policies/a.yaml": policy("true").replace("name: p", "name: a"),
    "policies/b.yaml": policy("false").replace("name: p", "name: b"),
  };
  const all = Object.entries({ "stele.yaml": PROJECT, "schemas/sql.json": SCHEMA, ...files }).map(
    ([f, t]) => new Source(f, t),
  );
  const a = compile(all, { now: NOW });
  const b = compile([...all].reverse(), { now: NOW });
  assert.ok(a.ok && b.ok);
  assert.deepEqual(
    a.set.policies.map((p) => p.name),
    b.set.policies.map((p) => p.name),
  );
});

test("a diagnostic prints as file:line:col with the line and a caret under the problem", () => {
  const text = policy("input.statement.knd == 'DROP'");
  const source = new Source("policies/p.yaml", text);
  const d = only(check({ "policies/p.yaml": text }).diagnostics, "language.cel_type");
  const printed = formatDiagnostic(d, source).split("\n");
  assert.match(printed[0] ?? "", /^policies\/p\.yaml:11:\d+: /);
  assert.equal(printed[1], " 11 |       when: input.statement.knd == 'DROP'");
  assert.match(printed[2] ?? "", /^ {4}\| {7,}\^+$/);
});
