import assert from "node:assert/strict";
import { test } from "node:test";
import { readStatus } from "./wire.js";

test("a status read from over the network keeps only fields of the types /v1/status gives them", () => {
  assert.deepEqual(
    readStatus({
      pdp: "pdp-prod-1",
      env: "prod",
      state: "ok",
      version: 3,
      bundle: "sha256:ab",
      decisionLog: { log: "pdp-prod-1", checkpoint: "a note", size: 10, problem: null },
    }),
    {
      pdp: "pdp-prod-1",
      env: "prod",
      state: "ok",
      version: 3,
      bundle: "sha256:ab",
      decisionLog: { log: "pdp-prod-1", checkpoint: "a note" },
    },
  );
  // the decision log off, or nothing signed yet
  assert.deepEqual(readStatus({ decisionLog: null }), { version: null, bundle: null });
  assert.deepEqual(readStatus({ decisionLog: { log: "l", checkpoint: null } }), {
    version: null,
    bundle: null,
    decisionLog: { log: "l" },
  });
  // it stopped writing, and says why
  assert.deepEqual(
    readStatus({ decisionLog: { log: "l", checkpoint: "n", problem: { code: "c", message: "m" } } })
      .decisionLog,
    { log: "l", checkpoint: "n", problem: { code: "c", message: "m" } },
  );
  // what drift reads: wrong types are missing, never passed on
  assert.deepEqual(readStatus({ pdp: 1, env: ["prod"], state: {}, version: "3", bundle: 5 }), {
    version: null,
    bundle: null,
  });
});

test("a status that is not a JSON object, or whose decision log is not one, is refused with a code", () => {
  for (const body of [
    null,
    "ok",
    3,
    [{ pdp: "x" }],
    { decisionLog: [] },
    { decisionLog: "pdp-prod-1" },
    { decisionLog: { log: 3, checkpoint: "a note" } },
    // a checkpoint of another type is not "none signed yet": the store would not be held to it
    { decisionLog: { log: "l", checkpoint: 6 } },
    { decisionLog: { log: "l", checkpoint: { note: "n" } } },
    { decisionLog: { log: "l", checkpoint: "n", problem: "stopped" } },
  ])
    assert.throws(() => readStatus(body), { code: "server.bad_status" }, JSON.stringify(body));
  // drift does not read the decision log: a bad one does not make the decision point silent
  assert.deepEqual(
    readStatus({ pdp: "p", decisionLog: { log: "l", checkpoint: 6 } }, { log: false }),
    {
      pdp: "p",
      version: null,
      bundle: null,
    },
  );
});
