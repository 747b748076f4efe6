import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { digestOf } from "../../bundle/index.js";
import { tempDir } from "../../testing/index.js";
import { openStore } from "../open.js";
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

test("file: a relative URL resolves against the working directory and file:/// is absolute", async () => {
  const dir = tempDir();
  const rel = await openStore("file:.stele", dir);
  await rel.appendEntry(0, Buffer.from("x"));
  assert.deepEqual(readdirSync(join(dir, ".stele", "ledger", "entries")).length, 1);
  const abs = await openStore(`file://${dir}/.stele`);
  assert.equal(await abs.ledgerSize(), 1);
  await assert.rejects(openStore("s3://bucket"), { code: "store.bad_url" });
});
