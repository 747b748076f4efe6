import assert from "node:assert/strict";
import { sign } from "node:crypto";
import { join } from "node:path";
import { test } from "node:test";
import { openStore } from "../store/index.js";
import { tempDir } from "../testing/index.js";
import { heartbeatDoc, readHeartbeats, writeHeartbeat } from "./heartbeat.js";
import { pdpIdentity } from "./identity.js";
import { Runtime } from "./runtime.js";

test("a heartbeat is refused unless signed by the key its decision point's name was made from", async () => {
  const dir = tempDir("stele-heartbeat-");
  const store = await openStore(`file:${join(dir, "store")}`);
  try {
    const real = await pdpIdentity(join(dir, "real.key"), "prod");
    const other = await pdpIdentity(join(dir, "other.key"), "prod");
    await writeHeartbeat(store, real, new Runtime("prod"), "http://127.0.0.1:8181");
    const [beat] = await readHeartbeats(store);
    assert.equal(beat?.pdp, real.name);
    // another key signs a heartbeat in the real one's name: valid signature, wrong key
    await writeHeartbeat(store, { ...other, name: real.name }, new Runtime("prod"), null);
    await assert.rejects(readHeartbeats(store), {
      code: "store.corrupt",
      message: new RegExp(`heartbeat of \`heartbeats/${real.name}.json\` does not verify`),
    });
    // the real one's own heartbeat, filed under another decision point's name
    await writeHeartbeat(store, real, new Runtime("prod"), null);
    const bytes = await store.readDoc(heartbeatDoc(real.name));
    await store.writeDoc(heartbeatDoc(other.name), bytes ?? Buffer.from(""));
    await assert.rejects(readHeartbeats(store), { code: "store.corrupt" });
  } finally {
    await store.close();
  }
});

test("a heartbeat signed by its own key whose fields are not a heartbeat's is refused", async () => {
  const dir = tempDir("stele-heartbeat-");
  const store = await openStore(`file:${join(dir, "store")}`);
  try {
    const real = await pdpIdentity(join(dir, "real.key"), "prod");
    await writeHeartbeat(store, real, new Runtime("prod"), null, {
      log: real.name,
      checkpoint: "a note",
    });
    const [beat] = await readHeartbeats(store);
    assert.equal(beat?.decisionLog?.checkpoint, "a note");
    // the same heartbeat, its fields changed and signed again by the right key
    const signed = (fields: Record<string, unknown>) => {
      const payload = Buffer.from(JSON.stringify({ ...beat, ...fields }));
      return Buffer.from(
        JSON.stringify({
          payload: payload.toString("base64"),
          sig: sign(null, payload, real.privateKey).toString("base64"),
          publicKey: real.publicKey.export({ format: "pem", type: "spki" }).toString(),
        }),
      );
    };
    await store.writeDoc(heartbeatDoc(real.name), signed({}));
    assert.equal((await readHeartbeats(store)).length, 1);
    for (const fields of [
      { decisionLog: { log: real.name, checkpoint: 7 } },
      { decisionLog: { log: 7, checkpoint: "a note" } },
      { decisionLog: "yes" },
      { time: null },
      { version: "3" },
      { state: undefined },
      { env: 1 },
      { url: 8181 },
      { bundle: ["sha256:ab"] },
      { treeSize: "3" },
      { reason: {} },
    ]) {
      await store.writeDoc(heartbeatDoc(real.name), signed(fields));
      await assert.rejects(
        readHeartbeats(store),
        { code: "store.corrupt" },
        JSON.stringify(fields),
      );
    }
  } finally {
    await store.close();
  }
});
