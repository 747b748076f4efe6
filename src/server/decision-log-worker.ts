// the decision log's worker thread: copies entries out of the shared ring (decision-ring.ts) into
// a batch and hashes the batch, one leaf, into the log's Merkle frontier, so the thread that
// answers requests never hashes (decision-log.ts)

import type { Hash } from "node:crypto";
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { type FrontierState, leafHasher, MerkleFrontier } from "../ledger/index.js";
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
      /** How many of its entries were copied and hashed before the seal was asked for. */
      readonly gathered: number;
    }
  | { readonly kind: "failed"; readonly message: string };

// how much lower than the request thread's the worker's priority is (a nice value, 0–19)
const WORKER_NICE = 10;

/** What the worker is started with. */
export interface WorkerData {
  readonly ring: SharedArrayBuffer;
  /** The most entries a batch holds (what is gathered ahead of a seal). */
  readonly maxBatch: number;
}

const { ring, maxBatch: MAX_BATCH } = workerData as WorkerData;
const reader = new RingReader(ring);
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

// the batch being gathered: the entries published after the last sealed are copied out and
// hashed a few times a batch (every GATHER_MS while more come), so that sealing finds most of its
// batch done, and the work comes in small pieces instead of one burst a batch
interface Gathering {
  /** The number of its first entry. */
  readonly read: number;
  /** Entries copied. */
  taken: number;
  /** Where its bytes start in `buffer`. */
  at: number;
  /** Bytes copied, a newline after each entry. */
  size: number;
  buffer: ArrayBuffer;
  /** Where each entry's newline is, counted from `at`. */
  ends: Uint32Array;
  /** The leaf hash so far: 0x00 and every byte copied but the last newline. */
  readonly hash: Hash;
}

const GATHER_MS = 20;
let gathering: Gathering | undefined;
// the number of the entry after the last sealed (the next batch's first), once one was
let nextRead: number | undefined;
let gatherTimer: NodeJS.Timeout | undefined;

function startGathering(read: number): Gathering {
  if (gathering) recycle(gathering.buffer);
  gathering = {
    read,
    taken: 0,
    at: 0,
    size: 0,
    buffer: pool.pop() ?? new ArrayBuffer(1024 * 1024),
    ends: new Uint32Array(1024),
    hash: leafHasher(),
  };
  return gathering;
}

// copies and hashes the entries published after those gathered, up to `max` in the batch; the
// batch gathered from `read` on (begun again when the last one gathered started elsewhere)
function gather(read: number, max: number): Gathering {
  const g = gathering?.read === read && gathering.taken <= max ? gathering : startGathering(read);
  const from = (g.read + g.taken) >>> 0;
  const { taken, size } = reader.measure(from, max - g.taken);
  if (taken === 0) return g;
  // a copy out of shared memory goes a word at a time only where source and target lie alike
  // against 8-byte words (else a byte at a time): the batch starts at its first entry's offset
  // modulo 8, and the ring keeps that offset when it wraps where it can, so runs lie alike
  if (g.taken === 0) g.at = reader.startOf(from) & 7;
  const needed = g.at + g.size + size;
  if (g.buffer.byteLength < needed) {
    const grown = new ArrayBuffer(Math.max(needed, 2 * g.buffer.byteLength));
    new Uint8Array(grown).set(new Uint8Array(g.buffer, 0, g.at + g.size));
    g.buffer = grown;
  }
  if (g.ends.length < g.taken + taken) {
    const grown = new Uint32Array(Math.max(g.taken + taken, 2 * g.ends.length));
    grown.set(g.ends.subarray(0, g.taken));
    g.ends = grown;
  }
  const batch = Buffer.from(g.buffer, g.at, g.size + size);
  reader.copy(from, taken, batch, g.size, g.ends.subarray(g.taken, g.taken + taken));
  for (let i = g.taken; i < g.taken + taken; i++) g.ends[i] = (g.ends[i] as number) + g.size;
  oneLinePerEntry(batch, g.ends, g.taken, g.taken + taken, g.size);
  // every byte but the last newline (the leaf is the entries with a newline between two)
  g.hash.update(batch.subarray(Math.max(0, g.size - 1), g.size + size - 1));
  g.taken += taken;
  g.size += size;
  return g;
}

function seal(read: number, max: number): { answer: WorkerAnswer; transfer: ArrayBuffer[] } {
  const gathered = gathering?.read === read && gathering.taken <= max ? gathering.taken : 0;
  const g = gather(read, max);
  gathering = undefined;
  if (g.taken > 0) frontier.appendLeafHash(g.hash.digest());
  nextRead = (read + g.taken) >>> 0;
  scheduleGathering();
  return {
    answer: {
      kind: "sealed",
      // without the last entry's newline
      bytes: new Uint8Array(g.buffer, g.at, Math.max(0, g.size - 1)),
      ends: g.ends.slice(0, g.taken),
      root: frontier.root(),
      state: frontier.snapshot(),
      next: nextRead,
      gathered,
    },
    transfer: [g.buffer],
  };
}

// gathers every GATHER_MS while entries keep coming; stops when none came (until the next seal)
function scheduleGathering(): void {
  if (gatherTimer !== undefined || nextRead === undefined) return;
  gatherTimer = setTimeout(() => {
    gatherTimer = undefined;
    if (nextRead === undefined) return;
    try {
      const before = gathering?.read === nextRead ? gathering.taken : 0;
      const g = gather(nextRead, MAX_BATCH);
      if (g.taken > before && g.taken < MAX_BATCH) scheduleGathering();
    } catch {
      // what went wrong here goes wrong again when the batch is sealed, and is answered then
      gathering = undefined;
    }
  }, GATHER_MS);
  gatherTimer.unref();
}

function recycle(buffer: ArrayBuffer): void {
  // two: one being filled while the store writes the other (batches run to megabytes)
  if (pool.length < 2) pool.push(buffer);
}

// a log line is one entry: the only newlines in a batch are the entries' ends. The request
// thread writes the request's own text, where a line break (or a carriage return) can only be
// whitespace between JSON tokens: each is made a space here, off the request thread. Nothing
// else it writes holds one (JSON.stringify escapes them). Entries `first` to `last` (not
// included), from the byte `from` on.
function oneLinePerEntry(
  batch: Buffer,
  ends: Uint32Array,
  first: number,
  last: number,
  from: number,
): void {
  for (let r = batch.indexOf(0x0d, from); r >= 0; r = batch.indexOf(0x0d, r + 1)) batch[r] = 0x20;
  for (let i = first; i < last; i++) {
    const end = ends[i] as number;
    let nl = batch.indexOf(0x0a, from);
    while (nl >= 0 && nl < end) {
      batch[nl] = 0x20;
      nl = batch.indexOf(0x0a, nl + 1);
    }
    if (nl !== end) throw new Error("a queued decision lost its newline");
    from = end + 1;
  }
}

function answer(
  request: WorkerRequest,
): { answer: WorkerAnswer; transfer: ArrayBuffer[] } | undefined {
  switch (request.kind) {
    case "recycle":
      recycle(request.buffer);
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
    // nothing more is gathered until a seal goes through: the request thread drops what is
    // queued when one fails (and rewrites the ring under a gathering that went on)
    gathering = undefined;
    nextRead = undefined;
    parentPort?.postMessage({ kind: "failed", message: String(e) } satisfies WorkerAnswer);
  }
});
