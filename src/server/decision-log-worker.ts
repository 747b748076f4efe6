// the decision log's worker thread: copies entries out of the shared ring (decision-ring.ts) into
// a batch and hashes the batch, one leaf, into the log's Merkle frontier, so the thread that
// answers requests never hashes (decision-log.ts)
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { type FrontierState, leafHashPrefixed, MerkleFrontier } from "../ledger/index.js";
import { RingReader } from "./decision-ring.js";

/** What the decision log asks of its worker. */
export type WorkerRequest =
  | { readonly kind: "reset"; readonly state: FrontierState }
  /** Seals up to `max` entries of the ring, from the one numbered `read` on. */
  | { readonly kind: "seal"; readonly read: number; readonly max: number }
  /** A batch buffer the store is done with, back for reuse; no answer. */
  | { readonly kind: "recycle"; readonly buffer: ArrayBuffer };

/** What the worker answers, one answer per request, in order. */
export type WorkerAnswer =
  | { readonly kind: "state"; readonly state: FrontierState }
  | {
      readonly kind: "sealed";
      /** The entries, one after another, a newline between two (its own buffer, transferred). */
      readonly bytes: Uint8Array;
      /** Where each entry ends in `bytes` (none holds a newline: checked here). */
      readonly ends: Uint32Array;
      readonly root: Uint8Array;
      /** The frontier with the batch appended: one leaf, the hash of `bytes`. */
      readonly state: FrontierState;
      /** The number of the ring's next entry, after the last sealed. */
      readonly next: number;
    }
  | { readonly kind: "failed"; readonly message: string };

// how much lower than the request thread's the worker's priority is (a nice value, 0–19)
const WORKER_NICE = 10;

/** What the worker is started with. */
export interface WorkerData {
  readonly ring: SharedArrayBuffer;
}

const ring = (workerData as WorkerData | undefined)?.ring;
const reader = ring && new RingReader(ring);
let frontier = new MerkleFrontier();

// sealing is background work: this thread yields to the one answering requests. When woken to
// seal a batch (milliseconds of copying and hashing) at the same priority, the scheduler could
// run it in the request thread's place, and the requests waiting then wait for it. Linux sets
// a thread's priority by its id (found under /proc/thread-self); elsewhere it stays as it is.
try {
  const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, WORKER_NICE);
} catch {
  // not Linux, or not allowed: the thread keeps the process's priority
}
// batch buffers handed back: reused, so the request thread does not see fresh memory arrive
// with every batch (which makes its collector run full collections)
const pool: ArrayBuffer[] = [];

function seal(read: number, max: number): { answer: WorkerAnswer; transfer: ArrayBuffer[] } {
  if (!reader) throw new Error("the decision log worker has no ring");
  // the entries lie in the ring as a batch does, each followed by a newline: copied out a run
  // of neighbours at a time, after one byte for the leaf prefix 0x00, so the batch is hashed,
  // one leaf, where it lies. The request thread writes none with a newline inside (its JSON, and
  // the request's text with its line breaks made spaces)
  const { taken, size } = reader.measure(read, max);
  let buffer = pool.pop();
  if (buffer === undefined || buffer.byteLength < 1 + size)
    buffer = new ArrayBuffer(Math.max(1 + size, Math.ceil((buffer?.byteLength ?? 0) * 1.5)));
  const all = new Uint8Array(buffer, 0, 1 + size);
  // where each entry ends in the batch (at its newline; the last at the batch's end)
  const ends = new Uint32Array(taken);
  reader.copy(read, taken, all, 1, ends);
  // a guard against a bug: the newlines are exactly the entries' ends (the stores check only
  // those), so no entry holds one
  const view = Buffer.from(buffer, 1, size);
  for (let i = 0, from = 0; i < taken; i++) {
    if (view.indexOf(0x0a, from) !== ends[i]) throw new Error("a queued decision holds a newline");
    from = (ends[i] as number) + 1;
  }
  if (taken > 0) {
    all[0] = 0x00;
    // without the last entry's newline
    frontier.appendLeafHash(leafHashPrefixed(all.subarray(0, size)));
  }
  const bytes = all.subarray(1, Math.max(1, size));
  return {
    answer: {
      kind: "sealed",
      bytes,
      ends,
      root: frontier.root(),
      state: frontier.snapshot(),
      next: (read + taken) >>> 0,
    },
    transfer: [buffer],
  };
}

function answer(
  request: WorkerRequest,
): { answer: WorkerAnswer; transfer: ArrayBuffer[] } | undefined {
  switch (request.kind) {
    case "recycle":
      // two: one being filled while the store writes the other (batches run to megabytes)
      if (pool.length < 2) pool.push(request.buffer);
      return undefined;
    case "reset":
      frontier = MerkleFrontier.restore(request.state);
      return { answer: { kind: "state", state: frontier.snapshot() }, transfer: [] };
    case "seal":
      return seal(request.read, request.max);
  }
}

parentPort?.on("message", (request: WorkerRequest) => {
  try {
    const a = answer(request);
    if (a) parentPort?.postMessage(a.answer, a.transfer);
  } catch (e) {
    parentPort?.postMessage({ kind: "failed", message: String(e) } satisfies WorkerAnswer);
  }
});
