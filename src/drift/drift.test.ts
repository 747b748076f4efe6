import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { writeHeartbeat } from "../server/heartbeat.js";
import { pdpIdentity } from "../server/identity.js";
import { Runtime } from "../server/index.js";
import { openStore } from "../store/index.js";
import { tempDir } from "../testing/index.js";
import { detectDrift } from "./drift.js";

test("a live answer at an address speaks for the decision point that gives its name there, not for every one that once listened there", async () => {
  const dir = tempDir("stele-drift-");
  const store = await openStore(`file:${join(dir, "store")}`);
  try {
    // two decision points at one address (127.0.0.1:8181 behind a port-forward): one died
    // there, the other answers there now
    const address = "http://127.0.0.1:8181";
    const dead = await pdpIdentity(join(dir, "dead.key"), "staging");
    const alive = await pdpIdentity(join(dir, "alive.key"), "staging");
    await writeHeartbeat(store, dead, new Runtime("staging"), address);
    await writeHeartbeat(store, alive, new Runtime("staging"), address);
    const answer = {
      env: "staging",
      pdp: alive.name,
      state: "starting",
      version: null,
      bundle: null,
    };
    const report = await detectDrift(store, {
      pdpUrls: [address],
      fetchStatus: async () => answer,
      now: Date.now() + 5 * 60_000,
    });
    const pdps = report.envs.flatMap((e) => e.pdps);
    const status = (name: string) => pdps.find((p) => p.pdp === name)?.status;
    assert.equal(status(dead.name), "silent");
    assert.equal(status(alive.name), "stale");
    assert.equal(pdps.length, 2, JSON.stringify(pdps));
    // no answer there (a port-forward gone) is one silent address, not every decision point
    // that once listened there: each is judged by its own heartbeat
    const unanswered = await detectDrift(store, {
      pdpUrls: [address, `${address}/`],
      fetchStatus: async () => {
        throw new Error("connection refused");
      },
    });
    assert.deepEqual(
      unanswered.envs
        .flatMap((e) => e.pdps)
        .map((p) => `${p.pdp} ${p.status}`)
        .sort(),
      [`${address} silent`, `${alive.name} stale`, `${dead.name} stale`].sort(),
    );
    // an answer that names no decision point (an older one) is one entry, by its address
    const anonymous = await detectDrift(store, {
      pdpUrls: [address],
      fetchStatus: async () => ({ env: "staging", state: "starting", version: null, bundle: null }),
    });
    assert.equal(anonymous.envs.flatMap((e) => e.pdps).length, 3);
  } finally {
    await store.close();
  }
});
