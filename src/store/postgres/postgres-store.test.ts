import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";
import { openStore } from "../open.js";
import { readLog } from "../store.js";
import { logContract, storeContract } from "../testing.js";

// a real PostgreSQL server: .ci/run starts one and sets STELE_TEST_POSTGRES; each store gets its
// own schema so test files (and tests) never share state
const url = process.env.STELE_TEST_POSTGRES;
const fresh = () => openStore(`${url}?schema=t_${randomBytes(6).toString("hex")}`);

if (url) {
  storeContract("postgres", fresh);
  logContract("postgres", fresh);
  test("postgres: a log with a row deleted is store.corrupt where it is missing, read whole or a run at a time, and keeps its length", async () => {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    const store = await openStore(`${url}?schema=${schema}`);
    await store.appendLogBatch(
      "pdp-g",
      0,
      ["a", "b", "c", "d"].map((s) => Buffer.from(s)),
    );
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DELETE FROM ${schema}.log_entries WHERE log = 'pdp-g' AND idx = 2`);
    } finally {
      await client.end();
    }
    await assert.rejects(readLog(store, "pdp-g"), {
      code: "store.corrupt",
      message: /gap at entry 2/,
    });
    await assert.rejects(readLog(store, "pdp-g", 2), { code: "store.corrupt" });
    assert.deepEqual((await readLog(store, "pdp-g", 3)).map(String), ["d"]);
    // the log is as long as it was (its last index says so): appends go on after it
    assert.equal(await store.logSize("pdp-g"), 4);
    await store.appendLogBatch("pdp-g", 4, [Buffer.from("e")]);
    await assert.rejects(store.appendLogBatch("pdp-g", 4, [Buffer.from("f")]), {
      code: "store.conflict",
    });
    assert.deepEqual((await readLog(store, "pdp-g", 3)).map(String), ["d", "e"]);
    await store.close();
  });
  test("postgres: an unreachable database is store.unavailable, never a crash", async () => {
    const store = await openStore("postgres://nobody:x@127.0.0.1:1/none");
    await assert.rejects(store.ledgerSize(), { code: "store.unavailable" });
    await store.close();
  });
} else {
  test("postgres store contract", {
    skip: "skipped: STELE_TEST_POSTGRES is not set (.ci/run sets it)",
  }, () => {});
  if (process.env.CI)
    throw new Error("CI must run the postgres store tests: STELE_TEST_POSTGRES is not set");
}
