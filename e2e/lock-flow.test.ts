import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { makeRepo, strengthen, weaken } from "./fixture.js";
import { startPdp, until } from "./pdp.js";

test("a new user goes from init through keygen, approve, release, promote and verify", () => {
  const repo = makeRepo();
  const digest = repo.build();
  repo.ok("approve", "bundle.json", "--key", repo.key("alice"), "--env", "staging");
  const released = JSON.parse(repo.ok("release", "bundle.json", "--env", "staging", "--json"));
  assert.equal(released.env, "staging");
  assert.equal(released.version, 1);
  assert.equal(released.bundle, digest);
  assert.equal(released.class, "initial");

  repo.ok("approve", "bundle.json", "--key", repo.key("alice"), "--env", "prod");
  repo.ok("approve", "bundle.json", "--key", repo.key("bob"), "--env", "prod");
  const promoted = JSON.parse(repo.ok("promote", "--from", "staging", "--to", "prod", "--json"));
  assert.equal(promoted.bundle, digest);
  assert.equal(promoted.promotedFrom, "staging");

  const log = JSON.parse(repo.ok("log", "--json"));
  assert.deepEqual(
    log.releases.map((r: { env: string; version: number }) => `${r.env}@${r.version}`),
    ["staging@1", "prod@1"],
  );
  assert.match(repo.ok("log"), /staging\s+v1/);
  assert.match(repo.ok("verify"), /^ok: /);
});

test("a strengthening release needs the normal quorum and records its class", () => {
  const repo = makeRepo();
  repo.build("v1.json");
  repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
  repo.ok("release", "v1.json", "--env", "staging");
  repo.edit("policies/db-guardrails.yaml", strengthen);
  repo.commit("stronger");
  repo.build("v2.json");
  repo.ok("approve", "v2.json", "--key", repo.key("bob"), "--env", "staging");
  const r = JSON.parse(repo.ok("release", "v2.json", "--env", "staging", "--json"));
  assert.equal(r.class, "strengthening");
  assert.equal(r.version, 2);
});

test("approvals written to files are taken by release --approval, as a list; a second bundle without it is refused, not ignored", () => {
  const repo = makeRepo({ staging: { quorum: 2, weakeningQuorum: 2 } });
  repo.build();
  for (const who of ["alice", "bob"])
    repo.ok(
      "approve",
      "bundle.json",
      "--key",
      repo.key(who),
      "--env",
      "staging",
      "-o",
      `${who}.json`,
    );
  const stray = repo.run("release", "bundle.json", "alice.json", "--env", "staging");
  assert.equal(stray.code, 2, stray.stderr);
  assert.match(stray.stderr, /one bundle at a time: what is `alice\.json`\?/);
  const r = JSON.parse(
    repo.ok(
      "release",
      "bundle.json",
      "--env",
      "staging",
      "--approval",
      "alice.json",
      "bob.json",
      "--json",
    ),
  );
  assert.deepEqual(r.approvers, ["alice", "bob"]);
});

// staging runs v1 (one approval; `weakeningQuorum` for a weakening), and v2.json weakens it
function weakenedRepo(weakeningQuorum = 2) {
  const repo = makeRepo({ staging: { quorum: 1, weakeningQuorum } });
  repo.build("v1.json");
  repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
  repo.ok("release", "v1.json", "--env", "staging");
  repo.edit("policies/db-guardrails.yaml", weaken);
  repo.commit("weaker");
  repo.build("v2.json");
  return repo;
}

test("a weakening release with the weakening quorum and a justification is recorded as such", () => {
  const repo = weakenedRepo();
  repo.ok("approve", "v2.json", "--key", repo.key("alice"), "--env", "staging");
  repo.ok("approve", "v2.json", "--key", repo.key("bob"), "--env", "staging");
  const r = JSON.parse(
    repo.ok(
      "release",
      "v2.json",
      "--env",
      "staging",
      "--justification",
      "TRUNCATE is needed for the nightly job",
      "--json",
    ),
  );
  assert.equal(r.class, "weakening");
  assert.equal(r.justification, "TRUNCATE is needed for the nightly job");
  assert.match(repo.ok("verify"), /^ok: /);
});

test("a weakening release takes its justification from the approvals when the release gives none", () => {
  const repo = weakenedRepo();
  const why = "INC-4821: the nightly job truncates its scratch table";
  // approvals without a reason: the release is refused, saying where a reason can go
  repo.ok("approve", "v2.json", "--key", repo.key("alice"), "--env", "staging");
  repo.ok("approve", "v2.json", "--key", repo.key("bob"), "--env", "staging");
  const bare = repo.run("release", "v2.json", "--env", "staging");
  assert.equal(bare.code, 1, bare.stderr);
  assert.match(bare.stderr, /has no justification[\s\S]*stele approve --justification/);
  // approvals that give one (a reviewer's first approval of a digest is the one that counts: a
  // new digest, approved with a reason)
  repo.edit(
    "policies/db-guardrails.yaml",
    (t) => `${t}\n# the same weakening, approved with a reason\n`,
  );
  repo.commit("weaker, again");
  repo.build("v3.json");
  for (const who of ["alice", "bob"])
    repo.ok(
      "approve",
      "v3.json",
      "--key",
      repo.key(who),
      "--env",
      "staging",
      "--justification",
      why,
    );
  const r = JSON.parse(repo.ok("release", "v3.json", "--env", "staging", "--json"));
  assert.equal(r.class, "weakening");
  assert.equal(r.justification, why);
  assert.match(repo.ok("verify"), /^ok: /);
});

test("only a counted approval's reason justifies a weakening: one for another env does not", () => {
  const repo = weakenedRepo(1);
  repo.ok("approve", "v2.json", "--key", repo.key("alice"), "--env", "staging");
  // bob's reason is given for prod: it does not count for staging
  repo.ok(
    "approve",
    "v2.json",
    "--key",
    repo.key("bob"),
    "--env",
    "prod",
    "--justification",
    "for prod",
  );
  const r = repo.run("release", "v2.json", "--env", "staging", "--json");
  assert.equal(r.code, 1, r.stdout);
  assert.equal(JSON.parse(r.stderr).error.code, "release.justification_required");
});

test("the same flow works on the shared postgres: store", {
  skip: process.env.STELE_TEST_POSTGRES ? false : "skipped: STELE_TEST_POSTGRES is not set",
}, async () => {
  const store = `${process.env.STELE_TEST_POSTGRES}?schema=e2e_${randomBytes(6).toString("hex")}`;
  const repo = makeRepo();
  const digest = repo.build();
  repo.ok(
    "approve",
    "bundle.json",
    "--key",
    repo.key("alice"),
    "--env",
    "staging",
    "--store",
    store,
  );
  assert.equal(
    JSON.parse(repo.ok("release", "bundle.json", "--env", "staging", "--store", store, "--json"))
      .bundle,
    digest,
  );
  repo.ok("approve", "bundle.json", "--key", repo.key("alice"), "--env", "prod", "--store", store);
  repo.ok("approve", "bundle.json", "--key", repo.key("bob"), "--env", "prod", "--store", store);
  repo.ok("promote", "--from", "staging", "--to", "prod", "--store", store);
  assert.match(repo.ok("verify", "--store", store), /^ok: /);
  assert.equal(JSON.parse(repo.ok("log", "--json", "--store", store)).releases.length, 2);
  // a decision point on the shared store: it loads prod, decides, and logs what it decided there
  const pdp = await startPdp(repo.dir, { env: "prod", store });
  let id: string;
  try {
    await until(
      "the decision point to serve prod v1",
      async () => (await pdp.status()).version === 1,
    );
    const input = {
      env: "prod",
      principal: { id: "bob", roles: [] },
      statement: { kind: "DROP", table: "orders", hasWhere: false, rowsEstimate: 0 },
    };
    const d = await pdp.post("/v1/decide", { input });
    assert.equal(d.status, 200);
    assert.equal(d.json.decision, "deny");
    assert.equal(d.json.bundle, digest);
    id = d.json.id;
  } finally {
    await pdp.stop();
  }
  const logs = JSON.parse(repo.ok("decisions", "verify", "--json", "--store", store));
  assert.equal(logs.ok, true, JSON.stringify(logs));
  assert.equal(logs.logs[0]?.entries, 1);
  const replay = JSON.parse(repo.ok("decisions", "replay", id, "--json", "--store", store));
  assert.equal(replay.replay.same, true);
  assert.equal(replay.replay.replayed.decision, "deny");
});
