// DESIGN promise 8 under attack, for decisions, on the shared postgres: store. There a log's size
// is its last index plus one: deleting the rows of its last batch, and that batch's checkpoint,
// leaves a shorter log that verifies on its own. The decision point that signed them says so:
// its heartbeat in the store (`stele decisions verify`), its /v1/status while it runs (`verify
// --pdp`), and the checkpoint it keeps beside its state file when it starts again. The same
// attacks on the file store: 08-provable-history-decisions.test.ts.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, test } from "node:test";
import pg from "pg";
import { coversSize, decideThenStop, decideUntilSigned } from "../decision-logs.js";
import { makeRepo, type Repo } from "../fixture.js";
import { type Pdp, startPdp, until } from "../pdp.js";

// a real PostgreSQL server (.ci/run starts one and sets STELE_TEST_POSTGRES)
const url = process.env.STELE_TEST_POSTGRES;
const skip = url ? false : "skipped: STELE_TEST_POSTGRES is not set";

const pdps: Pdp[] = [];
const schemas: string[] = [];
let pool: pg.Pool | undefined;
after(async () => {
  await Promise.all(pdps.map((p) => p.stop()));
  if (pool) {
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pool.end();
  }
});

// the database itself, as someone with its password sees it (no Stele code in between)
function sql(): pg.Pool {
  pool ??= new pg.Pool({ connectionString: url, max: 2 });
  return pool;
}

// one policy repository for every test, v1 built; made on first use (never when skipped)
let theRepo: Repo | undefined;
function repo(): Repo {
  if (!theRepo) {
    theRepo = makeRepo();
    theRepo.build("v1.json");
  }
  return theRepo;
}

// a store of its own, in a fresh schema, with v1 released to staging: its URL and schema
function freshStore(): { store: string; schema: string } {
  const schema = `e2e_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  const store = `${url}?schema=${schema}`;
  const r = repo();
  r.ok("approve", "v1.json", "--key", r.key("alice"), "--env", "staging", "--store", store);
  r.ok("release", "v1.json", "--env", "staging", "--store", store);
  return { store, schema };
}

// a decision point on `store` that decides `n` requests in two batches, then stops
const decide = (store: string, n: number, state?: string) =>
  decideThenStop(repo().dir, n, { store, ...(state !== undefined && { state }) });

// `stele decisions verify --store STORE`: its exit code, its --json output, the log's report in
// it, and (when asked for) the human report
function verify(
  store: string,
  name: string,
  human = false,
  // biome-ignore lint/suspicious/noExplicitAny: assertions read the whole --json report
): { code: number | null; stdout: string; log: any; human: string } {
  const r = repo().run("decisions", "verify", "--store", store, "--json");
  const log = JSON.parse(r.stdout).logs.find((l: { log: string }) => l.log === name);
  return {
    code: r.code,
    stdout: r.stdout,
    log,
    human: human ? repo().run("decisions", "verify", "--store", store).stdout : "",
  };
}

// the sizes of the log's checkpoints, as the table holds them
async function checkpointSizes(schema: string, log: string): Promise<number[]> {
  const { rows } = await sql().query<{ size: string }>(
    `SELECT size FROM ${schema}.log_checkpoints WHERE log = $1 ORDER BY size`,
    [log],
  );
  return rows.map((r) => Number(r.size));
}

// the number of the log's rows
async function rowCount(schema: string, log: string): Promise<number> {
  const { rows } = await sql().query<{ n: string }>(
    `SELECT count(*) AS n FROM ${schema}.log_entries WHERE log = $1`,
    [log],
  );
  return Number(rows[0]?.n);
}

// the heartbeat document the decision point `log` last wrote to the store, as stored
async function heartbeatDoc(schema: string, log: string): Promise<Buffer | undefined> {
  return docBytes(schema, `heartbeats/${log}.json`);
}

// a document's bytes as stored
async function docBytes(schema: string, name: string): Promise<Buffer | undefined> {
  const { rows } = await sql().query<{ bytes: Buffer }>(
    `SELECT bytes FROM ${schema}.docs WHERE name = $1`,
    [name],
  );
  return rows[0]?.bytes;
}

// the checkpoint a heartbeat document names (its signature is verify's to check)
function beatCheckpoint(doc: Buffer | undefined): unknown {
  if (!doc) return undefined;
  const { payload } = JSON.parse(doc.toString("utf8"));
  return JSON.parse(Buffer.from(payload, "base64").toString("utf8")).decisionLog?.checkpoint;
}

/** Rows deleted by hand, to put back. */
interface Cut {
  readonly entries: readonly { idx: string; bytes: Buffer }[];
  readonly checkpoints: readonly { size: string; note: string }[];
  readonly docs: readonly { name: string; bytes: Buffer }[];
}

// the log's last batch (its rows from the size of the checkpoint before the last one on) and
// its checkpoint deleted in one transaction, and the store documents named in `docs`
async function cutLastBatch(schema: string, log: string, docs: string[] = []): Promise<Cut> {
  const sizes = await checkpointSizes(schema, log);
  const [last, before = 0] = [...sizes].reverse();
  assert.ok(last !== undefined && last > before, `checkpoints at ${sizes}`);
  const client = await sql().connect();
  try {
    await client.query("BEGIN");
    const entries = await client.query<{ idx: string; bytes: Buffer }>(
      `DELETE FROM ${schema}.log_entries WHERE log = $1 AND idx >= $2 RETURNING idx, bytes`,
      [log, before],
    );
    const checkpoints = await client.query<{ size: string; note: string }>(
      `DELETE FROM ${schema}.log_checkpoints WHERE log = $1 AND size > $2 RETURNING size, note`,
      [log, before],
    );
    const removed = await client.query<{ name: string; bytes: Buffer }>(
      `DELETE FROM ${schema}.docs WHERE name = ANY($1::text[]) RETURNING name, bytes`,
      [docs],
    );
    await client.query("COMMIT");
    // the whole last batch, and only its one checkpoint, are gone
    assert.equal(entries.rowCount, last - before);
    assert.deepEqual(
      checkpoints.rows.map((r) => Number(r.size)),
      [last],
    );
    assert.equal(removed.rowCount, docs.length);
    return { entries: entries.rows, checkpoints: checkpoints.rows, docs: removed.rows };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

// what cutLastBatch deleted, put back as it was
async function putBack(schema: string, log: string, cut: Cut): Promise<void> {
  for (const e of cut.entries)
    await sql().query(`INSERT INTO ${schema}.log_entries (log, idx, bytes) VALUES ($1, $2, $3)`, [
      log,
      e.idx,
      e.bytes,
    ]);
  for (const c of cut.checkpoints)
    await sql().query(
      `INSERT INTO ${schema}.log_checkpoints (log, size, note) VALUES ($1, $2, $3)`,
      [log, c.size, c.note],
    );
  for (const d of cut.docs)
    await sql().query(
      `INSERT INTO ${schema}.docs (name, bytes) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET bytes = EXCLUDED.bytes`,
      [d.name, d.bytes],
    );
}

test("postgres: decisions removed from the log's end with their checkpoint: verify holds the store to the heartbeat, and --pdp to the running decision point", {
  skip,
}, async () => {
  const { store, schema } = freshStore();
  const first = await decide(store, 6);
  const beatDoc = `heartbeats/${first.name}.json`;
  // the heartbeat it left as it stopped names the checkpoint of its last batch (this test
  // restarts it and holds the store to a later one)
  const olderBeat = await heartbeatDoc(schema, first.name);
  const frontierDoc = `decision-logs/${first.name}.frontier`;
  const olderFrontier = await docBytes(schema, frontierDoc);
  assert.ok(beatCheckpoint(olderBeat), "the stopped decision point left a heartbeat");
  const pdp = await startPdp(repo().dir, { store, state: first.state });
  pdps.push(pdp);
  try {
    // its last checkpoint, as its status and then its heartbeat say, covers them all
    await decideUntilSigned(pdp, ["t1", "t2"], 8);
    await until("a heartbeat that names that checkpoint", async () =>
      coversSize(beatCheckpoint(await heartbeatDoc(schema, first.name)), 8),
    );
    // the log as the decision point left it: verify and verify --pdp both hold
    const whole = verify(store, first.name);
    assert.equal(whole.code, 0, whole.stdout);
    assert.deepEqual([whole.log.ok, whole.log.entries, whole.log.heartbeat], [true, 8, true]);
    const held = repo().run("decisions", "verify", "--store", store, "--pdp", pdp.url, "--json");
    assert.equal(held.code, 0, held.stdout + held.stderr);
    assert.deepEqual(
      JSON.parse(held.stdout).pdps.map((p: { ok: boolean; log: string; size: number }) => [
        p.ok,
        p.log,
        p.size,
      ]),
      [[true, first.name, 8]],
    );
    // the last batch's rows and its checkpoint's row deleted: the rest of the log is whole, and
    // its size (its last index plus one) is smaller, but the decision point's heartbeat names
    // the checkpoint that is gone
    await cutLastBatch(schema, first.name);
    const byBeat = verify(store, first.name);
    assert.equal(byBeat.code, 1, byBeat.stdout);
    assert.deepEqual([byBeat.log.ok, byBeat.log.problem.code], [false, "ledger.tampered"]);
    assert.match(
      byBeat.log.problem.message,
      /its decision point's heartbeat says it signed 8 decisions; the store holds [0-7] and no checkpoint for them/,
    );
    // the running decision point says so too
    const byPdp = repo().run("decisions", "verify", "--store", store, "--pdp", pdp.url, "--json");
    assert.equal(byPdp.code, 1, byPdp.stdout);
    const [said] = JSON.parse(byPdp.stdout).pdps;
    assert.deepEqual(
      [said.ok, said.log, said.problem.code],
      [false, first.name, "ledger.tampered"],
    );
    // the heartbeat rolled back too (an older one, validly signed), with the decision point
    // stopped: the frontier it saved beside the log still names the later checkpoint
    assert.equal(await pdp.stop(), 0);
    await sql().query(`UPDATE ${schema}.docs SET bytes = $2 WHERE name = $1`, [beatDoc, olderBeat]);
    const byFrontier = verify(store, first.name);
    assert.equal(byFrontier.code, 1);
    assert.match(
      byFrontier.log.problem.message,
      /the frontier it saved says it signed 8 decisions/,
    );
    // and that rolled back too: the store alone cannot tell (the decision point refuses to
    // start on it)
    await sql().query(`UPDATE ${schema}.docs SET bytes = $2 WHERE name = $1`, [
      frontierDoc,
      olderFrontier,
    ]);
    assert.equal(verify(store, first.name).code, 0);
    // or deleted: verify says nothing vouches for the log's end
    await sql().query(`DELETE FROM ${schema}.docs WHERE name = $1`, [beatDoc]);
    const unheard = verify(store, first.name, true);
    assert.deepEqual([unheard.code, unheard.log.heartbeat], [0, false]);
    assert.match(unheard.human, /no heartbeat of its decision point names its end/);
  } finally {
    await pdp.stop();
  }
});

test("postgres: the decision point that signed them tells, as long as it runs: verify --pdp", {
  skip,
}, async () => {
  const { store, schema } = freshStore();
  const first = await decide(store, 6);
  const pdp = await startPdp(repo().dir, { store, state: first.state });
  pdps.push(pdp);
  try {
    await decideUntilSigned(pdp, ["t1"], 7);
    const held = repo().run("decisions", "verify", "--store", store, "--pdp", pdp.url);
    assert.equal(held.code, 0, held.stdout + held.stderr);
    // the last batch's rows and its checkpoint's row gone (its heartbeats, written every poll,
    // would say so too; the decision point is asked directly here)
    await cutLastBatch(schema, first.name);
    const r = repo().run("decisions", "verify", "--store", store, "--pdp", pdp.url);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stdout,
      /TAMPERED: http:\/\/127\.0\.0\.1:\d+ \(pdp-[^)]+\): the decision point has signed 7 decisions; the store holds [0-6] and no checkpoint for them: decisions were removed from the log's end \[ledger\.tampered\]/,
    );
    const json = repo().run("decisions", "verify", "--store", store, "--pdp", pdp.url, "--json");
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).pdps[0].problem.code, "ledger.tampered");
  } finally {
    await pdp.stop();
  }
});

test("postgres: decisions removed from the log's end while the decision point was down: it will not sign on top of what is left", {
  skip,
}, async () => {
  const { store, schema } = freshStore();
  const first = await decide(store, 6);
  // the last batch's rows and its checkpoint's row deleted, and the saved frontier and the
  // heartbeat with them: what is left is a whole, shorter log that verifies
  const cut = await cutLastBatch(schema, first.name, [
    `decision-logs/${first.name}.frontier`,
    `heartbeats/${first.name}.json`,
  ]);
  assert.equal(verify(store, first.name).code, 0);
  const left = {
    checkpoints: await checkpointSizes(schema, first.name),
    rows: await rowCount(schema, first.name),
  };
  // the decision point kept its last checkpoint outside the store: it refuses to start, and
  // exits (it closes its store's connections)
  const refused = startPdp(repo().dir, { store, state: first.state }).then((p) => {
    pdps.push(p); // started after all: stopped once the test has failed
    return p;
  });
  await assert.rejects(refused, (e: Error) => {
    assert.match(e.message, /exited 1 before listening/);
    assert.match(
      e.message,
      /lost decisions this decision point wrote: it signed 6, the store holds [0-5]/,
    );
    return true;
  });
  // and nothing was signed, or written, on top of it
  assert.deepEqual(
    {
      checkpoints: await checkpointSizes(schema, first.name),
      rows: await rowCount(schema, first.name),
    },
    left,
  );
  // the rows put back as they were, it starts again and goes on
  await putBack(schema, first.name, cut);
  const again = await decide(store, 1, first.state);
  assert.equal(again.name, first.name);
  const { code, log } = verify(store, first.name);
  assert.equal(code, 0);
  assert.deepEqual([log.ok, log.entries], [true, 7]);
});

// PostgresStore.logs() lists a log only while it has a row in log_entries: verify also holds to
// their heartbeats the logs whose keys the store keeps, and those its heartbeats name
test("postgres: every decision of a log removed with its checkpoints: the heartbeat still names what is gone", {
  skip,
}, async () => {
  const { store, schema } = freshStore();
  const pdp = await startPdp(repo().dir, { store });
  pdps.push(pdp);
  try {
    await decideUntilSigned(pdp, ["t1"], 1);
    const name = (await pdp.status()).pdp as string;
    await until("a heartbeat that names that checkpoint", async () =>
      coversSize(beatCheckpoint(await heartbeatDoc(schema, name)), 1),
    );
    assert.equal(verify(store, name).code, 0);
    // the log's one batch is its last: its rows and its checkpoint's row deleted; its key and
    // its decision point's heartbeat are still in the store
    await cutLastBatch(schema, name);
    assert.equal(await rowCount(schema, name), 0);
    // the running decision point tells
    const byPdp = repo().run("decisions", "verify", "--store", store, "--pdp", pdp.url, "--json");
    assert.equal(byPdp.code, 1, byPdp.stdout);
    assert.equal(JSON.parse(byPdp.stdout).pdps[0].problem.code, "ledger.tampered");
    // the store alone should too: its heartbeat names a checkpoint that is gone
    assert.ok(coversSize(beatCheckpoint(await heartbeatDoc(schema, name)), 1));
    const r = repo().run("decisions", "verify", "--store", store, "--json");
    assert.equal(r.code, 1, `verify passed on a log whose every decision was removed: ${r.stdout}`);
    const [log] = JSON.parse(r.stdout).logs;
    assert.deepEqual([log?.log, log?.problem?.code], [name, "ledger.tampered"]);
    assert.match(
      log.problem.message,
      /its decision point's heartbeat says it signed 1 decisions; the store holds 0 and no checkpoint for them/,
    );
  } finally {
    await pdp.stop();
  }
});
