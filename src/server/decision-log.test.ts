import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { MerkleFrontier, MerkleTree, signRoot } from "../ledger/index.js";
import { openStore, readLog, type Store } from "../store/index.js";
import { verifyDecisionLogs } from "./decision-audit.js";
import {
  DecisionLog,
  type DecisionLogOptions,
  decisionLogOrigin,
  frontierDoc,
  logKeyDoc,
} from "./decision-log.js";
import { logSigningKey, readFrontierDoc, signBatches } from "./decision-log-format.js";
import { Sealer } from "./decision-log-sealer.js";
import { pdpIdentity } from "./identity.js";
import { createMetrics } from "./metrics.js";
import { Runtime } from "./runtime.js";
import { logWitnessFile } from "./state.js";
import type { DecisionResponse } from "./wire.js";

// the decision log hashes in a worker thread: whatever fails (the store, the worker), what it
// wrote still verifies, and what it could not write is counted

// the store with its appends (or checkpoints) going through `wrap`, which gets the store's own
const appends =
  (wrap: (own: Store["appendLogBatch"]) => Store["appendLogBatch"]) =>
  (store: Store): Store =>
    withMethod(store, "appendLogBatch", wrap);
const checkpoints =
  (wrap: (own: Store["putLogCheckpoint"]) => Store["putLogCheckpoint"]) =>
  (store: Store): Store =>
    withMethod(store, "putLogCheckpoint", wrap);

function withMethod<K extends "appendLogBatch" | "putLogCheckpoint">(
  store: Store,
  method: K,
  wrap: (own: Store[K]) => Store[K],
): Store {
  const replaced = wrap(store[method].bind(store) as Store[K]);
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === method) return replaced;
      const v = Reflect.get(target, key, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

async function dropsOf(metrics: ReturnType<typeof createMetrics>): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString("stele_decision_log_dropped_total");
  return Number(text.match(/_total (\d+)/)?.[1] ?? Number.NaN);
}

async function fixture(
  wrap: (store: Store) => Store = (s) => s,
  options: DecisionLogOptions = { flushIntervalMs: 60_000, maxBatch: 5 },
) {
  const dir = mkdtempSync(join(tmpdir(), "stele-dlog-"));
  const store = await openStore(`file:${join(dir, "store")}`);
  const identity = await pdpIdentity(join(dir, "pdp.key"), "test");
  const metrics = createMetrics(new Runtime("test"));
  const log = await DecisionLog.open(wrap(store), identity.name, identity, metrics, options);
  const drops = async () =>
    (await metrics.registry.getSingleMetricAsString("stele_decision_log_dropped_total")).match(
      /_total (\d+)/,
    )?.[1];
  return {
    dir,
    store,
    log,
    drops,
    /** The same log opened again, as a restarted decision point would (the store wrapped). */
    reopen(options: DecisionLogOptions = { flushIntervalMs: 60_000, maxBatch: 5 }, on = store) {
      return DecisionLog.open(
        on,
        identity.name,
        identity,
        createMetrics(new Runtime("t")),
        options,
      );
    },
    async done() {
      await log.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// the decision log's worker, as the test sees it: the last one anything was posted to
function watchWorkers() {
  let current: Worker | undefined;
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (
    this: Worker,
    ...args: Parameters<Worker["postMessage"]>
  ) {
    current = this;
    return post.apply(this, args);
  };
  return {
    current: () => current,
    restore: () => {
      Worker.prototype.postMessage = post;
    },
  };
}

// a response with no policy, as the decision point would answer it
const answer = (id: string, decision: "allow" | "deny" = "deny"): DecisionResponse => ({
  decision,
  policies: [],
  warnings: [],
  exceptions: [],
  errors: [],
  bundle: "sha256:00",
  id,
  time: "2026-11-29T00:00:00.000Z",
  env: "test",
  version: 1,
});

let n = 0;
function record(log: DecisionLog): void {
  const id = `d-${n++}`;
  log.record(answer(id), { input: { id, text: "line\nbreak é \u2028" } });
}

// polls `ok` on the real clock (the tests below mock only setInterval)
async function until(ok: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !(await ok()); i++) await sleep(10);
  assert.ok(await ok(), `waited 10 s for ${what}`);
}

test("under load the timer writes one batch a tick, more only while a full batch waits", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  const f = await fixture(); // batches of at most 5, a tick a minute
  try {
    for (let i = 0; i < 12; i++) record(f.log);
    t.mock.timers.tick(60_000);
    // two full batches, then the turn ends with 2 decisions queued: the next tick writes them
    await until(() => f.log.size === 10 && f.log.pending === 2, "two batches");
    await sleep(100);
    assert.equal(f.log.size, 10);
    assert.equal(f.log.pending, 2);
    t.mock.timers.tick(60_000);
    await until(() => f.log.size === 12 && f.log.pending === 0, "the third batch");
    await f.log.flush(); // the turn's end: its checkpoint stored
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
    assert.equal(report?.checkpoints, 3);
  } finally {
    await f.done();
  }
});

test("a queue half full of large decisions is written at once, not at the next tick", async () => {
  // 64 KiB of queue, a tick an hour: only the queue's memory can start a batch
  const f = await fixture(undefined, { queueBytes: 64 * 1024, flushIntervalMs: 3_600_000 });
  const log = f.log;
  try {
    // the worker started first (a slow machine takes a while to start a thread)
    log.record(answer("small"), { input: {} });
    await log.flush();
    // 2 KB each, 25 ms apart: 100 of them would not fit the queue at once; a batch started at
    // half full has the time of 16 more (400 ms) to be written and fsynced, on a loaded machine too
    for (let i = 0; i < 100; i++) {
      log.record(answer(`big-${i}`), { input: { text: "x".repeat(2000) } });
      await sleep(25);
    }
    await until(() => log.size >= 50, "batches started by the queue's memory");
    assert.equal(await f.drops(), "0");
    await log.flush();
    assert.equal(log.size, 101);
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
  } finally {
    await f.done();
  }
});

test("decisions written in batches verify, across a reopen", async () => {
  const f = await fixture();
  for (let i = 0; i < 12; i++) record(f.log);
  await f.log.flush();
  assert.equal(f.log.size, 12);
  await f.log.close();
  const again = await DecisionLog.open(
    f.store,
    f.log.name,
    await pdpIdentity(join(f.store.url.slice(5), "..", "pdp.key"), "test"),
    createMetrics(new Runtime("test")),
  );
  assert.equal(again.size, 12);
  for (let i = 0; i < 3; i++) record(again);
  await again.close();
  const {
    logs: [report],
  } = await verifyDecisionLogs(f.store);
  assert.deepEqual(
    { ok: report?.ok, entries: report?.entries, uncovered: report?.uncovered },
    { ok: true, entries: 15, uncovered: 0 },
  );
  await f.done();
});

test("a batch the store refuses is dropped and counted; the log goes on and verifies", async () => {
  let fail = 1;
  const f = await fixture(
    appends((own) => async (...args) => {
      if (fail-- > 0) throw new Error("disk full");
      return own(...args);
    }),
  );
  for (let i = 0; i < 5; i++) record(f.log);
  await f.log.flush();
  assert.equal(f.log.size, 0);
  assert.equal(await f.drops(), "5");
  for (let i = 0; i < 7; i++) record(f.log);
  await f.log.flush();
  assert.equal(f.log.size, 7);
  const {
    logs: [report],
  } = await verifyDecisionLogs(f.store);
  assert.equal(report?.ok, true, report?.problem?.message);
  assert.equal(report?.entries, 7);
  await f.done();
});

test("a reopened log continues from its saved frontier, and from the whole log when that is off", async () => {
  const f = await fixture();
  for (let i = 0; i < 7; i++) record(f.log);
  await f.log.close();
  const identity = await pdpIdentity(join(f.store.url.slice(5), "..", "pdp.key"), "test");
  let metrics = createMetrics(new Runtime("test"));
  const reopen = () => {
    metrics = createMetrics(new Runtime("test"));
    return DecisionLog.open(f.store, f.log.name, identity, metrics, { maxBatch: 5 });
  };
  // a saved frontier whose checkpoint does not vouch for it is not used
  const doc = JSON.parse(String(await f.store.readDoc(frontierDoc(f.log.name))));
  await f.store.writeDoc(
    frontierDoc(f.log.name),
    Buffer.from(
      JSON.stringify({ ...doc, roots: doc.roots.map(() => Buffer.alloc(32).toString("base64")) }),
    ),
  );
  const a = await reopen();
  assert.equal(a.openedFrom, "stored entries");
  assert.equal(a.size, 7);
  for (let i = 0; i < 4; i++) record(a);
  await a.close();
  // closed cleanly: the frontier it saved is where the log is, and is used
  const current = await reopen();
  assert.equal(current.openedFrom, "saved frontier");
  assert.equal(current.size, 11);
  await current.close();
  // a frontier saved behind the log (a crash between the two writes) is not used: the whole log
  // is continued: only the batches after it are read, each checked against its checkpoint, and
  // no batch is lost to a conflict
  await f.store.writeDoc(frontierDoc(f.log.name), Buffer.from(JSON.stringify(doc)));
  const reads: (number | undefined)[] = [];
  metrics = createMetrics(new Runtime("test"));
  const b = await DecisionLog.open(
    new Proxy(f.store, {
      get(target, key) {
        const v = Reflect.get(target, key);
        if (key === "scanLog")
          return (log: string, from?: number) => {
            reads.push(from);
            return target[key](log, from);
          };
        return typeof v === "function" ? v.bind(target) : v;
      },
    }),
    f.log.name,
    identity,
    metrics,
    { maxBatch: 5 },
  );
  assert.equal(b.openedFrom, "saved frontier and the batches after it");
  assert.deepEqual(reads, [7]);
  assert.equal(b.size, 11);
  for (let i = 0; i < 3; i++) record(b);
  await b.flush();
  assert.equal(b.size, 14);
  for (let i = 0; i < 2; i++) record(b);
  await b.close();
  assert.equal(b.size, 16);
  assert.equal(await dropsOf(metrics), 0);
  const {
    logs: [report],
  } = await verifyDecisionLogs(f.store);
  assert.deepEqual(
    { ok: report?.ok, entries: report?.entries, uncovered: report?.uncovered },
    { ok: true, entries: 16, uncovered: 0 },
    report?.problem?.message,
  );
  await f.done();
});

test("after a crash a decision point reads only what follows its saved frontier: a batch changed there is refused, one changed before it is left for verify to find", async () => {
  for (const where of ["after", "before"] as const) {
    const f = await fixture();
    try {
      for (let i = 0; i < 7; i++) record(f.log);
      await f.log.close();
      const name = f.log.name;
      const open = () => f.reopen();
      // the frontier as saved at 7 decisions; 6 more are written, then a crash leaves it there
      const at7 = await f.store.readDoc(frontierDoc(name));
      const a = await open();
      for (let i = 0; i < 6; i++) record(a);
      await a.close();
      await f.store.writeDoc(frontierDoc(name), at7 as Buffer);
      // one decision edited by hand, in a batch after the saved frontier or before it
      const batches = join(f.dir, "store", "logs", name, "batches");
      const files = readdirSync(batches).sort();
      const file = join(batches, (where === "after" ? files.at(-1) : files[0]) as string);
      writeFileSync(file, readFileSync(file, "utf8").replace('"time":"2026', '"time":"2027'));
      if (where === "after") {
        await assert.rejects(open(), { code: "ledger.tampered" });
        continue;
      }
      // not read again: the decision point goes on, its checkpoints extending the tree it
      // signed, so verify still finds the edited decision, and never calls the log whole
      const b = await open();
      assert.equal(b.openedFrom, "saved frontier and the batches after it");
      for (let i = 0; i < 2; i++) record(b);
      await b.close();
      const {
        logs: [report],
      } = await verifyDecisionLogs(f.store);
      assert.equal(report?.ok, false);
      assert.equal(report?.problem?.code, "ledger.tampered");
      assert.match(report?.problem?.message ?? "", /the first 5 decisions/); // the first batch
    } finally {
      await f.done();
    }
  }
});

test("a log shorter than its saved frontier (batches removed) is refused at open, never continued", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 7; i++) record(f.log); // batches of 5 and 2, the frontier at 7
    await f.log.close();
    const batches = join(f.dir, "store", "logs", f.log.name, "batches");
    rmSync(join(batches, readdirSync(batches).sort().at(-1) as string));
    await assert.rejects(f.reopen(), { code: "ledger.tampered" });
  } finally {
    await f.done();
  }
});

test("after a crash between a batch and its checkpoint, the batch past the saved frontier is ended as not vouched for", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 3; i++) record(f.log);
    await f.log.close();
    // a batch whose checkpoint the store does not take: as a crash between the two leaves it
    let failing = true;
    const a = await f.reopen(undefined, checkpointsFail(() => failing)(f.store));
    for (let i = 0; i < 4; i++) record(a);
    await a.close();
    failing = false;
    const b = await f.reopen();
    assert.equal(b.openedFrom, "saved frontier and the batches after it");
    assert.equal(b.size, 7);
    record(b);
    await b.close();
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
    assert.deepEqual([report?.entries, report?.uncovered, report?.unvouched], [8, 0, 4]);
  } finally {
    await f.done();
  }
});

test("a worker that dies while its batch is being written is replaced without forking the tree", async () => {
  const workers = watchWorkers();
  let gate: (() => void) | undefined;
  let appended = 0;
  const f = await fixture(
    appends((own) => async (...args) => {
      if (++appended === 2) await new Promise<void>((resolve) => (gate = resolve));
      return own(...args);
    }),
  );
  try {
    for (let i = 0; i < 3; i++) record(f.log);
    await f.log.flush();
    for (let i = 0; i < 3; i++) record(f.log);
    const writing = f.log.flush();
    while (gate === undefined) await new Promise((r) => setTimeout(r, 5));
    const dying = workers.current();
    assert.ok(dying, "a worker is sealing");
    await dying.terminate();
    // the next decisions are queued while the batch is still being written
    for (let i = 0; i < 3; i++) record(f.log);
    gate();
    await writing;
    await f.log.flush();
    assert.notEqual(workers.current(), dying);
    assert.equal(f.log.size, 9);
    assert.equal(await f.drops(), "0");
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
  } finally {
    workers.restore();
    await f.done();
  }
});

test("decisions queued when the worker dies are sealed by the next one: none is lost", async () => {
  const workers = watchWorkers();
  const f = await fixture();
  try {
    for (let i = 0; i < 4; i++) record(f.log);
    const dying = workers.current();
    assert.ok(dying, "the log has a worker");
    await dying.terminate();
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 2; i++) record(f.log);
    await f.log.flush();
    assert.equal(f.log.size, 6);
    assert.equal(await f.drops(), "0");
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
  } finally {
    workers.restore();
    await f.done();
  }
});

test("when the queue's memory is full, new decisions are dropped and counted, and the rest verify", async () => {
  const dir = mkdtempSync(join(tmpdir(), "stele-dlog-"));
  const store = await openStore(`file:${join(dir, "store")}`);
  const identity = await pdpIdentity(join(dir, "pdp.key"), "test");
  const metrics = createMetrics(new Runtime("test"));
  const log = await DecisionLog.open(store, identity.name, identity, metrics, {
    flushIntervalMs: 60_000,
    queueBytes: 4096,
  });
  try {
    // a few hundred bytes each: some fit in 4 KiB, the rest do not
    for (let i = 0; i < 20; i++) record(log);
    const queued = log.pending;
    assert.ok(queued > 3 && queued < 20, `${queued} queued`);
    const pending = await metrics.registry.getSingleMetricAsString("stele_decision_log_pending");
    assert.match(pending, new RegExp(`_pending ${queued}\\b`));
    await log.flush();
    // written, their room is free again
    for (let i = 0; i < 3; i++) record(log);
    await log.flush();
    assert.equal(log.size, queued + 3);
    const drops = await metrics.registry.getSingleMetricAsString(
      "stele_decision_log_dropped_total",
    );
    assert.match(drops, new RegExp(`_total ${20 - queued}\\b`));
    const {
      logs: [report],
    } = await verifyDecisionLogs(store);
    assert.equal(report?.ok, true, report?.problem?.message);
  } finally {
    await log.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a logged request is the one the route read: its text, line breaks made spaces; replay reads it", async () => {
  const f = await fixture();
  const response = answer("d-text", "allow");
  const text = '{\r\n  "policies": ["a"],\n  "input": {"s": "é \\n \u2028"}\n}';
  f.log.record(response, { input: { s: "é \n \u2028" }, policies: ["a"] }, response, text);
  await f.log.flush();
  const [entry] = await readLog(f.store, f.log.name);
  const logged = JSON.parse(String(entry));
  assert.deepEqual(logged.request, JSON.parse(text));
  assert.ok(!String(entry).includes("\n"));
  // the answer's own fields; the id, time, env, version and bundle are the line's
  assert.deepEqual(logged.decision, {
    decision: "allow",
    policies: [],
    warnings: [],
    exceptions: [],
    errors: [],
  });
  assert.deepEqual(
    [logged.id, logged.time, logged.env, logged.version, logged.bundle],
    ["d-text", "2026-11-29T00:00:00.000Z", "test", 1, "sha256:00"],
  );
  const {
    logs: [report],
  } = await verifyDecisionLogs(f.store);
  assert.equal(report?.ok, true, report?.problem?.message);
  await f.done();
});

test("a batch the worker gathered ahead of its seal is the decisions recorded, their line breaks made spaces", async () => {
  // batches of 300, and between two seals the worker copies and hashes what was published
  // (every 64 entries) in pieces (the ring's wrap under it: decision-log-worker.test.ts)
  const f = await fixture((s) => s, {
    flushIntervalMs: 60_000,
    maxBatch: 300,
    queueBytes: 600 * 330,
  });
  const want: unknown[] = [];
  const queue = (count: number) => {
    for (let i = 0; i < count; i++) {
      const id = `g-${want.length}`;
      // the route's bytes, line breaks and all: the worker makes them spaces
      const text = `{\r\n "input": {"id": ${JSON.stringify(id)},\n "s": "é \\n ${"x".repeat(i % 50)}"}}`;
      const response = answer(id);
      f.log.record(response, { input: JSON.parse(text).input }, response, Buffer.from(text));
      want.push(JSON.parse(text));
    }
  };
  queue(300);
  await f.log.flush();
  for (let round = 0; round < 6; round++) {
    // more than a batch: some stays queued for the next seal
    queue(290);
    await sleep(60);
    queue(40);
    await sleep(60);
    await f.log.flush();
  }
  assert.equal(await f.drops(), "0");
  assert.equal(f.log.size, want.length);
  const lines = await readLog(f.store, f.log.name);
  assert.deepEqual(
    lines.map((l) => JSON.parse(String(l)).request),
    want,
  );
  assert.ok(lines.every((l) => !String(l).includes("\r")));
  const {
    logs: [report],
  } = await verifyDecisionLogs(f.store);
  assert.deepEqual(
    { ok: report?.ok, entries: report?.entries, problem: report?.problem?.message },
    { ok: true, entries: want.length, problem: undefined },
  );
  await f.done();
});

test("each line carries its own decision's time, the first one's too, and a decision without one is dropped and counted, the log's first too", async () => {
  const f = await fixture();
  // before any time is cached: not a line with no time
  f.log.record({ ...answer("first-no-time"), time: undefined as unknown as string }, { input: {} });
  const times = [
    "",
    "2026-11-29T00:00:00.000Z",
    "2026-11-29T00:00:00.000Z",
    "2026-11-29T00:00:00.001Z",
  ];
  for (const [i, time] of times.entries())
    f.log.record({ ...answer(`t-${i}`), time }, { input: {} });
  f.log.record({ ...answer("no-time"), time: undefined as unknown as string }, { input: {} });
  await f.log.flush();
  const lines = (await readLog(f.store, f.log.name)).map((l) => JSON.parse(String(l)));
  assert.deepEqual(
    lines.map((l) => l.time),
    times,
  );
  assert.equal(await f.drops(), "2");
  const {
    logs: [report],
  } = await verifyDecisionLogs(f.store);
  assert.equal(report?.ok, true, report?.problem?.message);
  await f.done();
});

test("a batch on which every worker dies is counted lost after a few tries, and the log goes on", async () => {
  const post = Worker.prototype.postMessage;
  let killed = 0;
  // every worker dies when asked to seal
  Worker.prototype.postMessage = function (
    this: Worker,
    ...args: Parameters<Worker["postMessage"]>
  ) {
    if ((args[0] as { kind?: string })?.kind === "seal") {
      killed++;
      void this.terminate();
      return;
    }
    return post.apply(this, args);
  };
  const f = await fixture();
  try {
    for (let i = 0; i < 3; i++) record(f.log);
    await f.log.flush();
    // three workers die on the batch; then it is counted lost
    assert.equal(killed, 3);
    assert.equal(f.log.pending, 0);
    assert.equal(await f.drops(), "3");
    Worker.prototype.postMessage = post;
    for (let i = 0; i < 2; i++) record(f.log);
    await f.log.flush();
    assert.equal(f.log.size, 2);
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
  } finally {
    Worker.prototype.postMessage = post;
    await f.done();
  }
});

test("closing while a batch is being sealed settles it: nothing hangs, and what was queued is counted", async () => {
  let lost = 0;
  const sealer = new Sealer(
    4096,
    (n) => {
      lost += n;
    },
    10_000,
  );
  const at = sealer.ring.begin(8);
  sealer.ring.commit(at + sealer.ring.data.write('{"a":1}', at));
  const sealing = assert.rejects(sealer.seal(10), /closed/);
  await sealer.close();
  await sealing;
  assert.equal(lost, 1);
  assert.equal(sealer.held, 0);
});

// a decision log holding `lines`, signed as a decision point signs its checkpoints; its name
async function writeLog(store: Store, keyFile: string, lines: readonly string[]): Promise<string> {
  const identity = await pdpIdentity(keyFile, "test");
  const origin = `stele.dev/decisions/${identity.name}`;
  const key = {
    origin,
    name: origin,
    privateKey: identity.privateKey,
    publicKey: identity.publicKey,
  };
  const entries = lines.map((l) => Buffer.from(l));
  const tree = new MerkleTree();
  for (const e of entries) tree.append(e);
  await store.writeDoc(logKeyDoc(identity.name), Buffer.from(identity.vkey));
  await store.appendLogBatch(identity.name, 0, entries);
  await store.putLogCheckpoint(identity.name, {
    size: entries.length,
    note: signRoot(tree.root(), entries.length, key),
  });
  return identity.name;
}

// `verify --pdp`'s report of the store and one decision point whose /v1/status is `status` (its
// URL given with a trailing slash, which the report drops)
const verifyWithPdp = (store: Store, status: () => Promise<unknown>) =>
  verifyDecisionLogs(store, { pdps: ["http://pdp/"], fetchStatus: status });

// what `verify --pdp` says of that decision point
async function pdpsSay(store: Store, status: () => Promise<unknown>) {
  return (await verifyWithPdp(store, status)).pdps ?? [];
}

test("verify --pdp fails on the decision point's word alone: unreachable, a status not a decision point's, or a log that stopped writing", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 10; i++) record(f.log);
    await f.log.flush();
    const name = f.log.name;
    const checkpoint = f.log.checkpoint as string;
    const verify = (status: () => Promise<unknown>) => verifyWithPdp(f.store, status);
    // the store's logs all verify; the decision point holds them to its checkpoint
    const fine = await verify(async () => ({ pdp: name, decisionLog: { log: name, checkpoint } }));
    assert.deepEqual([fine.ok, fine.logs[0]?.ok, fine.pdps?.[0]?.ok], [true, true, true]);
    for (const [status, code] of [
      [
        async () => {
          throw new Error("connection refused");
        },
        "server.unreachable",
      ],
      [
        async () => ({ pdp: name, decisionLog: { log: name, checkpoint: 10 } }),
        "server.bad_status",
      ],
      // not a decision point's status: nothing to hold the store to is not a pass
      [async () => ({}), "server.bad_status"],
      [
        async () => ({ pdp: name, decisionLog: { log: "pdp-x-0123456789abcdef" } }),
        "server.bad_status",
      ],
      [
        async () => ({
          pdp: name,
          decisionLog: {
            log: name,
            checkpoint,
            problem: { code: "ledger.tampered", message: "the store lost what it signed" },
          },
        }),
        "ledger.tampered",
      ],
    ] as const) {
      const r = await verify(status);
      // the logs verify on their own; the report does not, for the decision point's word
      assert.equal(r.logs[0]?.ok, true);
      assert.deepEqual(
        [r.ok, r.pdps?.[0]?.ok, r.pdps?.[0]?.url, r.pdps?.[0]?.problem?.code],
        [false, false, "http://pdp", code],
      );
    }
    // a checkpoint that does not verify: the report says whose it was
    const forged = await verify(async () => ({
      pdp: name,
      decisionLog: { log: name, checkpoint: "not a note" },
    }));
    assert.equal(forged.pdps?.[0]?.ok, false);
    assert.match(
      forged.pdps?.[0]?.problem?.message ?? "",
      /^the decision point has signed a checkpoint that does not verify: /,
    );
  } finally {
    await f.done();
  }
});

test("verify --pdp holds the store to a decision point's checkpoint: another one signed for the same size is a fork; one in the format before batches still holds", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 10; i++) record(f.log);
    await f.log.flush();
    const name = f.log.name;
    const said = f.log.checkpoint as string;
    const saying = (log: string, checkpoint: string) => async () => ({
      pdp: log,
      decisionLog: { log, checkpoint },
    });
    const [held] = await pdpsSay(f.store, saying(name, said));
    assert.deepEqual([held?.ok, held?.size], [true, 10]);
    // the store's checkpoint for those 10 replaced by another the same key signed (a second
    // writer with the decision point's key, or the store's copy swapped)
    const identity = await pdpIdentity(join(f.dir, "pdp.key"), "test");
    const other = signBatches(
      logSigningKey(name, identity.privateKey),
      new Uint8Array(32).fill(7),
      10,
      2,
    );
    writeFileSync(join(f.dir, "store", "logs", name, "checkpoints", "10".padStart(20, "0")), other);
    const [forked] = await pdpsSay(f.store, saying(name, said));
    assert.deepEqual([forked?.ok, forked?.problem?.code], [false, "ledger.fork"]);
    // a decision point that has not written since the format before batches names a
    // checkpoint of that format
    const legacy = await writeLog(f.store, join(f.dir, "legacy.key"), [
      logged({ id: "d-1" }),
      logged({ id: "d-2" }),
    ]);
    const [note] = await f.store.logCheckpointsAt(legacy, [2]);
    const [old] = await pdpsSay(f.store, saying(legacy, note?.note ?? ""));
    assert.deepEqual([old?.ok, old?.size], [true, 2]);
  } finally {
    await f.done();
  }
});

const logged = (fields: Record<string, unknown>) =>
  JSON.stringify({
    id: "d-old",
    time: "2026-11-01T00:00:00.000Z",
    env: "test",
    version: 1,
    bundle: "sha256:00",
    ...fields,
    decision: { decision: "deny", policies: [] },
  });

test("decisions logged in the earlier form (input, policies, subject at the top) still verify", async () => {
  const f = await fixture();
  try {
    const name = await writeLog(f.store, join(f.dir, "old.key"), [
      logged({ policies: ["a"], input: { x: 1 } }),
      logged({ subject: "s", input: null }),
    ]);
    const report = (await verifyDecisionLogs(f.store)).logs.find((r) => r.log === name);
    assert.equal(report?.ok, true, report?.problem?.message);
    assert.equal(report?.entries, 2);
  } finally {
    await f.done();
  }
});

test("a logged request the decision point would have refused is caught, even under a valid signature", async () => {
  const f = await fixture();
  try {
    // signed by the log's own key, so only the entry's own check can catch it
    const name = await writeLog(f.store, join(f.dir, "forged.key"), [
      logged({ request: { input: { x: 1 } } }),
      logged({ request: { input: { x: 1 }, now: "2020-01-01T00:00:00Z" } }),
    ]);
    const report = (await verifyDecisionLogs(f.store)).logs.find((r) => r.log === name);
    assert.equal(report?.ok, false);
    assert.equal(report?.problem?.code, "ledger.tampered");
    assert.equal(report?.problem?.index, 1);
    assert.match(report?.problem?.message ?? "", /request .*`now`/);
  } finally {
    await f.done();
  }
});

test("a logged answer whose own id, bundle or time are not its line's, or that is no answer, is caught under a valid signature", async () => {
  const line = (decision: Record<string, unknown>) =>
    JSON.stringify({ ...JSON.parse(logged({ request: { input: {} } })), decision });
  const answer = { decision: "deny", policies: [] };
  // lines written before the answer's fields were written once carry them twice: agreeing, fine
  const old = { ...answer, bundle: "sha256:00", id: "d-old", time: "2026-11-01T00:00:00.000Z" };
  for (const [bad, problem] of [
    [{ ...old, bundle: "sha256:evil" }, /bundle is not its line's/],
    [{ ...old, id: 42 }, /id is not its line's/],
    [{ ...answer, time: "1999-01-01T00:00:00.000Z" }, /time is not its line's/],
    [{ decision: "deny", policies: [null] }, /lacks its id, time, bundle or decision/],
    [{ decision: "deny", policies: [{ policy: "p", effect: "deny", matched: [] }] }, /lacks/],
  ] as const) {
    const f = await fixture();
    try {
      const name = await writeLog(f.store, join(f.dir, "forged.key"), [line(old), line(bad)]);
      const report = (await verifyDecisionLogs(f.store)).logs.find((r) => r.log === name);
      assert.equal(report?.ok, false, JSON.stringify(bad));
      assert.equal(report?.problem?.code, "ledger.tampered");
      assert.equal(report?.problem?.index, 1);
      assert.match(report?.problem?.message ?? "", problem);
    } finally {
      await f.done();
    }
  }
});

// the log's format: each batch one leaf, a checkpoint at the end of every batch

// a store whose `putLogCheckpoint` fails while `failing()` says so
const checkpointsFail = (failing: () => boolean) =>
  checkpoints((own) => async (...args) => {
    if (failing()) throw new Error("disk full");
    return own(...args);
  });

test("each batch is one leaf: every checkpoint commits to the tree of the batches before it", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 12; i++) record(f.log);
    await f.log.flush();
    const entries = await readLog(f.store, f.log.name);
    const stored = await f.store.logCheckpoints(f.log.name);
    assert.deepEqual(
      stored.map((c) => c.size),
      [5, 10, 12],
    );
    const tree = new MerkleTree();
    // each batch its entries joined by newlines
    for (const [a, b] of [
      [0, 5],
      [5, 10],
      [10, 12],
    ])
      tree.append(Buffer.from(entries.slice(a, b).map(String).join("\n")));
    assert.equal(tree.size, 3);
    for (const [k, c] of stored.entries()) {
      const [origin, size, root] = c.note.split("\n");
      assert.equal(origin, decisionLogOrigin(f.log.name));
      assert.equal(Number(size), c.size);
      assert.equal(root, Buffer.from(tree.root(k + 1)).toString("base64"));
    }
  } finally {
    await f.done();
  }
});

test("a removed checkpoint moves a batch's bounds, and is caught", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 12; i++) record(f.log);
    await f.log.flush();
    assert.equal((await verifyDecisionLogs(f.store)).logs[0]?.ok, true);
    rmSync(join(f.dir, "store", "logs", f.log.name, "checkpoints", "5".padStart(20, "0")));
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, false);
    assert.equal(report?.problem?.code, "ledger.tampered");
  } finally {
    await f.done();
  }
});

test("no batch is written after one whose checkpoint the store refused, until that checkpoint is", async () => {
  let failures = 2;
  const f = await fixture(checkpointsFail(() => failures-- > 0));
  try {
    for (let i = 0; i < 10; i++) record(f.log);
    await f.log.flush();
    // the first batch is written; its checkpoint failed twice, so the second batch waits
    assert.equal(f.log.size, 5);
    assert.equal(f.log.pending, 5);
    assert.equal(await f.drops(), "0");
    await f.log.flush();
    assert.equal(f.log.size, 10);
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
    assert.deepEqual([report?.entries, report?.checkpoints, report?.uncovered], [10, 2, 0]);
  } finally {
    await f.done();
  }
});

test("a decision point stopped between a batch and its checkpoint checkpoints it when it opens the log again", async () => {
  const f = await fixture(checkpointsFail(() => true));
  try {
    for (let i = 0; i < 5; i++) record(f.log);
    await f.log.close();
    assert.equal((await verifyDecisionLogs(f.store)).logs[0]?.uncovered, 5);
    const again = await f.reopen();
    assert.equal(again.openedFrom, "stored entries");
    for (let i = 0; i < 3; i++) record(again);
    await again.close();
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
    assert.deepEqual([report?.entries, report?.checkpoints, report?.uncovered], [8, 2, 0]);
  } finally {
    await f.store.close();
    rmSync(f.dir, { recursive: true, force: true });
  }
});

test("a log in the format before batches still verifies, and a decision point continues it in batches", async () => {
  const f = await fixture();
  try {
    const keyFile = join(f.dir, "old.key");
    const name = await writeLog(f.store, keyFile, [
      logged({ request: { input: { x: 1 } } }),
      logged({ request: { input: { x: 2 } } }),
      logged({ request: { input: { x: 3 } } }),
    ]);
    const before = (await verifyDecisionLogs(f.store)).logs.find((r) => r.log === name);
    assert.equal(before?.ok, true, before?.problem?.message);
    const identity = await pdpIdentity(keyFile, "test");
    const log = await DecisionLog.open(f.store, name, identity, createMetrics(new Runtime("t")), {
      flushIntervalMs: 60_000,
      maxBatch: 5,
    });
    assert.equal(log.size, 3);
    // what it says it signed last is the old format's checkpoint, and holds
    const [said] = await pdpsSay(f.store, async () => ({
      pdp: name,
      decisionLog: { log: name, checkpoint: log.checkpoint },
    }));
    assert.deepEqual([said?.ok, said?.size], [true, 3], said?.problem?.message);
    for (let i = 0; i < 7; i++) record(log);
    await log.close();
    const after = (await verifyDecisionLogs(f.store)).logs.find((r) => r.log === name);
    assert.equal(after?.ok, true, after?.problem?.message);
    assert.deepEqual([after?.entries, after?.checkpoints, after?.uncovered], [10, 3, 0]);
    // and an edit in the part written before batches is still caught
    const first = join(f.dir, "store", "logs", name, "batches", "0".padStart(20, "0"));
    writeFileSync(first, readFileSync(first, "utf8").replace('"x":2', '"x":9'));
    const edited = (await verifyDecisionLogs(f.store)).logs.find((r) => r.log === name);
    assert.equal(edited?.ok, false);
    assert.equal(edited?.problem?.code, "ledger.tampered");
  } finally {
    await f.done();
  }
});

test("a running decision point whose log lost what it signed stops writing rather than sign over the loss", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 10; i++) record(f.log);
    await f.log.flush();
    const signed = f.log.checkpoint;
    assert.match(signed ?? "", /\n10\n/);
    // the last batch and its checkpoint removed, and a stray batch where the next one goes, so
    // that the next append conflicts (and a decision point would read the log again)
    const dir = join(f.dir, "store", "logs", f.log.name);
    rmSync(join(dir, "batches", "5".padStart(20, "0")));
    rmSync(join(dir, "checkpoints", "10".padStart(20, "0")));
    writeFileSync(join(dir, "batches", "10".padStart(20, "0")), "{}");
    for (let i = 0; i < 3; i++) record(f.log);
    await f.log.flush();
    assert.equal(f.log.problem?.code, "ledger.tampered");
    assert.match(
      f.log.problem?.message ?? "",
      /lost decisions this decision point wrote: it signed 10/,
    );
    // it still says what it signed, and drops (and counts) what comes
    assert.equal(f.log.checkpoint, signed);
    record(f.log);
    assert.equal(await f.drops(), "4");
    assert.equal(f.log.size, 10);
  } finally {
    await f.done();
  }
});

test("a checkpoint is kept outside the store by a later tick, even when no batch follows it", async () => {
  const witness = logWitnessFile(join(mkdtempSync(join(tmpdir(), "stele-witness-")), "state"));
  const f = await fixture(undefined, { flushIntervalMs: 50, witness });
  const log = f.log;
  try {
    record(log);
    await until(() => log.size === 1, "the first batch");
    await until(async () => (await witness.read()).size === 1, "the first batch witnessed");
    // a second batch within the second: not saved with it, but by a later tick
    record(log);
    await until(() => log.size === 2, "the second batch");
    await until(async () => (await witness.read()).size === 2, "the second batch witnessed");
    assert.equal((await witness.read()).checkpoint, log.checkpoint);
  } finally {
    await f.done();
  }
});

// whoever can write to the store: the decision point never signs what it did not write

test("decisions added behind the decision point's back are ended as a batch it does not vouch for", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 7; i++) record(f.log);
    await f.log.flush();
    const forged = logged({ request: { input: { forged: true } } });
    await f.store.appendLogBatch(f.log.name, 7, [Buffer.from(forged)]);
    // the decision point's next batch finds the log longer than it wrote: counted lost, and the
    // stranger's decision is ended by a checkpoint that does not vouch for it
    for (let i = 0; i < 2; i++) record(f.log);
    await f.log.flush();
    assert.equal(await f.drops(), "2");
    for (let i = 0; i < 3; i++) record(f.log);
    await f.log.flush();
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
    assert.deepEqual([report?.entries, report?.unvouched, report?.uncovered], [11, 1, 0]);
  } finally {
    await f.done();
  }
});

test("a log rewritten with its checkpoints removed is never signed by its decision point", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 12; i++) record(f.log);
    await f.log.flush();
    const dir = join(f.dir, "store", "logs", f.log.name);
    rmSync(join(dir, "checkpoints"), { recursive: true });
    await f.store.appendLogBatch(f.log.name, 12, [Buffer.from(logged({ request: { input: {} } }))]);
    for (let i = 0; i < 2; i++) record(f.log);
    await f.log.flush();
    // more than a batch past any checkpoint: not this decision point's; nothing is signed
    assert.equal(await f.drops(), "2");
    assert.deepEqual(await f.store.logCheckpoints(f.log.name), []);
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, false);
    // and it does not start on such a log either
    await assert.rejects(f.reopen({ maxBatch: 5 }), { code: "ledger.tampered" });
  } finally {
    await f.done();
  }
});

test("a batch whose write failed after it landed is counted written, not lost", async () => {
  const f = await fixture(
    appends((own) => async (...args) => {
      await own(...args);
      throw new Error("connection lost before the answer");
    }),
  );
  try {
    for (let i = 0; i < 12; i++) record(f.log);
    await f.log.flush();
    assert.equal(f.log.size, 12);
    assert.equal(await f.drops(), "0");
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
    assert.deepEqual([report?.entries, report?.uncovered], [12, 0]);
  } finally {
    await f.done();
  }
});

// the saved frontier of a log replaced by one of another shape with the same root: one leaf
async function collapseFrontier(store: Store, name: string): Promise<void> {
  const doc = JSON.parse(String(await store.readDoc(frontierDoc(name))));
  const root = MerkleFrontier.restore({
    size: doc.size,
    heights: doc.heights,
    roots: doc.roots.map((r: string) => Buffer.from(r, "base64")),
  }).root();
  const collapsed = {
    ...doc,
    size: 1,
    heights: [0],
    roots: [Buffer.from(root).toString("base64")],
  };
  await store.writeDoc(frontierDoc(name), Buffer.from(JSON.stringify(collapsed)));
}

test("a saved frontier of another shape than the log's batches is not used, even with their root", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 12; i++) record(f.log);
    await f.log.close();
    const name = f.log.name;
    await collapseFrontier(f.store, name);
    const again = await f.reopen({ maxBatch: 5 });
    assert.equal(again.openedFrom, "stored entries");
    for (let i = 0; i < 3; i++) record(again);
    await again.close();
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, true, report?.problem?.message);
    assert.equal(report?.entries, 15);
  } finally {
    await f.done();
  }
});

test("a saved frontier of another shape is refused by the batch count its checkpoint signs, even with checkpoints removed to match it", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 12; i++) record(f.log);
    await f.log.close();
    const name = f.log.name;
    const dir = join(f.dir, "store", "logs", name, "checkpoints");
    assert.deepEqual(readdirSync(dir).map(Number), [5, 10, 12]);
    // the checkpoint signs its tree's batches
    const [cp] = await f.store.logCheckpoints(name, 12);
    assert.match(cp?.note ?? "", /\nstele: batches 3\n/);
    // one leaf with the tree's root, and the checkpoints under it removed so that their count
    // matches: only the signed count tells this frontier from the real one
    await collapseFrontier(f.store, name);
    for (const size of [5, 10]) rmSync(join(dir, String(size).padStart(20, "0")));
    // not continued on the wrong shape: the whole log is read again, and refused
    await assert.rejects(f.reopen({ maxBatch: 5 }), { code: "ledger.tampered" });
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.problem?.code, "ledger.tampered");
  } finally {
    await f.done();
  }
});

test("a verifier key put in place of the decision point's own is refused", async () => {
  const f = await fixture();
  try {
    for (let i = 0; i < 3; i++) record(f.log);
    await f.log.flush();
    const other = await pdpIdentity(join(f.dir, "other.key"), "test");
    await f.store.writeDoc(logKeyDoc(f.log.name), Buffer.from(other.vkey));
    const {
      logs: [report],
    } = await verifyDecisionLogs(f.store);
    assert.equal(report?.ok, false);
    assert.equal(report?.problem?.code, "ledger.bad_checkpoint");
    assert.match(report?.problem?.message ?? "", /not the key its name was made from/);
  } finally {
    await f.done();
  }
});

test("the worker that seals batches runs at a lower priority than the request thread (Linux)", async (t) => {
  if (process.platform !== "linux") return t.skip("thread priorities are set on Linux only");
  // each thread's nice value, by thread id (the request thread's id is the process's)
  const nices = () =>
    new Map(
      readdirSync("/proc/self/task").map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
        return [Number(tid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])];
      }),
    );
  const f = await fixture();
  try {
    record(f.log);
    await f.log.flush();
    assert.equal(nices().get(process.pid), 0, "the request thread keeps its priority");
    const all = [...nices().values()];
    assert.ok(all.includes(10), `no thread at nice 10 among ${all.join(", ")}`);
  } finally {
    await f.done();
  }
});

test("a saved frontier is read back only in the form its decision point writes it", () => {
  const doc = { size: 3, heights: [1, 0], roots: ["AAAA", "AQID"], checkpoint: "cp" };
  const read = (x: unknown) => readFrontierDoc(Buffer.from(JSON.stringify(x)));
  assert.deepEqual(read(doc), {
    state: {
      size: 3,
      heights: [1, 0],
      roots: [Buffer.from("AAAA", "base64"), Buffer.from([1, 2, 3])],
    },
    checkpoint: "cp",
  });
  for (const bad of [
    null,
    [],
    { ...doc, size: -1 },
    { ...doc, size: "3" },
    { ...doc, heights: ["1"] },
    { ...doc, heights: [0.5] },
    { ...doc, roots: [1] },
    { ...doc, roots: "AAAA" },
    { ...doc, checkpoint: 6 },
    { size: 3, heights: [1, 0], roots: [] },
  ])
    assert.equal(read(bad), undefined, JSON.stringify(bad));
  assert.equal(readFrontierDoc(Buffer.from("{not json")), undefined);
});
