import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { openStore, type Store } from "../store/index.js";
import { tempDir } from "../testing/index.js";
import { readHeartbeats } from "./heartbeat.js";
import { startServer } from "./serve.js";

test("the last heartbeat says the decision point stopped, even when a slower one was under way as it stopped", async () => {
  const dir = tempDir("stele-serve-");
  const real = await openStore(`file:${join(dir, "store")}`);
  // a store whose heartbeat writes wait, once asked to, until let go: a write under way when
  // the decision point stops
  let hold = false;
  let held: (() => void) | undefined;
  let heldWrite: Promise<void> | undefined;
  const store = new Proxy(real, {
    get(target, key) {
      const value = Reflect.get(target, key);
      if (key !== "writeDoc") return typeof value === "function" ? value.bind(target) : value;
      return async (name: string, bytes: Uint8Array) => {
        if (hold && name.startsWith("heartbeats/")) {
          hold = false;
          await new Promise<void>((resolve) => {
            held = resolve;
          });
          heldWrite = target.writeDoc(name, bytes);
          return heldWrite;
        }
        return target.writeDoc(name, bytes);
      };
    },
  }) as Store;
  const server = await startServer({
    env: "prod",
    store,
    port: 0,
    statePath: join(dir, "pdp.json"),
    pollIntervalMs: 20,
    decisionLog: false,
    log: () => undefined,
  });
  hold = true;
  while (held === undefined) await sleep(5);
  const closing = server.close();
  // the held write goes through only after the last heartbeat was made, and after closing
  // gave up waiting for the task that writes it (two seconds)
  await sleep(2_500);
  held();
  await closing;
  await heldWrite;
  const [beat] = await readHeartbeats(real);
  assert.equal(beat?.stopped, true);
  assert.equal(beat?.url, null);
  await real.close();
});
