// the decision log's worker thread: copies entries out of the shared ring (decision-ring.ts) into
// a batch and hashes the batch, one leaf, into the log's Merkle frontier, so the thread that
// answers requests never hashes (decision-log.ts)
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { type FrontierState, leafHashPrefixed, MerkleFrontier } from "../ledger/index.js";
import { readEntries } from "./decision-ring.js";

/** What the decision log asks of its worker. */
export type WorkerRequest =
  | { readonly kind: "reset"; readonly state: FrontierState }
  /** Seals up to `max` entries of the ring, from offset `read` on. */
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
      /** Where the ring's next entry starts. */
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
  if (!ring) throw new Error("the decision log worker has no ring");
  // first the entries' places, then one buffer for all of them
  const spans: Uint8Array[] = [];
  const { next } = readEntries(ring, read, max, (entry) => spans.push(entry));
  let size = 0;
  for (const s of spans) size += 1 + s.length;
  let buffer = pool.pop();
  if (buffer === undefined || buffer.byteLength < size)
    buffer = new ArrayBuffer(Math.max(size, Math.ceil((buffer?.byteLength ?? 0) * 1.5)));
  // each entry is preceded by one byte: the newline between two, and before the first the leaf
  // prefix 0x00, so the batch is hashed, one leaf, where it lies
  const all = new Uint8Array(buffer, 0, size);
  // where each entry ends, for the store, which need not search the batch for its newlines on
  // the request thread: checked here that they are the only ones
  const ends = new Uint32Array(spans.length);
  let at = 0;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i] as Uint8Array;
    if (s.indexOf(0x0a) >= 0) throw new Error("a queued decision holds a newline");
    all[at] = 0x0a;
    all.set(s, at + 1);
    at += 1 + s.length;
    ends[i] = at - 1;
  }
  if (spans.length > 0) {
    all[0] = 0x00;
    frontier.appendLeafHash(leafHashPrefixed(all));
  }
  const bytes = all.subarray(1);
  return {
    answer: {
      kind: "sealed",
      bytes,
      ends,
      root: frontier.root(),
      state: frontier.snapshot(),
      next,
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
