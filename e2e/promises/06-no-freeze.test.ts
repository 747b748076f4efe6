// DESIGN promise 6, "no freeze": a decision point refuses to keep serving on a view of the ledger
// older than its configured freshness. Its store is made unreadable under it (the ledger's
// folder replaced by a file): past --max-staleness its status says stale, it is not ready, with
// --fail-closed-when-stale it denies every request, and `stele drift` reports it; once it reads
// the ledger again, it serves as before.
import assert from "node:assert/strict";
import { cpSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "../../src/testing/index.js";
import { makeRepo } from "../fixture.js";
import { type Pdp, startPdp, until } from "../pdp.js";

const repo = makeRepo();
repo.build("v1.json");
repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
repo.ok("release", "v1.json", "--env", "staging");
const ledger = join(repo.dir, ".stele", "ledger");

// a copy of the store, for a decision point to serve from while `stele drift` reads the original
function storeCopy(): string {
  const copy = join(tempDir(), "store");
  cpSync(join(repo.dir, ".stele"), copy, { recursive: true });
  return copy;
}

// a read the policy allows: only a stale decision point that fails closed denies it
const audit = {
  env: "prod",
  principal: { id: "bob", roles: [] },
  statement: { kind: "SELECT", table: "audit", hasWhere: true, rowsEstimate: 1 },
};

// the ledger (of the store at `ledger`) unreadable while `body` runs, put back after
async function frozen(ledger: string, body: () => Promise<void>): Promise<void> {
  renameSync(ledger, `${ledger}.away`);
  writeFileSync(ledger, "not a folder");
  try {
    await body();
  } finally {
    rmSync(ledger);
    renameSync(`${ledger}.away`, ledger);
  }
}

const stale = (pdp: Pdp) =>
  until("the ledger view to go stale", async () => {
    const s = await pdp.status();
    return s.state === "stale" && s;
  });

test("a decision point on a ledger view older than --max-staleness is stale and not ready, and fails closed when told to", async () => {
  // its own copy of the store goes unreadable; `stele drift` reads the original, still whole
  const copy = storeCopy();
  const pdp = await startPdp(repo.dir, {
    store: `file:${copy}`,
    poll: "300ms",
    args: ["--max-staleness", "1s", "--fail-closed-when-stale"],
  });
  try {
    await until("v1 to be served", async () => (await pdp.status()).version === 1);
    assert.equal((await pdp.post("/v1/decide", { input: audit })).json.decision, "allow");
    await frozen(join(copy, "ledger"), async () => {
      const status = await stale(pdp);
      assert.equal(status.drift.status, "stale");
      assert.match(status.drift.detail, /older than its freshness limit/);
      assert.ok(status.ledgerAgeSeconds > 1, JSON.stringify(status));
      const ready = await pdp.get("/readyz");
      assert.equal(ready.status, 503);
      assert.match(ready.json.reason, /older than its freshness limit/);
      // every request denied, saying why
      const d = await pdp.post("/v1/decide", { input: audit });
      assert.equal(d.status, 200);
      assert.equal(d.json.decision, "deny");
      assert.ok(
        d.json.errors.some((e: { code: string }) => e.code === "server.stale"),
        JSON.stringify(d.json),
      );
      // and `stele drift` names it stale, for that reason
      const drift = repo.run("drift", "--pdp", pdp.url, "--json");
      assert.equal(drift.code, 4, drift.stdout + drift.stderr);
      const entry = JSON.parse(drift.stdout)
        .envs.flatMap((e: { pdps: { url: string }[] }) => e.pdps)
        .find((p: { url: string }) => p.url === pdp.url);
      // (between two reads of a ledger it cannot follow, it says it refuses it)
      assert.equal(entry?.status, "stale", drift.stdout);
      assert.match(
        entry?.detail ?? "",
        /older than its freshness limit|refuses the ledger it reads/,
      );
    });
    // the ledger read again: fresh, ready, and deciding as before
    await until("the view to be fresh again", async () => (await pdp.status()).state === "ok");
    assert.equal((await pdp.get("/readyz")).status, 200);
    assert.equal((await pdp.post("/v1/decide", { input: audit })).json.decision, "allow");
  } finally {
    await pdp.stop();
  }
});

test("without --fail-closed-when-stale a stale decision point still answers from its last verified release, and says it is stale", async () => {
  const pdp = await startPdp(repo.dir, { poll: "300ms", args: ["--max-staleness", "1s"] });
  try {
    await until("v1 to be served", async () => (await pdp.status()).version === 1);
    await frozen(ledger, async () => {
      await stale(pdp);
      assert.equal((await pdp.get("/readyz")).status, 503);
      const d = await pdp.post("/v1/decide", { input: audit });
      assert.equal(d.json.decision, "allow");
      assert.equal(d.json.version, 1);
    });
  } finally {
    await pdp.stop();
  }
});
