import type { Digest } from "../bundle/index.js";
import { SteleError } from "../errors.js";

/** A checkpoint note as stored: the tree size it commits to and its signed text. */
export interface StoredCheckpoint {
  readonly size: number;
  readonly note: string;
}

/**
 * Log entries as one buffer: each entry's bytes, a newline between two (no entry holds one), as a
 * decision log's worker lays a batch out.
 */
export interface LogBatch {
  readonly bytes: Uint8Array;
  readonly count: number;
  /**
   * Where each entry ends in `bytes` (at the newline after it; the last at the end), from
   * whoever laid the batch out and checked that no entry holds a newline: a decision log's
   * worker, off the request thread. Trusted: the store checks only that each end is at a
   * newline, not that no other newline lies between two (that search, over a batch of
   * megabytes, is what the request thread is spared). A caller that gives ends must have
   * checked its entries; one that has not leaves them out.
   */
  readonly ends?: Uint32Array;
}

/** A batch from its entries one by one (joined; checked by the store when it writes them). */
export function toLogBatch(entries: readonly Uint8Array[] | LogBatch): LogBatch {
  if (!Array.isArray(entries)) return entries as LogBatch;
  const list = entries as readonly Uint8Array[];
  const parts: Uint8Array[] = [];
  for (const [i, e] of list.entries()) {
    if (i > 0) parts.push(NEWLINE);
    parts.push(e);
  }
  return { bytes: Buffer.concat(parts), count: list.length };
}

/**
 * A batch's bytes checked to hold exactly its entries: `count - 1` newlines, so no entry holds
 * one (a log line is one entry). Throws `store.corrupt` otherwise.
 */
export function checkLogBatch(batch: LogBatch): Buffer {
  const view = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.length);
  if (batch.ends !== undefined) {
    if (!endsAt(view, batch.ends, batch.count))
      throw new SteleError("store.corrupt", "a log batch's entry ends are not its newlines");
    return view;
  }
  let newlines = 0;
  for (let i = view.indexOf(0x0a); i >= 0; i = view.indexOf(0x0a, i + 1)) newlines++;
  if (batch.count === 0 ? view.length > 0 : newlines !== batch.count - 1)
    throw new SteleError("store.corrupt", "a log entry may not hold a newline");
  return view;
}

// whether `ends` are `count` increasing offsets, each at a newline but the last, at the end
function endsAt(bytes: Uint8Array, ends: Uint32Array, count: number): boolean {
  if (ends.length !== count) return false;
  let after = 0;
  for (let i = 0; i < count; i++) {
    const end = ends[i] as number;
    const last = i === count - 1;
    if (end < after || (last ? end !== bytes.length : bytes[end] !== 0x0a)) return false;
    after = end + 1;
  }
  return count > 0 || bytes.length === 0;
}

const NEWLINE = Uint8Array.of(0x0a);

/** The entries of a named log from index `from` on (every one by default), in order, in memory. */
export async function readLog(store: Store, log: string, from = 0): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const run of store.scanLog(log, from)) out.push(...run);
  return out;
}

/**
 * Where bundles, approvals, the ledger and logs live. Objects are content-addressed and written
 * once; the ledger only grows, one compare-and-append at a time, so concurrent writers can never
 * fork it. Implementations: `file:` (embedded, the default) and `postgres:`.
 */
export interface Store {
  /** The URL this store was opened with. */
  readonly url: string;

  /** Stores bytes under their digest; storing the same bytes again is a no-op. */
  putObject(bytes: Uint8Array): Promise<Digest>;
  /** The bytes stored under a digest (verified against it), or undefined. */
  getObject(digest: Digest): Promise<Buffer | undefined>;

  /** How many entries the ledger holds. */
  ledgerSize(): Promise<number>;
  /** Ledger entries `[from, to)`, in order. */
  readEntries(from: number, to: number): Promise<Buffer[]>;
  /**
   * Appends one entry at index `size`; refuses with `store.conflict` when the ledger no longer
   * has exactly `size` entries (someone appended first: re-read, re-check, retry).
   */
  appendEntry(size: number, bytes: Uint8Array): Promise<void>;

  /** Records a signed checkpoint for its tree size; one per size, never replaced. */
  putCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  /** The checkpoint with the largest tree size, or undefined for a new ledger. */
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /** Every checkpoint, by increasing tree size. */
  checkpoints(): Promise<StoredCheckpoint[]>;

  /** A small named document (keys, PDP state), written atomically; undefined if absent. */
  readDoc(name: string): Promise<Buffer | undefined>;
  /** Writes a small named document atomically (whole or not at all). */
  writeDoc(name: string, bytes: Uint8Array): Promise<void>;
  /** Names of the documents in a folder (`heartbeats`), sorted. */
  listDocs(folder: string): Promise<string[]>;
  /** Creates a named document only if absent; false when it already existed. */
  createDoc(name: string, bytes: Uint8Array): Promise<boolean>;

  /**
   * Appends a batch of entries (one by one, or already joined) to a named append-only log
   * (decision logs), starting at index `first`; refuses with `store.conflict` unless the log holds
   * exactly `first` entries, and with `store.corrupt` an entry holding a newline.
   */
  appendLogBatch(
    log: string,
    first: number,
    entries: readonly Uint8Array[] | LogBatch,
  ): Promise<void>;
  /**
   * The entries of a named log from index `from` on (every one by default), in order, a run at a
   * time (each run the entries that follow the last, at most a batch or a page of them), so a log
   * larger than memory can be read through; throws `store.corrupt` where an entry is missing or
   * two claim one index.
   */
  scanLog(log: string, from?: number): AsyncIterable<Buffer[]>;
  /** How many entries a named log holds (0 for a log never written). */
  logSize(log: string): Promise<number>;
  /** The names of every log with entries or checkpoints, in order. */
  logs(): Promise<string[]>;
  /**
   * Records a signed checkpoint of a named log for its size; one per size: the same again is a
   * no-op, another note for a size already checkpointed is refused with `store.conflict`.
   */
  putLogCheckpoint(log: string, checkpoint: StoredCheckpoint): Promise<void>;
  /** The checkpoints of a named log for a size of `from` or more, by increasing size. */
  logCheckpoints(log: string, from?: number): Promise<StoredCheckpoint[]>;
  /** The sizes a named log has checkpoints for, increasing: without their notes (cheap). */
  logCheckpointSizes(log: string): Promise<number[]>;
  /**
   * The checkpoints of a named log for exactly these sizes (as `logCheckpointSizes` lists
   * them), by increasing size; a size with none is left out. Reads only those: a log read
   * through a page of checkpoints at a time lists them once, not once a page.
   */
  logCheckpointsAt(log: string, sizes: readonly number[]): Promise<StoredCheckpoint[]>;

  close(): Promise<void>;
}
