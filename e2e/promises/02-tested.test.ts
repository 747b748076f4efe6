// DESIGN promise 2 under attack: a tree whose policy tests fail cannot be built into a bundle,
// whether the test or the policy changed; `stele test` exits 1 and names the failing case.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeRepo } from "../fixture.js";
import { refused } from "./attack.js";

const repo = makeRepo();
const policy = "policies/db-guardrails.yaml";
const tests = "tests/db-guardrails.yaml";
const originals = new Map(
  [policy, tests].map((f) => [f, readFileSync(join(repo.dir, f), "utf8")] as const),
);

// runs `run` with one file edited, then puts it back
function withEdit<T>(file: string, from: string, to: string, run: () => T): T {
  const text = originals.get(file) ?? "";
  assert.ok(text.includes(from), `no \`${from}\` in ${file}`);
  repo.edit(file, () => text.replace(from, to));
  try {
    return run();
  } finally {
    repo.edit(file, () => text);
  }
}

test("a policy change its tests catch makes build refuse and writes no bundle", () => {
  withEdit(
    policy,
    "input.env == 'prod' && input.statement.kind",
    "input.env == 'production' && input.statement.kind",
    () => {
      const error = refused(
        repo.run("build", "-o", "broken.json", "--json"),
        "bundle.tests_failed",
      );
      assert.match(error.message, /^3 test cases failed, 4 passed$/);
      assert.match(error.hint ?? "", /tests pass/);
      assert.equal(existsSync(join(repo.dir, "broken.json")), false);
      const human = repo.run("build", "-o", "broken.json");
      assert.equal(human.code, 1);
      assert.match(
        human.stderr,
        /tests\/db-guardrails\.yaml:\d+:\d+: test `db-guardrails` › `drop in prod is blocked`/,
      );
      const r = repo.run("test");
      assert.equal(r.code, 1);
      assert.match(r.stdout, /3 failed/);
    },
  );
});

test("a test whose expectation is wrong makes build refuse", () => {
  withEdit(
    tests,
    "      expect: deny\n      rules: [no-drop-in-prod]\n    - name: drop in staging",
    "      expect: allow\n    - name: drop in staging",
    () => {
      const error = refused(
        repo.run("build", "-o", "broken.json", "--json"),
        "bundle.tests_failed",
      );
      assert.equal(error.message, "1 test case failed, 6 passed");
      assert.equal(existsSync(join(repo.dir, "broken.json")), false);
    },
  );
});

test("a test naming a rule that did not match makes build refuse", () => {
  withEdit(
    tests,
    "      rules: [where-required]",
    "      rules: [where-required, pii-needs-role]",
    () => {
      refused(repo.run("build", "-o", "broken.json", "--json"), "bundle.tests_failed");
    },
  );
});

test("with every test passing, build writes the bundle", () => {
  const digest = repo.build("ok.json");
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(repo.run("test").code, 0);
});
