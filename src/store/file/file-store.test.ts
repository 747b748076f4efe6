import assert from "node:assert/strict";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { digestOf } from "../../bundle/index.js";
import { tempDir } from "../../testing/index.js";
import { openStore } from "../open.js";
import { readLog } from "../store.js";
import { logContract, storeContract } from "../testing.js";

storeContract("file", () => openStore(`file:${tempDir()}`));
logContract("file", () => openStore(`file:${tempDir()}`));

test("file: an object edited on disk is refused as corrupt", async () => {
  const dir = tempDir();
  const store = await openStore(`file:${dir}`);
  const d = await store.putObject(Buffer.from("bundle bytes"));
  const hex = d.slice(7);
  writeFileSync(join(dir, "objects", "sha256", hex.slice(0, 2), hex.slice(2)), "evil bytes");
  await assert.rejects(store.getObject(d), { code: "store.corrupt" });
  assert.notEqual(d, digestOf("evil bytes"));
  // storing the real bytes again neither overwrites nor hides the tampered file
  await assert.rejects(store.putObject(Buffer.from("bundle bytes")), { code: "store.corrupt" });
});

test("file: a folder removed behind the store's back is made again by the next write", async () => {
  const dir = tempDir();
  const store = await openStore(`file:${dir}`);
  await store.writeDoc("heartbeats/a", Buffer.from("1"));
  await store.appendLogBatch("pdp-x", 0, [Buffer.from("a0")]);
  // the store knows these folders now; someone removes them (and its temp folder)
  rmSync(join(dir, "docs"), { recursive: true });
  rmSync(join(dir, "logs"), { recursive: true });
  rmSync(join(dir, "tmp"), { recursive: true, force: true });
  await store.writeDoc("heartbeats/a", Buffer.from("2"));
  assert.equal(String(await store.readDoc("heartbeats/a")), "2");
  await store.appendLogBatch("pdp-y", 0, [Buffer.from("b0")]);
  assert.deepEqual((await readLog(store, "pdp-y")).map(String), ["b0"]);
});

test("file: a log's checkpoints read back in order however many there are", async () => {
  const store = await openStore(`file:${tempDir()}`);
  // more than are read at one time
  for (let size = 1; size <= 150; size++)
    await store.putLogCheckpoint("pdp-c", { size, note: `n${size}\n` });
  const all = await store.logCheckpoints("pdp-c");
  assert.deepEqual(
    all.map((c) => c.size),
    Array.from({ length: 150 }, (_, i) => i + 1),
  );
  assert.equal(all[149]?.note, "n150\n");
  assert.deepEqual(
    (await store.logCheckpoints("pdp-c", 148)).map((c) => c.size),
    [148, 149, 150],
  );
});

test("file: a folder that cannot be read is an error, never an empty ledger, log or listing", async () => {
  const dir = tempDir();
  const store = await openStore(`file:${dir}`);
  await store.appendEntry(0, Buffer.from("e0"));
  await store.putCheckpoint({ size: 1, note: "note" });
  await store.writeDoc("heartbeats/a", Buffer.from("1"));
  await store.appendLogBatch("pdp-x", 0, [Buffer.from("a0")]);
  assert.equal(await store.ledgerSize(), 1);
  // each folder replaced by a file: what a store half-restored, or a disk error, looks like
  for (const folder of ["ledger", "docs", "logs"]) {
    rmSync(join(dir, folder), { recursive: true });
    writeFileSync(join(dir, folder), "not a folder");
  }
  const unreadable = { code: "store.unavailable", message: /cannot read/ };
  await assert.rejects(store.ledgerSize(), unreadable);
  await assert.rejects(store.latestCheckpoint(), unreadable);
  await assert.rejects(store.listDocs("heartbeats"), unreadable);
  await assert.rejects(store.logs(), unreadable);
  await assert.rejects(store.logSize("pdp-x"), unreadable);
  // and writes there are the store's errors too, with the path, never a raw one
  writeFileSync(join(dir, "objects"), "not a folder");
  const unwritable = { code: "store.unavailable", message: /cannot write `.*` \(ENOTDIR\)/ };
  await assert.rejects(store.putObject(Buffer.from("bundle")), unwritable);
  await assert.rejects(store.writeDoc("heartbeats/a", Buffer.from("2")), unwritable);
  // what is simply not there yet is still empty
  const fresh = await openStore(`file:${join(tempDir(), "none")}`);
  assert.equal(await fresh.ledgerSize(), 0);
  assert.deepEqual(await fresh.logs(), []);
  assert.equal(await fresh.latestCheckpoint(), undefined);
});

test("file: a file that cannot be read (a folder in its place) is store.unavailable, never a raw error", async () => {
  const dir = tempDir();
  const store = await openStore(`file:${dir}`);
  await store.putCheckpoint({ size: 1, note: "note" });
  await store.appendLogBatch("pdp-x", 0, [Buffer.from("a0")]);
  await store.putLogCheckpoint("pdp-x", { size: 1, note: "n" });
  const checkpoint = join(dir, "ledger", "checkpoints", "1".padStart(20, "0"));
  const batch = join(dir, "logs", "pdp-x", "batches", "0".padStart(20, "0"));
  const logCheckpoint = join(dir, "logs", "pdp-x", "checkpoints", "1".padStart(20, "0"));
  for (const file of [checkpoint, batch, logCheckpoint]) {
    rmSync(file);
    mkdirSync(file);
  }
  const unreadable = { code: "store.unavailable", message: /cannot read/ };
  await assert.rejects(store.latestCheckpoint(), unreadable);
  await assert.rejects(readLog(store, "pdp-x"), unreadable);
  await assert.rejects(store.logSize("pdp-x"), unreadable);
  await assert.rejects(store.logCheckpoints("pdp-x"), unreadable);
  await assert.rejects(store.putLogCheckpoint("pdp-x", { size: 1, note: "n" }), unreadable);
});

test("file: a relative URL resolves against the working directory and file:/// is absolute", async () => {
  const dir = tempDir();
  const rel = await openStore("file:.stele", dir);
  await rel.appendEntry(0, Buffer.from("x"));
  assert.deepEqual(readdirSync(join(dir, ".stele", "ledger", "entries")).length, 1);
  const abs = await openStore(`file://${dir}/.stele`);
  assert.equal(await abs.ledgerSize(), 1);
  await assert.rejects(openStore("s3://bucket"), { code: "store.bad_url" });
});

test("file: a writer with a stale idea of a log's size is refused, and old batch names still read", async () => {
  const dir = tempDir();
  const a = await openStore(`file:${dir}`);
  const b = await openStore(`file:${dir}`);
  const e = (...xs: string[]) => xs.map((x) => Buffer.from(x));
  await a.appendLogBatch("pdp-x", 0, e("a0", "a1"));
  await b.appendLogBatch("pdp-x", 2, e("b2", "b3", "b4"));
  await assert.rejects(a.appendLogBatch("pdp-x", 2, e("stale")), { code: "store.conflict" });
  await a.appendLogBatch("pdp-x", 5, e("a5"));
  // a batch named `<first>-<count>`, as earlier versions wrote them
  const batches = join(dir, "logs", "pdp-x", "batches");
  writeFileSync(join(batches, `${"6".padStart(20, "0")}-${"2".padStart(20, "0")}`), "o6\no7");
  assert.deepEqual((await readLog(b, "pdp-x")).map(String), [
    "a0",
    "a1",
    "b2",
    "b3",
    "b4",
    "a5",
    "o6",
    "o7",
  ]);
  await b.appendLogBatch("pdp-x", 8, e("b8"));
  assert.equal((await readLog(a, "pdp-x")).length, 9);
  // a log line is one entry: an entry holding a newline is refused, and nothing is written
  await assert.rejects(b.appendLogBatch("pdp-x", 9, e("ok", "two\nlines")), {
    code: "store.corrupt",
  });
  assert.equal((await readLog(a, "pdp-x")).length, 9);
  // entries already joined are written as given, when they hold exactly their newlines
  await b.appendLogBatch("pdp-x", 9, { bytes: Buffer.from("j9\nj10"), count: 2 });
  assert.deepEqual((await readLog(a, "pdp-x")).slice(9).map(String), ["j9", "j10"]);
  for (const bytes of ["a\na\nbbb", "aaabbb"])
    await assert.rejects(b.appendLogBatch("pdp-x", 11, { bytes: Buffer.from(bytes), count: 2 }), {
      code: "store.corrupt",
    });
  assert.equal((await readLog(a, "pdp-x")).length, 11);
  // a `<first>-<count>` name beside a `<first>` one: two batches at one index, from anywhere
  writeFileSync(join(batches, `${"9".padStart(20, "0")}-${"2".padStart(20, "0")}`), "k9\nk10");
  for (const from of [0, 9, 10])
    await assert.rejects(readLog(a, "pdp-x", from), { code: "store.corrupt" });
});
