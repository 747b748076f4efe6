// DESIGN promise 5 under attack: a change that allows anything the running version denied is found
// by `stele diff` (exit 3), and released only with the environment's weakening quorum and a written
// justification, which the record keeps; the class cannot be lied about afterwards.
import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { canonicalJson } from "../../src/bundle/index.js";
import { tempDir, tempGitRepo } from "../../src/testing/index.js";
import { makeRepo, strengthen, weaken } from "../fixture.js";
import { stele } from "../run.js";
import { entries, entryPath, refused, resignCheckpoints, storeKey, tampered } from "./attack.js";

const repo = makeRepo({ staging: { quorum: 1, weakeningQuorum: 2 } });
const policy = "policies/db-guardrails.yaml";
const original = readFileSync(join(repo.dir, policy), "utf8");
const v1 = repo.build("v1.json");
repo.edit(policy, strengthen);
repo.commit("stronger");
repo.build("strong.json");
repo.edit(policy, () => weaken(original));
repo.commit("weaker");
const weak = repo.build("weak.json");

// staging and prod both run v1
repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
repo.ok("release", "v1.json", "--env", "staging");
repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "prod");
repo.ok("approve", "v1.json", "--key", repo.key("bob"), "--env", "prod");
repo.ok("promote", "--from", "staging", "--to", "prod");

function diff(a: string, b: string) {
  const r = repo.run("diff", a, b, "--json");
  return { code: r.code, result: JSON.parse(r.stdout) };
}

test("stele diff exits 3 on a weakening and names the rule that now allows more", () => {
  const { code, result } = diff("v1.json", "weak.json");
  assert.equal(code, 3);
  assert.equal(result.class, "weakening");
  assert.deepEqual(
    result.changes.map((c: { class: string; subject: string }) => `${c.class} ${c.subject}`),
    ["weakening policy/db-guardrails/no-drop-in-prod"],
  );
  assert.equal(repo.run("diff", "v1.json", "weak.json").code, 3);
});

test("stele diff exits 0 on a strengthening and on no change", () => {
  const stronger = diff("v1.json", "strong.json");
  assert.equal(stronger.code, 0);
  assert.equal(stronger.result.class, "strengthening");
  const same = diff("v1.json", "v1.json");
  assert.equal(same.code, 0);
  assert.notEqual(same.result.class, "weakening");
  assert.deepEqual(same.result.changes, []);
});

test("stele diff exits 3 when an enforced deny rule becomes a warning", () => {
  const tests = "tests/db-guardrails.yaml";
  const cases = readFileSync(join(repo.dir, tests), "utf8");
  repo.edit(policy, (t) =>
    t.replace(
      "      effect: deny\n      when: input.statement.kind in ['UPDATE', 'DELETE']",
      "      effect: deny\n      enforcement: warn\n      when: input.statement.kind in ['UPDATE', 'DELETE']",
    ),
  );
  // a warning is not an enforced rule a test may name
  repo.edit(tests, (t) => t.replace("      rules: [where-required]\n", ""));
  try {
    const { code, result } = diff("weak.json", ".");
    assert.equal(code, 3);
    assert.equal(result.class, "weakening");
    assert.equal(result.changes[0]?.subject, "policy/db-guardrails/where-required");
  } finally {
    repo.edit(policy, () => weaken(original));
    repo.edit(tests, () => cases);
  }
});

test("a weakening release without the weakening quorum is refused", () => {
  repo.ok("approve", "weak.json", "--key", repo.key("alice"), "--env", "staging");
  const r = repo.run(
    "release",
    "weak.json",
    "--env",
    "staging",
    "--justification",
    "nightly TRUNCATE",
    "--json",
  );
  const error = refused(r, "release.weakening_quorum_not_met");
  assert.equal(
    error.message,
    `weakening release of ${weak} to \`staging\` needs 2 approvals from reviewers in the config in force, found 1 (\`alice\`)`,
  );
});

test("a weakening release with the quorum but no justification is refused", () => {
  repo.ok("approve", "weak.json", "--key", repo.key("bob"), "--env", "staging");
  for (const extra of [[], ["--justification", "   "]]) {
    const error = refused(
      repo.run("release", "weak.json", "--env", "staging", "--json", ...extra),
      "release.justification_required",
    );
    assert.equal(error.message, "release to `staging` weakens policy and has no justification");
    assert.match(error.hint ?? "", /--justification TEXT/);
  }
});

test("a weakening release with both is recorded as a weakening with its reason", () => {
  const released = JSON.parse(
    repo.ok(
      "release",
      "weak.json",
      "--env",
      "staging",
      "--justification",
      "nightly TRUNCATE",
      "--json",
    ),
  );
  assert.equal(released.class, "weakening");
  const [record] = JSON.parse(repo.ok("log", "--env", "staging", "--json")).releases.slice(-1);
  assert.equal(record.class, "weakening");
  assert.equal(record.justification, "nightly TRUNCATE");
  assert.equal(record.previous, v1);
  assert.deepEqual(record.approvals.length, 2);
  assert.equal(record.changes[0].subject, "policy/db-guardrails/no-drop-in-prod");
});

test("promoting a weakening needs the target's weakening quorum", () => {
  repo.ok("approve", "weak.json", "--key", repo.key("alice"), "--env", "prod");
  repo.ok("approve", "weak.json", "--key", repo.key("bob"), "--env", "prod");
  const r = repo.run(
    "promote",
    "--from",
    "staging",
    "--to",
    "prod",
    "--justification",
    "x",
    "--json",
  );
  const error = refused(r, "release.weakening_quorum_not_met");
  assert.match(error.message, /to `prod` needs 3 approvals .*found 2 \(`alice`, `bob`\)$/);
});

test("a weakening relabelled in the ledger, even re-signed with the store key, fails verify", () => {
  const index = entries(repo).findIndex((e) => e.class === "weakening");
  const record = JSON.parse(readFileSync(entryPath(repo, index), "utf8"));
  writeFileSync(
    entryPath(repo, index),
    canonicalJson({ ...record, class: "strengthening", justification: null }),
  );
  resignCheckpoints(repo, storeKey(repo));
  const problem = tampered(repo, join(tempDir(), "witness"), "ledger.tampered", index);
  assert.match(problem.message, /records class `strengthening` but the change is `weakening`/);
});

// a weakening dressed as a widening: dropping a guard from a deny an exception may waive widens
// what it matches, but where the guard failed the old deny could not be waived (a failing deny
// never is), and the new one can. Found by a review of the condition proof; shown end to end.
test("a deny that an exception may waive, widened where it used to fail, is a weakening, and shown to be one", () => {
  const old = tempGitRepo();
  assert.equal(stele(old, ["init"]).code, 0);
  const rule = "input.env == 'prod' && input.statement.kind in ['DROP', 'TRUNCATE']";
  const guarded = `${rule} && input.principal.roles[0] != 'owner'`;
  const edit = (dir: string, from: string, to: string) => {
    const file = join(dir, "policies", "db-guardrails.yaml");
    const text = readFileSync(file, "utf8");
    assert.ok(text.includes(from), text);
    writeFileSync(file, text.replace(from, to));
  };
  edit(old, rule, guarded);
  const next = tempDir();
  cpSync(old, next, { recursive: true });
  edit(next, guarded, rule);
  const r = stele(tempDir(), ["diff", old, next, "--json"]);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  const change = JSON.parse(r.stdout).changes.find(
    (c: { subject: string }) => c.subject === "policy/db-guardrails/no-drop-in-prod",
  );
  assert.equal(change?.class, "weakening");
  // the input that shows it: alice, with no roles, dropping the table her exception names
  const input = join(tempDir(), "drop.json");
  writeFileSync(
    input,
    JSON.stringify({
      env: "prod",
      principal: { id: "alice", roles: [] },
      statement: { kind: "DROP", table: "tmp_import", hasWhere: false, rowsEstimate: 0 },
    }),
  );
  const judged = (dir: string) =>
    JSON.parse(stele(dir, ["eval", "--input", input]).stdout).decision;
  assert.deepEqual([judged(old), judged(next)], ["deny", "allow"]);
  // with no exception to waive it (nor the tests that name it), the same change only denies more
  for (const dir of [old, next])
    for (const folder of ["exceptions", "tests"]) rmSync(join(dir, folder), { recursive: true });
  const without = stele(tempDir(), ["diff", old, next, "--json"]);
  assert.equal(without.code, 0, without.stdout);
  assert.equal(JSON.parse(without.stdout).class, "strengthening");
});
