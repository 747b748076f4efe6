// DESIGN promise 9 under attack: an exception is a reviewed, time-boxed document. One that runs
// past the project's maximum never builds, one that lacks its owner or expiry never checks, adding
// or extending one is a weakening, and the engine stops honouring it the moment it expires.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeRepo } from "../fixture.js";
import { refused } from "./attack.js";

const repo = makeRepo({ staging: { quorum: 1, weakeningQuorum: 2 } });
const file = "exceptions/cleanup.yaml";
const original = readFileSync(join(repo.dir, file), "utf8");
const expires = /expires: (\S+)/.exec(original)?.[1] ?? "";
repo.build("v1.json");
writeFileSync(
  join(repo.dir, "drop.json"),
  JSON.stringify({
    env: "prod",
    principal: { id: "alice", roles: ["dba"] },
    statement: { kind: "DROP", table: "tmp_import", hasWhere: false, rowsEstimate: 0 },
  }),
);

function restore() {
  repo.edit(file, () => original);
}

function evalAt(now: string) {
  return JSON.parse(repo.ok("eval", "v1.json", "--input", "drop.json", "--now", now, "--json")) as {
    decision: string;
    exceptions: { name?: string }[] | string[];
    policies: { matched: string[] }[];
  };
}

const at = (ms: number) => new Date(Date.parse(expires) + ms).toISOString();

test("an exception is honoured by stele eval only until the moment it expires", () => {
  const before = evalAt(at(-1000));
  assert.equal(before.decision, "allow");
  assert.match(JSON.stringify(before.exceptions), /cleanup-tmp-import/);
  for (const now of [at(0), at(1000), at(86_400_000)]) {
    const after = evalAt(now);
    assert.equal(after.decision, "deny", `at ${now}`);
    assert.deepEqual(after.exceptions, [], `at ${now}`);
    assert.deepEqual(after.policies[0]?.matched, ["no-drop-in-prod"]);
  }
});

test("an exception past the maximum duration fails check and build", () => {
  const far = new Date(Date.now() + 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");
  repo.edit(file, (t) => t.replace(expires, far));
  try {
    const line = original.split("\n").findIndex((l) => l.includes("expires:")) + 1;
    const check = repo.run("check", "--json");
    assert.equal(check.code, 1);
    const [d] = JSON.parse(check.stdout).diagnostics;
    assert.equal(d.code, "language.exception_expiry");
    assert.match(
      d.message,
      /^exception `cleanup-tmp-import` expires .* from now; the project allows at most 7d$/,
    );
    assert.deepEqual(d.position, { file, line, col: 12 });
    const error = refused(repo.run("build", "-o", "never.json", "--json"), "bundle.check_failed");
    assert.deepEqual(error.position, { file, line, col: 12 });
    const human = repo.run("build", "-o", "never.json");
    assert.match(
      human.stderr,
      new RegExp(`${file}:${line}:12: exception \`cleanup-tmp-import\` expires`),
    );
  } finally {
    restore();
  }
});

test("an exception without an owner or an expiry fails check", () => {
  repo.edit(file, (t) => t.replace(/ {2}expires: .*\n/, "").replace(/ {2}owner: .*\n/, ""));
  try {
    const check = repo.run("check", "--json");
    assert.equal(check.code, 1);
    const missing = JSON.parse(check.stdout).diagnostics.filter(
      (d: { code: string; position: { file: string } }) =>
        d.code === "language.missing_field" && d.position.file === file,
    );
    assert.equal(missing.length, 2, check.stdout);
  } finally {
    restore();
  }
});

test("extending an exception is a weakening for stele diff", () => {
  repo.edit(file, (t) => t.replace(expires, at(86_400_000).replace(/\.\d+Z$/, "Z")));
  try {
    const r = repo.run("diff", "v1.json", ".", "--json");
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout).class, "weakening");
  } finally {
    restore();
  }
});

test("a release that adds an exception needs the weakening quorum", () => {
  repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
  repo.ok("release", "v1.json", "--env", "staging");
  writeFileSync(
    join(repo.dir, "exceptions", "bob.yaml"),
    original
      .replace("cleanup-tmp-import", "dave-drops-anything")
      .replace(
        "input.principal.id == 'alice' && input.statement.table == 'tmp_import'",
        "input.principal.id == 'dave'",
      ),
  );
  repo.commit("dave may drop anything");
  const v2 = repo.build("v2.json");
  const diff = repo.run("diff", "v1.json", "v2.json", "--json");
  assert.equal(diff.code, 3);
  assert.match(diff.stdout, /dave-drops-anything/);
  repo.ok("approve", "v2.json", "--key", repo.key("alice"), "--env", "staging");
  const error = refused(
    repo.run("release", "v2.json", "--env", "staging", "--justification", "INC-1", "--json"),
    "release.weakening_quorum_not_met",
  );
  assert.match(
    error.message,
    new RegExp(`^weakening release of ${v2} to \`staging\` needs 2 approvals`),
  );
});
