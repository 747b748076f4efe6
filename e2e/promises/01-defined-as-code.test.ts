// DESIGN promise 1 under attack: a policy that does not parse, does not type-check against its
// input schema, or spells a field wrong never ships; `stele check` exits 1 and names the file,
// line and column of the exact place, and `stele build` refuses the tree.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeRepo } from "../fixture.js";
import { refused } from "./attack.js";

const repo = makeRepo();
const file = "policies/db-guardrails.yaml";
const original = readFileSync(join(repo.dir, file), "utf8");

// checks, then builds, the policy with one edit (restored after); `at` is where `needle` starts
function checkWith(from: string, to: string, needle: string) {
  assert.ok(original.includes(from), `no \`${from}\` in ${file}`);
  const edited = original.replace(from, to);
  const lines = edited.split("\n");
  const line = lines.findIndex((l) => l.includes(needle));
  const at = { line: line + 1, col: (lines[line] ?? "").indexOf(needle) + 1 };
  repo.edit(file, () => edited);
  try {
    const human = repo.run("check");
    const json = repo.run("check", "--json");
    const build = repo.run("build", "-o", "never.json", "--json");
    return { at, human, json, result: JSON.parse(json.stdout), build };
  } finally {
    repo.edit(file, () => original);
  }
}

test("a CEL condition naming a field the schema lacks fails check at its file:line:col", () => {
  const { at, human, json, result, build } = checkWith(
    "input.statement.kind in ['DROP', 'TRUNCATE']",
    "input.statement.tabel == 'x'",
    "tabel",
  );
  assert.equal(human.code, 1);
  assert.match(
    human.stdout + human.stderr,
    new RegExp(`${file}:${at.line}:${at.col}: undeclared field \`tabel\``),
  );
  assert.equal(json.code, 1);
  assert.equal(result.ok, false);
  assert.deepEqual(
    result.diagnostics.map((d: { code: string; position: unknown }) => [d.code, d.position]),
    [["language.cel_type", { file, ...at }]],
  );
  const error = refused(build, "bundle.check_failed");
  assert.deepEqual(error.position, { file, ...at });
});

test("a CEL syntax error fails check at its file:line:col", () => {
  // the second `&&` is the unexpected token
  const { at, human, result, build } = checkWith(
    "input.env == 'prod' && input.statement.kind",
    "input.env == 'prod' && && input.statement.kind",
    "&& input.statement.kind",
  );
  assert.equal(human.code, 1);
  assert.equal(result.diagnostics[0].code, "language.cel_syntax");
  assert.deepEqual(result.diagnostics[0].position, { file, ...at });
  assert.match(human.stdout + human.stderr, new RegExp(`${file}:${at.line}:${at.col}: `));
  refused(build, "bundle.check_failed");
});

test("a misspelt field of a rule fails check at its file:line:col", () => {
  const { at, result, build } = checkWith(
    "      effect: deny\n      when: input.env",
    "      efect: deny\n      when: input.env",
    "efect:",
  );
  assert.ok(
    result.diagnostics.some(
      (d: { code: string; position: { line: number } }) =>
        d.code === "language.unknown_field" && d.position.line === at.line,
    ),
    JSON.stringify(result.diagnostics),
  );
  refused(build, "bundle.check_failed");
});

test("a clean tree checks with exit 0 and no diagnostics", () => {
  const r = repo.run("check", "--json");
  assert.equal(r.code, 0, r.stdout);
  assert.deepEqual(JSON.parse(r.stdout), { ok: true, diagnostics: [] });
});
