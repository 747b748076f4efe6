// DESIGN promise 6 under attack: versions per environment only go up; going back to an older
// bundle is a new, approved, recorded weakening; and a store restored from an older copy (or
// removed) is caught by the witness `stele verify` keeps outside it, and by a new decision point
// given that witness.
import assert from "node:assert/strict";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { tempDir } from "../../src/testing/index.js";
import { makeRepo, strengthen } from "../fixture.js";
import { freshState, type Pdp, type PdpOptions, startPdp, until } from "../pdp.js";
import { refused } from "./attack.js";

const pdps: Pdp[] = [];
after(() => Promise.all(pdps.map((p) => p.stop())));
async function serve(options: PdpOptions = {}): Promise<Pdp> {
  const pdp = await startPdp(repo.dir, options);
  pdps.push(pdp);
  return pdp;
}

const repo = makeRepo({ staging: { quorum: 1, weakeningQuorum: 2 } });
const store = join(repo.dir, ".stele");
const backup = join(tempDir("stele-06-"), "store");
const v1 = repo.build("v1.json");
repo.edit("policies/db-guardrails.yaml", strengthen);
repo.commit("stronger");
repo.build("v2.json");
repo.edit("policies/db-guardrails.yaml", (t) => t.replace("append-only", "append only"));
repo.commit("reworded");
const v3 = repo.build("v3.json");

repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
repo.ok("release", "v1.json", "--env", "staging");
repo.ok("verify");
cpSync(store, backup, { recursive: true });

function release(bundle: string, ...extra: string[]) {
  return repo.run("release", bundle, "--env", "staging", "--json", ...extra);
}

test("a release with the version the environment runs is refused", () => {
  repo.ok("approve", "v2.json", "--key", repo.key("alice"), "--env", "staging");
  const error = refused(release("v2.json", "--version", "1"), "release.version_not_newer");
  assert.equal(error.message, "`staging` runs v1; a release must have a higher version, found v1");
  assert.match(error.hint ?? "", /omit --version/);
});

test("a release with a lower version than the environment runs is refused", () => {
  assert.equal(
    JSON.parse(repo.ok("release", "v2.json", "--env", "staging", "--version", "5", "--json"))
      .version,
    5,
  );
  repo.ok("approve", "v3.json", "--key", repo.key("alice"), "--env", "staging");
  const error = refused(release("v3.json", "--version", "4"), "release.version_not_newer");
  assert.equal(error.message, "`staging` runs v5; a release must have a higher version, found v4");
  assert.equal(JSON.parse(repo.ok("release", "v3.json", "--env", "staging", "--json")).version, 6);
});

test("going back to an older bundle is a weakening that needs fresh approvals and a reason", () => {
  // v1's approval was used by its own release: it counts for nothing now
  const first = refused(
    release("v1.json", "--justification", "revert"),
    "release.weakening_quorum_not_met",
  );
  assert.match(first.message, /needs 2 approvals from reviewers in the config in force, found 0$/);
  repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
  repo.ok("approve", "v1.json", "--key", repo.key("bob"), "--env", "staging");
  refused(release("v1.json"), "release.justification_required");
  const r = JSON.parse(
    repo.ok(
      "release",
      "v1.json",
      "--env",
      "staging",
      "--justification",
      "revert the audit rule",
      "--json",
    ),
  );
  assert.equal(r.bundle, v1);
  assert.equal(r.version, 7);
  assert.equal(r.class, "weakening");
  assert.equal(r.previous, v3);
});

test("a new decision point given a witness refuses a store rolled back or replaced below it; without one it has nothing to hold the store to", async () => {
  const witness = join(tempDir("stele-06-"), "witness.note");
  repo.ok("verify", "--witness", witness);
  const latest = JSON.parse(repo.ok("log", "--json")).current.staging.version;
  const old = join(tempDir("stele-06-"), "store");
  cpSync(backup, old, { recursive: true });
  const serving = async (pdp: Pdp, version: number) =>
    until(`v${version} served`, async () => (await pdp.status()).version === version);
  // a new decision point (a pod replaced, its state on a volume that went with it) trusts the
  // first ledger it reads: the store as it was at v1
  const trusting = await serve({ store: `file:${old}` });
  await serving(trusting, 1);
  // given the checkpoint `stele verify` kept, it holds the store to it from its first start
  const held = await serve({ store: `file:${old}`, args: ["--witness", witness] });
  const status = await until("the rolled-back store to be refused", async () => {
    const s = await held.status();
    return s.state === "refusing" && s;
  });
  assert.match(status.reason, /^ledger\.rollback: /);
  assert.equal(status.version, null);
  assert.equal((await held.get("/readyz")).status, 503);
  const d = await held.post("/v1/decide", { input: {} });
  assert.equal(d.json.decision, "deny");
  // a store of another ledger altogether (its own key, its own reviewers): not the one the
  // witness was taken from
  const other = makeRepo();
  other.build("v1.json");
  other.ok("approve", "v1.json", "--key", other.key("alice"), "--env", "staging");
  other.ok("release", "v1.json", "--env", "staging");
  const impostor = await serve({
    store: `file:${join(other.dir, ".stele")}`,
    args: ["--witness", witness],
  });
  const replaced = await until("the other ledger to be refused as tampering", async () => {
    const s = await impostor.status();
    return s.state === "tampered" && s;
  });
  assert.equal(replaced.version, null);
  assert.equal((await impostor.get("/readyz")).status, 503);
  assert.match(
    replaced.reason,
    /^ledger\.fork: the --witness checkpoint is not signed by the store's checkpoint key/,
  );
  // the same ledger rewritten by whoever holds its key (the store holds it): the copy of v1's
  // days grown to the witness's size by other releases; the sizes agree, the histories do not
  const fork = join(tempDir("stele-06-"), "store");
  cpSync(backup, fork, { recursive: true });
  const onFork = (...args: string[]) => repo.ok(...args, "--store", `file:${fork}`);
  for (const reviewer of ["alice", "bob"])
    onFork("approve", "v1.json", "--key", repo.key(reviewer), "--env", "prod");
  onFork("release", "v1.json", "--env", "prod");
  for (const bundle of ["v2.json", "v3.json"]) {
    onFork("approve", bundle, "--key", repo.key("alice"), "--env", "staging");
    onFork("release", bundle, "--env", "staging");
  }
  const sizeOf = (store: string) =>
    JSON.parse(
      repo.ok("verify", "--json", "--store", `file:${store}`, "--witness", join(tempDir(), "w")),
    ).size;
  assert.equal(sizeOf(fork), sizeOf(join(repo.dir, ".stele")));
  const rewritten = await serve({ store: `file:${fork}`, args: ["--witness", witness] });
  const forked = await until("the rewritten ledger to be refused", async () => {
    const s = await rewritten.status();
    return s.state === "tampered" && s;
  });
  assert.match(forked.reason, /^ledger\.fork: two different root hashes for tree size/);
  assert.equal(forked.version, null);
  // an empty store (removed, or a new one in its place): nothing to hold it to is a rollback too
  const empty = await serve({
    store: `file:${join(tempDir("stele-06-"), "store")}`,
    args: ["--witness", witness],
  });
  const emptied = await until("the empty store to be refused", async () => {
    const s = await empty.status();
    return s.state === "refusing" && s;
  });
  assert.match(emptied.reason, /^ledger\.rollback: the store has no signed checkpoint/);
  // on the store it was taken from, it serves the latest release
  await serving(await serve({ args: ["--witness", witness] }), latest);
  // a witness that is no checkpoint is refused, and the decision point does not start
  const bad = join(tempDir("stele-06-"), "bad.note");
  writeFileSync(bad, "not a checkpoint\n");
  const r = repo.run(
    "serve",
    "--env",
    "staging",
    "--witness",
    bad,
    "--state",
    freshState(),
    "--port",
    "0",
    "--json",
  );
  assert.equal(r.code, 1, r.stderr);
  const error = JSON.parse(r.stderr).error;
  assert.match(error.message, /the witness `.*bad\.note` is not a signed checkpoint/);
  assert.match(error.hint, /stele verify --witness/);
  // stopped before the next test removes the store they write their heartbeats to
  await Promise.all(pdps.splice(0).map((p) => p.stop()));
});

test("a store restored from an older copy after verify is caught as a rollback", () => {
  assert.match(repo.ok("verify"), /^ok: 9 ledger entries/);
  rmSync(store, { recursive: true });
  cpSync(backup, store, { recursive: true });
  const r = repo.run("verify", "--json");
  assert.equal(r.code, 1, r.stdout);
  const { problem } = JSON.parse(r.stdout);
  assert.equal(problem.code, "ledger.rollback");
  assert.equal(problem.message, "the ledger holds 2 entries, but 9 were seen before");
  assert.match(problem.hint, /rolled back/);
});

test("a store removed after verify is caught as a rollback", () => {
  rmSync(store, { recursive: true });
  const r = repo.run("verify", "--json");
  assert.equal(r.code, 1, r.stdout);
  assert.equal(JSON.parse(r.stdout).problem.code, "ledger.rollback");
});

test("a witness that cannot be read is an error, never taken for none (the store as it is would then pass)", () => {
  const witness = tempDir("stele-06-");
  const r = repo.run("verify", "--witness", witness, "--json");
  assert.equal(r.code, 1, r.stdout);
  const error = JSON.parse(r.stderr).error;
  assert.equal(error.code, "cli.io");
  assert.match(error.message, /^cannot read the witness `.*`: it is a folder$/);
});
