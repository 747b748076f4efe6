// What the promise-8 tests of decision logs share, on either store
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { type Pdp, type PdpOptions, startPdp, until } from "./pdp.js";

/**
 * A decision point in `dir` that decides `n` requests in two batches (a pause longer than a
 * batch's interval between them), then stops; its name and state file.
 */
export async function decideThenStop(
  dir: string,
  n: number,
  options: PdpOptions = {},
): Promise<{ name: string; state: string }> {
  const pdp = await startPdp(dir, options);
  try {
    await until("the decision point to serve v1", async () => (await pdp.status()).version === 1);
    for (let i = 0; i < n; i++) {
      if (i === Math.floor(n / 2)) await sleep(700);
      const d = await pdp.post("/v1/decide", { input: { kind: "SELECT", label: `q${i}` } });
      assert.equal(d.status, 200, d.text);
    }
    const name = (await pdp.status()).pdp as string;
    assert.equal(await pdp.stop(), 0);
    return { name, state: pdp.state };
  } finally {
    await pdp.stop();
  }
}

/** Whether a checkpoint note (its second line is its size) covers `size` decisions. */
export const coversSize = (note: unknown, size: number) =>
  String(note).split("\n")[1] === String(size);

/**
 * Once `pdp` serves v1, decides a request for each label, and waits until its last checkpoint
 * (as its /v1/status says) covers `size` decisions.
 */
export async function decideUntilSigned(
  pdp: Pdp,
  labels: readonly string[],
  size: number,
): Promise<void> {
  await until("the decision point to serve v1", async () => (await pdp.status()).version === 1);
  for (const label of labels) {
    const d = await pdp.post("/v1/decide", { input: { kind: "SELECT", label } });
    assert.equal(d.status, 200, d.text);
  }
  await until("the decisions to be written and checkpointed", async () =>
    coversSize((await pdp.status()).decisionLog.checkpoint, size),
  );
}
