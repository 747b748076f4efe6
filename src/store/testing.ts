import assert from "node:assert/strict";
import { test } from "node:test";
import { digestOf } from "../bundle/index.js";
import { readLog, type Store } from "./store.js";

/** The contract every store driver must keep; each driver's test runs it against a fresh store. */
export function storeContract(name: string, open: () => Promise<Store>): void {
  const bytes = (s: string) => Buffer.from(s, "utf8");

  test(`${name}: objects are content-addressed and written once`, async () => {
    const store = await open();
    const d = await store.putObject(bytes("hello"));
    assert.equal(d, digestOf("hello"));
    assert.equal(await store.putObject(bytes("hello")), d);
    assert.equal((await store.getObject(d))?.toString(), "hello");
    assert.equal(await store.getObject(digestOf("absent")), undefined);
    await store.close();
  });

  test(`${name}: the ledger appends in order and refuses a stale or skipping append`, async () => {
    const store = await open();
    assert.equal(await store.ledgerSize(), 0);
    await store.appendEntry(0, bytes("a"));
    await store.appendEntry(1, bytes("b"));
    await assert.rejects(store.appendEntry(1, bytes("c")), { code: "store.conflict" });
    await assert.rejects(store.appendEntry(5, bytes("c")), { code: "store.conflict" });
    assert.equal(await store.ledgerSize(), 2);
    assert.deepEqual((await store.readEntries(0, 2)).map(String), ["a", "b"]);
    await store.close();
  });

  test(`${name}: concurrent appends at the same size never fork the ledger`, async () => {
    const store = await open();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.appendEntry(0, bytes(`w${i}`))),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.equal(await store.ledgerSize(), 1);
    await store.close();
  });

  test(`${name}: the ledger size is found for many entries`, async () => {
    const store = await open();
    for (let i = 0; i < 37; i++) await store.appendEntry(i, bytes(`e${i}`));
    assert.equal(await store.ledgerSize(), 37);
    await store.close();
  });

  test(`${name}: checkpoints are kept per size and the latest is the largest`, async () => {
    const store = await open();
    assert.equal(await store.latestCheckpoint(), undefined);
    await store.putCheckpoint({ size: 2, note: "two\n" });
    await store.putCheckpoint({ size: 10, note: "ten\n" });
    await store.putCheckpoint({ size: 2, note: "other\n" }); // never replaced
    assert.deepEqual(await store.latestCheckpoint(), { size: 10, note: "ten\n" });
    assert.deepEqual(await store.checkpoints(), [
      { size: 2, note: "two\n" },
      { size: 10, note: "ten\n" },
    ]);
    await store.close();
  });

  test(`${name}: documents are replaced whole and created once`, async () => {
    const store = await open();
    assert.equal(await store.readDoc("pdp/state"), undefined);
    await store.writeDoc("pdp/state", bytes("1"));
    await store.writeDoc("pdp/state", bytes("2"));
    assert.equal((await store.readDoc("pdp/state"))?.toString(), "2");
    assert.equal(await store.createDoc("keys/x", bytes("k")), true);
    assert.equal(await store.createDoc("keys/x", bytes("other")), false);
    assert.equal((await store.readDoc("keys/x"))?.toString(), "k");
    await assert.rejects(store.readDoc("../escape"), { code: "store.not_found" });
    await store.close();
  });
}

/** The named-log part of the contract (decision logs). */
export function logContract(name: string, open: () => Promise<Store>): void {
  const bytes = (s: string) => Buffer.from(s, "utf8");
  test(`${name}: named logs append batches in order and refuse a stale batch`, async () => {
    const store = await open();
    assert.deepEqual(await readLog(store, "pdp-a"), []);
    await store.appendLogBatch("pdp-a", 0, [bytes("a"), bytes("b")]);
    await store.appendLogBatch("pdp-a", 2, [bytes("c")]);
    // or already joined, as a decision log's worker lays a batch out; an entry holding a newline
    // is refused either way, and nothing of its batch is written
    await store.appendLogBatch("pdp-a", 3, { bytes: bytes("d\ne"), count: 2 });
    for (const bad of [[bytes("x\ny")], { bytes: bytes("x\ny"), count: 1 }])
      await assert.rejects(store.appendLogBatch("pdp-a", 5, bad), { code: "store.corrupt" });
    await assert.rejects(store.appendLogBatch("pdp-a", 2, [bytes("x")]), {
      code: "store.conflict",
    });
    assert.deepEqual((await readLog(store, "pdp-a")).map(String), ["a", "b", "c", "d", "e"]);
    // from an index on: at a batch's start, inside one, at the end, past it
    for (const [from, rest] of [
      [3, ["d", "e"]],
      [1, ["b", "c", "d", "e"]],
      [4, ["e"]],
      [5, []],
      [9, []],
    ] as const)
      assert.deepEqual((await readLog(store, "pdp-a", from)).map(String), rest, `from ${from}`);
    assert.equal(await store.logSize("pdp-a"), 5);
    assert.equal(await store.logSize("pdp-none"), 0);
    assert.deepEqual(await store.logs(), ["pdp-a"]);
    await store.putLogCheckpoint("pdp-a", { size: 5, note: "n\n" });
    // the same checkpoint again is a no-op; another one for the same size is refused
    await store.putLogCheckpoint("pdp-a", { size: 5, note: "n\n" });
    await assert.rejects(store.putLogCheckpoint("pdp-a", { size: 5, note: "m\n" }), {
      code: "store.conflict",
    });
    assert.deepEqual(await store.logCheckpoints("pdp-a"), [{ size: 5, note: "n\n" }]);
    await store.putLogCheckpoint("pdp-a", { size: 2, note: "two\n" });
    assert.deepEqual(
      (await store.logCheckpoints("pdp-a", 3)).map((c) => c.size),
      [5],
    );
    assert.deepEqual(
      (await store.logCheckpoints("pdp-a", 2)).map((c) => c.size),
      [2, 5],
    );
    assert.deepEqual(await store.logCheckpointSizes("pdp-a"), [2, 5]);
    assert.deepEqual(await store.logCheckpointSizes("pdp-none"), []);
    // an empty batch appends nothing, in every store
    await store.appendLogBatch("pdp-a", 5, []);
    await store.appendLogBatch("pdp-a", 5, { bytes: new Uint8Array(0), count: 0 });
    // every log with entries, once each, in order of name
    await store.appendLogBatch("pdp-z", 0, [bytes("z0"), bytes("z1"), bytes("z2")]);
    await store.appendLogBatch("pdp-0", 0, [bytes("00")]);
    await store.appendLogBatch("pdp-m", 0, [bytes("m0"), bytes("m1")]);
    assert.deepEqual(await store.logs(), ["pdp-0", "pdp-a", "pdp-m", "pdp-z"]);
    // and a log with a checkpoint and no entries (its entries removed): it is not forgotten
    await store.putLogCheckpoint("pdp-c", { size: 3, note: "c\n" });
    assert.deepEqual(await store.logs(), ["pdp-0", "pdp-a", "pdp-c", "pdp-m", "pdp-z"]);
    await store.close();
  });

  test(`${name}: a log is read through a run at a time, the same entries as read whole`, async () => {
    const store = await open();
    // more entries than a page of any store, in batches of several sizes
    const all = Array.from({ length: 4_508 }, (_, i) => `e${i}`);
    let at = 0;
    for (const n of [3, 1, 4_500, 4]) {
      await store.appendLogBatch("pdp-s", at, all.slice(at, at + n).map(bytes));
      at += n;
    }
    for (const from of [0, 1, 3, 4, 2_000, 4_504, 4_507, 4_508, 9_000]) {
      const runs: string[][] = [];
      for await (const run of store.scanLog("pdp-s", from)) runs.push(run.map(String));
      assert.ok(
        runs.every((r) => r.length > 0),
        `from ${from}: no empty run`,
      );
      assert.deepEqual(runs.flat(), all.slice(from), `from ${from}`);
      assert.deepEqual((await readLog(store, "pdp-s", from)).map(String), all.slice(from));
    }
    for await (const run of store.scanLog("pdp-none")) assert.fail(`a run of ${run.length}`);
    // checkpoints, every one from a size on
    for (const size of [3, 4, 4_504, 4_508])
      await store.putLogCheckpoint("pdp-s", { size, note: `n${size}\n` });
    const sizes = async (from?: number) =>
      (await store.logCheckpoints("pdp-s", from)).map((c) => c.size);
    assert.deepEqual(await sizes(), [3, 4, 4_504, 4_508]);
    assert.deepEqual(await sizes(4), [4, 4_504, 4_508]);
    assert.deepEqual(await sizes(5), [4_504, 4_508]);
    assert.deepEqual(await sizes(4_509), []);
    // or exactly those of some sizes, by increasing size, a size with none left out
    assert.deepEqual(
      (await store.logCheckpointsAt("pdp-s", [4_508, 4, 7, 4])).map((c) => [c.size, c.note]),
      [
        [4, "n4\n"],
        [4_508, "n4508\n"],
      ],
    );
    assert.deepEqual(await store.logCheckpointsAt("pdp-s", []), []);
    assert.deepEqual(await store.logCheckpointsAt("pdp-none", [3]), []);
    await store.close();
  });

  test(`${name}: a batch with its entries' ends is taken where the ends are its newlines`, async () => {
    const store = await open();
    const ends = (...at: number[]) => Uint32Array.from(at);
    await store.appendLogBatch("pdp-e", 0, {
      bytes: bytes("ab\nc\nde"),
      count: 3,
      ends: ends(2, 4, 7),
    });
    // ends that are not the newlines, or not as many as the entries, or out of order: refused,
    // and nothing of the batch is written
    for (const bad of [ends(1, 4, 7), ends(2, 4, 6), ends(2, 7), ends(4, 2, 7)])
      await assert.rejects(
        store.appendLogBatch("pdp-e", 3, { bytes: bytes("ab\nc\nde"), count: 3, ends: bad }),
        { code: "store.corrupt" },
      );
    assert.deepEqual((await readLog(store, "pdp-e")).map(String), ["ab", "c", "de"]);
    await store.close();
  });
}
