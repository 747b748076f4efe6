// DESIGN promise 10 under attack: every environment runs the same bundle digest, never a rebuild;
// prod takes only a digest that ran where it is promoted from, whichever way it is offered.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeRepo, strengthen } from "../fixture.js";
import { refused } from "./attack.js";

// a third environment, `dev`, that prod does not promote from
const repo = makeRepo();
repo.edit("stele.yaml", (t) =>
  t.replace("  exceptions:", "    - name: dev\n      quorum: 1\n  exceptions:"),
);
repo.commit("a dev environment");
const v1 = repo.build("v1.json");

function approve(bundle: string, env: string, ...names: string[]) {
  for (const name of names) repo.ok("approve", bundle, "--key", repo.key(name), "--env", env);
}

test("the same commit always builds the same bundle digest and bytes", () => {
  assert.equal(repo.build("rebuilt.json"), v1);
  assert.equal(
    readFileSync(join(repo.dir, "rebuilt.json"), "utf8"),
    readFileSync(join(repo.dir, "v1.json"), "utf8"),
  );
});

test("promotion releases the exact digest the source environment runs", () => {
  approve("v1.json", "staging", "alice");
  repo.ok("release", "v1.json", "--env", "staging");
  approve("v1.json", "prod", "alice", "bob");
  const promoted = JSON.parse(repo.ok("promote", "--from", "staging", "--to", "prod", "--json"));
  assert.equal(promoted.bundle, v1);
  assert.equal(promoted.promotedFrom, "staging");
  const { current } = JSON.parse(repo.ok("log", "--json"));
  assert.equal(current.prod.bundle, current.staging.bundle);
});

test("prod refuses a digest never released to staging", () => {
  repo.edit("policies/db-guardrails.yaml", strengthen);
  repo.commit("stronger");
  const v2 = repo.build("v2.json");
  approve("v2.json", "prod", "alice", "bob");
  const error = refused(
    repo.run("release", "v2.json", "--env", "prod", "--json"),
    "release.not_promoted",
  );
  assert.equal(
    error.message,
    `\`prod\` takes only bundles released to \`staging\` first; ${v2} never was`,
  );
  assert.match(error.hint ?? "", /stele promote --from staging --to prod/);
});

test("promotion of a digest that never ran in promoteFrom is refused", () => {
  approve("v2.json", "dev", "alice");
  repo.ok("release", "v2.json", "--env", "dev");
  const error = refused(
    repo.run("promote", "--from", "dev", "--to", "prod", "--json"),
    "release.not_promoted",
  );
  assert.match(error.message, /^`prod` takes only bundles released to `staging` first/);
});

test("once staging ran it, the same digest is promoted to prod", () => {
  const v2 = JSON.parse(repo.ok("log", "--env", "dev", "--json")).current.dev.bundle;
  approve("v2.json", "staging", "carol");
  repo.ok("release", "v2.json", "--env", "staging");
  const promoted = JSON.parse(repo.ok("promote", "--from", "staging", "--to", "prod", "--json"));
  assert.equal(promoted.bundle, v2);
  assert.equal(promoted.version, 2);
  assert.equal(promoted.class, "strengthening");
});
