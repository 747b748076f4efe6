import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import type { WorkerAnswer, WorkerData, WorkerRequest } from "./decision-log-worker.js";
import { EntryRing } from "./decision-ring.js";

// the decision log's worker on a real ring: whatever the request thread queues, in whatever
// bursts, with pauses long enough for the worker to gather between seals, and with the queue
// cleared under it, every batch it seals is the entries queued since the last, in order (line
// breaks made spaces), `ends` at their newlines, and its leaf the SHA-256 of 0x00 and its bytes

type Step =
  | { readonly write: number; readonly body: string }
  | { readonly pause: number }
  | { readonly seal: true }
  | { readonly clear: true };

const NO_TREE = { size: 0, roots: [], heights: [] };
// times the ring wrapped under entries still queued, and entries the worker had gathered before
// it was asked to seal them, over every run
let wraps = 0;
let gatheredAhead = 0;

async function play(steps: readonly Step[], capacity: number, firstEntry: number, max: number) {
  const ring = new EntryRing(capacity, firstEntry);
  const worker = new Worker(new URL("./decision-log-worker.js", import.meta.url), {
    workerData: { ring: ring.shared, maxBatch: max } satisfies WorkerData,
  });
  const answers: ((a: WorkerAnswer) => void)[] = [];
  worker.on("message", (a: WorkerAnswer) => answers.shift()?.(a));
  const ask = (request: WorkerRequest) =>
    new Promise<WorkerAnswer>((resolve) => {
      answers.push(resolve);
      worker.postMessage(request);
    });
  // what the ring holds, as the worker must seal it
  const queued: string[] = [];
  let n = 0;
  // where the last entry went: one placed before it while others wait is the ring's wrap
  let last = -1;
  try {
    for (const step of steps) {
      if ("write" in step) {
        for (let i = 0; i < step.write; i++) {
          const text = `e${n++}:${step.body}`;
          const bytes = Buffer.from(text);
          const waiting = ring.count > 0;
          const at = ring.begin(bytes.length);
          if (at < 0) continue;
          if (waiting && at < last) wraps++;
          last = at;
          ring.data.set(bytes, at);
          ring.commit(at + bytes.length);
          queued.push(text.replace(/[\r\n]/g, " "));
        }
      } else if ("pause" in step) await sleep(step.pause);
      else if ("clear" in step) {
        ring.clear();
        queued.length = 0;
      } else if (ring.count > 0) {
        // from no tree: the root is then the batch's leaf
        await ask({ kind: "reset", state: NO_TREE });
        ring.publish();
        const a = await ask({ kind: "seal", read: ring.read, max });
        assert.equal(a.kind, "sealed", a.kind === "failed" ? a.message : a.kind);
        if (a.kind !== "sealed") return;
        assert.ok(a.gathered <= a.ends.length);
        gatheredAhead += a.gathered;
        const want = queued.splice(0, max);
        assert.equal(Buffer.from(a.bytes).toString("utf8"), want.join("\n"));
        let end = -1;
        assert.deepEqual(
          [...a.ends],
          want.map((line) => {
            end += Buffer.byteLength(line) + 1;
            return end;
          }),
        );
        const leaf = createHash("sha256")
          .update(Buffer.from([0]))
          .update(a.bytes)
          .digest();
        assert.deepEqual(Buffer.from(a.root), leaf, "the root is the batch's leaf");
        ring.free(a.next, a.ends.length);
      }
    }
  } finally {
    await worker.terminate();
  }
}

test("the worker's batches are the entries queued, gathered or not, across the ring's end and a clear (property)", async () => {
  // bodies of 60 bytes or more: the ring's room runs out before its slots (one per 64 bytes),
  // so that it wraps
  const body = fc
    .array(fc.constantFrom("a", "é", "\n", "\r", "\r\n", "x"), { maxLength: 150 })
    .map((parts) => "b".repeat(60) + parts.join(""));
  // rounds of bursts, each followed by a pause (past the worker's 20 ms, often: it gathers what
  // was published), maybe a clear, then a seal
  const burst = fc.tuple(
    fc.record({ write: fc.integer({ min: 1, max: 300 }), body }),
    fc.record({ pause: fc.constantFrom(0, 25) }),
  );
  const round = fc
    .tuple(fc.array(burst, { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([bursts, clear]): Step[] => [
      ...bursts.flat(),
      ...(clear ? [{ clear: true as const }] : []),
      { seal: true as const },
    ]);
  await fc.assert(
    fc.asyncProperty(
      fc.array(round, { minLength: 2, maxLength: 4 }).map((rounds) => rounds.flat()),
      fc.integer({ min: 2_000, max: 30_000 }),
      // entry numbers from 0, or from just before they wrap at 2^32
      fc.constantFrom(0, 2 ** 32 - 20),
      fc.constantFrom(200, 10_000),
      (steps, capacity, first, max) => play(steps, capacity, first, max),
    ),
    // a fixed seed: the runs that wrap the ring under queued entries are the same every time
    { seed: 20261129, numRuns: 25 },
  );
  assert.ok(wraps > 0, "the ring wrapped under queued entries in some run");
  // the work comes in pieces as entries are queued, not all at once when a batch is sealed
  assert.ok(gatheredAhead > 0, "the worker gathered entries ahead of a seal in some run");
});
