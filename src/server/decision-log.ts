import { isUtf8 } from "node:buffer";
import type { KeyObject } from "node:crypto";
import type { Decision, DecisionRequest } from "../engine/index.js";
import { SteleError } from "../errors.js";
import { type FrontierState, type LedgerKey, MerkleFrontier } from "../ledger/index.js";
import type { LogBatch, Store } from "../store/index.js";
import {
  checkStoredLog,
  decisionLogOrigin,
  joinLines,
  logKeyDoc,
  logSigningKey,
  signBatches,
  storedAt,
} from "./decision-log-format.js";
import { readFrontier, Sealer, type Sealing, writeFrontier } from "./decision-log-sealer.js";
import { type EntryRing, MAX_RING_BYTES } from "./decision-ring.js";
import type { Metrics } from "./metrics.js";
import type { JsonFile, LogWitness } from "./state.js";
import type { DecisionResponse } from "./wire.js";

export {
  decisionLogOrigin,
  frontierDoc,
  legacyDecisionLogOrigin,
  logKeyDoc,
} from "./decision-log-format.js";

/**
 * One logged decision: what was asked, what was answered, and by which bundle. `request` is the
 * decide request as the decision point read it: for `POST /v1/decide` the body's own text (its
 * line breaks, which JSON only allows between tokens, made spaces). Entries written before
 * `request` existed carry `input`, `policies` and `subject` instead. A line's `decision` holds
 * the answer's own fields (decision, policies, warnings, exceptions, errors): its id, time, env,
 * version and bundle are the line's, written once; read back (decision-audit.ts), it is the
 * whole response again. Lines written before carry them twice.
 */
export interface LoggedDecision {
  readonly id: string;
  readonly time: string;
  readonly env: string;
  readonly version: number;
  readonly bundle: string;
  readonly request?: unknown;
  readonly policies?: readonly string[];
  readonly subject?: string;
  readonly input?: unknown;
  readonly decision: DecisionResponse;
}

/** How the decision log batches and bounds its work. */
export interface DecisionLogOptions {
  /**
   * Bytes of shared memory that hold decisions not written yet; new ones that do not fit are
   * dropped and counted. By default room for a few of the largest requests (`maxRequestBytes`).
   */
  readonly queueBytes?: number;
  /** The largest request body the server takes (sizes the queue by default). */
  readonly maxRequestBytes?: number;
  /** Most decisions per batch. */
  readonly maxBatch?: number;
  /** How often a batch is written. */
  readonly flushIntervalMs?: number;
  /** Fraction of decisions logged, 0–1; the rest are counted, never silently skipped. */
  readonly sample?: number;
  /**
   * Where the decision point keeps, outside the store, the last checkpoint it signed and saved
   * (at most once a second, and on closing): opening a log that no longer holds it is refused.
   */
  readonly witness?: JsonFile<LogWitness>;
}

// no witness: nothing kept, nothing held to
const NO_WITNESS: JsonFile<LogWitness> = { read: async () => ({}), write: async () => undefined };

/**
 * A tamper-evident decision log (DESIGN promise 8): decisions are queued, written in batches to
 * an append-only log in the store, and each batch is sealed by a Merkle checkpoint signed with the
 * PDP's own key. When the store cannot keep up, decisions are dropped and counted in metrics.
 */
export class DecisionLog {
  // queues entries in shared memory and hashes them off the request thread; holds the right
  // edge of the log's Merkle tree (its proofs are made by whoever reads the log back: here only
  // its root is needed)
  readonly #sealer: Sealer;
  readonly #timer: NodeJS.Timeout;
  #size = 0;
  // decisions sealed and being written to the store
  #writing = 0;
  #flushing: Promise<void> | undefined;
  #sampledOut = 0;
  readonly #heads = new HeadCache();
  readonly #layout = new Layout();
  readonly #answers = new AnswerCache();
  /**
   * How the log's tree was found at open: from its saved frontier (and the batches written after
   * it, after a crash), or by hashing every entry.
   */
  openedFrom: "saved frontier" | "saved frontier and the batches after it" | "stored entries" =
    "stored entries";
  // the last checkpoint the store took (never moves back)
  #last: { size: number; note: string } | undefined;
  // why this log stopped writing: the store lost what this decision point signed
  #refused: SteleError | undefined;
  // the newest frontier and checkpoint not saved yet, and when one last was
  #unsaved: { state: FrontierState; size: number; note: string } | undefined;
  #savedAt = 0;
  // the checkpoint of the last batch, when the store has not taken it yet
  #uncheckpointed: { size: number; note: string } | undefined;

  private constructor(
    private readonly store: Store,
    readonly name: string,
    private readonly key: LedgerKey,
    private readonly vkey: string,
    private readonly metrics: Metrics,
    private readonly options: Required<DecisionLogOptions>,
  ) {
    this.#sealer = new Sealer(
      options.queueBytes,
      (n) => this.metrics.decisionLogDrops.inc(n),
      options.maxBatch,
    );
    this.#timer = setInterval(
      () => void this.#turn(false).catch(() => undefined),
      options.flushIntervalMs,
    );
    this.#timer.unref();
  }

  /** Opens (or continues) the log `name`, rebuilding its tree from what is stored. */
  static async open(
    store: Store,
    name: string,
    key: { privateKey: KeyObject; vkey: string },
    metrics: Metrics,
    options: DecisionLogOptions = {},
  ): Promise<DecisionLog> {
    const origin = decisionLogOrigin(name);
    const log = new DecisionLog(
      store,
      name,
      logSigningKey(name, key.privateKey),
      key.vkey,
      metrics,
      {
        queueBytes: options.queueBytes ?? queueBytesFor(options.maxRequestBytes ?? 0),
        maxRequestBytes: options.maxRequestBytes ?? 0,
        // a batch costs a file (or a transaction), an fsync and a signed checkpoint whatever its
        // size: a few large ones a second cost the request thread less than many small ones; a
        // crash loses at most what was queued since the last one (`--decision-log-interval`)
        maxBatch: options.maxBatch ?? 10_000,
        flushIntervalMs: options.flushIntervalMs ?? 250,
        sample: options.sample ?? 1,
        witness: options.witness ?? NO_WITNESS,
      },
    );
    await store.writeDoc(logKeyDoc(name), Buffer.from(key.vkey));
    // before anything is read or signed: the store still holds what this decision point last
    // saw itself sign
    await log.#holdsWitnessed();
    // where the log's own signed checkpoint vouches for the saved frontier, continue from it,
    // reading only what was written after it; otherwise hash the whole log again
    const saved = await readFrontier(store, name, key.vkey, origin);
    if (!(saved && (await log.#continue(saved)))) {
      log.#size = await log.#rebuild();
      log.openedFrom = "stored entries";
    }
    metrics.watchDecisionLog(() => log.pending);
    return log;
  }

  /**
   * Queues one decision; never blocks a request and never throws. `decision` is the engine's
   * decision the response was made from (when the engine shares it, frozen, between requests,
   * its JSON is made once), and `requestBody` the request's JSON text (or its UTF-8 bytes),
   * where the route has it.
   */
  record(
    response: DecisionResponse,
    request: DecisionRequest,
    decision: Decision = response,
    requestBody?: string | Uint8Array,
  ): void {
    if (this.options.sample < 1 && Math.random() >= this.options.sample) {
      this.#sampledOut++;
      return;
    }
    if (this.#refused) {
      this.metrics.decisionLogDrops.inc();
      return;
    }
    let queued: boolean;
    try {
      queued = queueEntry(
        this.#sealer.ring,
        response,
        this.#answers.json(decision),
        requestBody ?? requestJson(request),
        this.#heads,
        this.#layout,
      );
    } catch {
      // an input nested too deep to serialize (the engine denied it): counted, never thrown
      this.metrics.decisionLogDrops.inc();
      return;
    }
    // no room: the store is not keeping up; counted, never waited for
    if (!queued) this.metrics.decisionLogDrops.inc();
    // the queue's memory half taken (large decisions, or many) before the next tick: write now
    if (this.#flushing === undefined && this.#crowded())
      void this.#turn(false).catch(() => undefined);
  }

  // the queue's memory half taken: a batch goes now, not at the next tick
  #crowded(): boolean {
    const ring = this.#sealer.ring;
    return 2 * ring.bytes > ring.capacity;
  }

  /** Decisions queued or being written, not written yet. */
  get pending(): number {
    return this.#sealer.held + this.#writing;
  }

  /** Decisions written so far (the log's size). */
  get size(): number {
    return this.#size;
  }

  /** The note of the last checkpoint the store took (signed: anyone may check it). */
  get checkpoint(): string | undefined {
    return this.#last?.note;
  }

  /**
   * Why the log stopped writing, if it did: the store no longer holds what this decision point
   * signed (decisions removed from its end). New decisions are dropped and counted from then on;
   * the last checkpoint stays the one it signed, for `stele decisions verify` to hold the store to.
   */
  get problem(): SteleError | undefined {
    return this.#refused;
  }

  /** Decisions not logged because of sampling. */
  get sampledOut(): number {
    return this.#sampledOut;
  }

  /**
   * Writes everything queued, batch by batch, each sealed by a signed checkpoint; what is left
   * when the store refuses a checkpoint waits for the next turn (the log's size says how far it
   * got).
   */
  async flush(): Promise<void> {
    // after the timer's turn, if one is under way: it may stop at one batch
    while (this.#flushing) await this.#flushing;
    await this.#turn(true);
  }

  // the writer, one turn at a time: the timer's writes one batch (more while a full one waits,
  // or while the queue's memory is half taken), a flush's everything queued
  #turn(all: boolean): Promise<void> {
    this.#flushing ??= this.#drain(all).finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops the timer and writes everything still queued. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    try {
      await this.flush();
      if (this.pending > 0) await this.flush();
      await this.#saveFrontier().catch(() => undefined);
    } finally {
      // whatever is still pending now is counted lost
      await this.#sealer.close();
    }
  }

  // from a saved frontier, when it is the tree of the log as its signed checkpoint left it: that
  // checkpoint is the one stored for its size, and the frontier has as many batches (leaves) as
  // there are checkpoints under it. The decisions after it, written before a crash kept the
  // frontier from being saved again, are read and checked batch by batch against this decision
  // point's checkpoints (checkStoredLog). False when the frontier is not one to continue from.
  // Decisions before the frontier are not read again: whatever was done to them, this decision
  // point's next checkpoints extend the tree it signed, never theirs, and `stele decisions
  // verify` finds them (only it: such a log is no longer refused at open).
  async #continue(saved: {
    state: FrontierState;
    entries: number;
    note: string;
    shapeSigned: boolean;
  }): Promise<boolean> {
    // its shape (batches): signed in its checkpoint (readFrontier checked it), or else counted
    // from the sizes of every checkpoint (names, not notes: one per batch, so very many)
    if (!saved.shapeSigned) {
      const sizes = await this.store.logCheckpointSizes(this.name);
      const batches = sizes.filter((size) => size > 0 && size <= saved.entries).length;
      if (batches !== saved.state.size) return false;
    }
    // the frontier's own checkpoint, as stored
    const { stored: own, held: total } = await storedAt(this.store, this.name, saved.entries);
    if (own?.note !== saved.note) return false;
    // a log shorter than its frontier lost decisions this decision point wrote: the whole log
    // is read again, and refused
    if (total < saved.entries) return false;
    const checked = await checkStoredLog(this.store, this.name, this.vkey, {
      from: { state: saved.state, size: saved.entries },
      keepTail: this.options.maxBatch,
    });
    if (checked.problem) throw checked.problem.error;
    if (saved.entries + checked.entries !== total) return false;
    this.#last = checked.last ?? { size: saved.entries, note: saved.note };
    await this.#endTail(checked.state, checked.tail, total - checked.covered, total);
    this.#size = total;
    this.openedFrom =
      checked.entries === 0 ? "saved frontier" : "saved frontier and the batches after it";
    return true;
  }

  // stops writing: what is queued, and what comes, is dropped and counted
  #refuse(why: SteleError): void {
    this.#refused = why;
    this.#sealer.discard();
  }

  // a decision point stopped between a batch and its checkpoint leaves at most one batch past
  // its last checkpoint: more was not written by it
  #checkTail(count: number): void {
    if (count > this.options.maxBatch)
      throw new SteleError(
        "ledger.tampered",
        `decision log \`${this.name}\` holds ${count} decisions past its last checkpoint, more than one batch: not written by this decision point`,
        {
          hint: "run `stele decisions verify`; a decision point never signs decisions it did not write",
        },
      );
  }

  // starts the worker from `state` with `tail` (the `count` decisions no checkpoint ends)
  // appended as a batch this decision point does not vouch for, checkpointed
  // (decision-log-format.ts)
  async #endTail(
    state: FrontierState,
    tail: readonly Uint8Array[],
    count: number,
    size: number,
  ): Promise<void> {
    this.#checkTail(count);
    if (count === 0) {
      await this.#sealer.restore(state);
      return;
    }
    const frontier = MerkleFrontier.restore(state);
    frontier.append(joinLines(tail));
    await this.#sealer.restore(frontier.snapshot());
    this.#uncheckpointed = {
      size,
      note: signBatches(this.key, frontier.root(), size, frontier.size, false),
    };
    await this.#checkpoint().catch(() => undefined);
  }

  // the frontier from every stored entry, each span between two checkpoints a batch (one leaf),
  // once the stored log is what this decision point's checkpoints say: it never signs on top of
  // decisions changed behind its back (ledger.tampered). Decisions past the last checkpoint were
  // left by a decision point stopped before it signed them, or written by someone else: this one
  // cannot tell, so it ends them as a batch it does not vouch for (decision-log-format.ts). Read
  // a run at a time: a log larger than memory opens.
  async #rebuild(): Promise<number> {
    const checked = await checkStoredLog(this.store, this.name, this.vkey, {
      keepTail: this.options.maxBatch,
    });
    if (checked.problem) throw checked.problem.error;
    this.#last = checked.last;
    const size = checked.entries;
    await this.#endTail(checked.state, checked.tail, size - checked.covered, size);
    return size;
  }

  // writes the checkpoint of the last batch, where one is owed; throws when the store fails (the
  // next batch waits for it: a batch ends only where a checkpoint is)
  async #checkpoint(): Promise<void> {
    const owed = this.#uncheckpointed;
    if (!owed) return;
    await this.store.putLogCheckpoint(this.name, owed);
    if (owed.size >= (this.#last?.size ?? 0)) this.#last = { size: owed.size, note: owed.note };
    if (this.#uncheckpointed === owed) this.#uncheckpointed = undefined;
  }

  // appends a sealed batch after the log's last entry: the store's error, or undefined once the
  // store holds it (a write that failed after its batch landed, its answer lost on the way
  // back, is a write)
  async #append(batch: LogBatch): Promise<unknown> {
    try {
      await this.store.appendLogBatch(this.name, this.#size, batch);
      return undefined;
    } catch (e) {
      if (isConflict(e)) return e;
      const size = await this.store.logSize(this.name).catch(() => -1);
      return size === this.#size + batch.count ? undefined : e;
    }
  }

  async #saveFrontier(): Promise<void> {
    const unsaved = this.#unsaved;
    if (!unsaved) return;
    this.#unsaved = undefined;
    this.#savedAt = Date.now();
    await writeFrontier(this.store, this.name, unsaved.state, unsaved.note);
    await this.options.witness.write({
      log: this.name,
      size: unsaved.size,
      checkpoint: unsaved.note,
    });
  }

  // the store's log holds the last checkpoint this decision point saved outside it, and the
  // decisions under it: else decisions it wrote were removed (with their checkpoints, which
  // leaves a log that verifies), and it will not sign on top of what is left
  async #holdsWitnessed(): Promise<void> {
    const seen = await this.options.witness.read();
    if (seen.log !== this.name || seen.size === undefined || seen.checkpoint === undefined) return;
    const lost = await this.#lost({ size: seen.size, note: seen.checkpoint });
    if (lost) throw lost;
  }

  // why the store no longer holds this checkpoint this decision point signed, and the decisions
  // under it; undefined when it does
  async #lost(signed: { size: number; note: string }): Promise<SteleError | undefined> {
    const { stored, held } = await storedAt(this.store, this.name, signed.size);
    if (stored?.note === signed.note && held >= signed.size) return undefined;
    return new SteleError(
      "ledger.tampered",
      `decision log \`${this.name}\` lost decisions this decision point wrote: it signed ${signed.size}, the store holds ${held}${stored ? " under another checkpoint" : ""}`,
      {
        hint: "restore the store's decision log from a backup; to start this decision point's log afresh knowingly, remove the `.decision-log` file beside its --state file",
      },
    );
  }

  // never throws: every decision ends written, or counted as dropped. Under load the timer
  // writes one batch a tick, not one after another as fast as the store takes them: each batch
  // costs the request thread file calls, a signature and a round trip to the worker, whatever
  // its size, and back-to-back batches are as many as the store's fsyncs allow
  async #drain(all: boolean): Promise<void> {
    if (this.#refused) return;
    // a checkpoint not saved yet (the last batch came within a second of the save before it),
    // and a second gone: saved now, not only with the next batch
    if (this.#unsaved && Date.now() - this.#savedAt >= 1000)
      await this.#saveFrontier().catch(() => undefined);
    for (;;) {
      try {
        await this.#checkpoint();
      } catch {
        // the last batch's checkpoint is not stored: no batch goes after it until it is (what
        // arrives meanwhile waits in the queue, or is dropped and counted when that is full)
        return;
      }
      if (this.#sealer.held === 0) return;
      let sealed: Sealing;
      try {
        sealed = await this.#sealer.seal(this.options.maxBatch);
      } catch {
        // the worker failed (what it was sealing is counted lost by the sealer) or died (a new
        // one seals the same entries, until too many have died on them): the next one starts
        // from the last frontier the store took
        await this.#sealer.rollback();
        continue;
      }
      const { bytes, ends, root, state } = sealed.answer;
      const count = ends.length;
      this.#writing = count;
      const failure = await this.#append({ bytes, count, ends });
      if (failure !== undefined) {
        this.#writing = 0;
        // the store failed: these decisions are lost, and counted as such
        this.metrics.decisionLogDrops.inc(count);
        this.#sealer.recycle(sealed);
        await this.#sealer.rollback();
        // the log is not the size this writer thought (someone else wrote to it): start again from
        // what is stored, if it still is what this writer signed (else every batch is refused
        // and counted, and verify says why)
        if (isConflict(failure)) {
          // never on a log that lost what this writer signed: that would sign over the loss
          const lost = this.#last && (await this.#lost(this.#last).catch(() => undefined));
          if (lost) {
            this.#refuse(lost);
            return;
          }
          this.#size = await this.#rebuild().catch(() => this.#size);
        }
        continue;
      }
      this.#sealer.recycle(sealed);
      await this.#sealer.commit(sealed);
      this.#size += count;
      this.#writing = 0;
      this.metrics.decisionLogAppended.inc(count);
      const note = signBatches(this.key, root, this.#size, state.size);
      this.#uncheckpointed = { size: this.#size, note };
      try {
        await this.#checkpoint();
        this.#unsaved = { state, size: this.#size, note };
        // the saved frontier only spares a restart some hashing: at most once a second
        if (Date.now() - this.#savedAt >= 1000) await this.#saveFrontier();
      } catch {
        // the entries are written; their checkpoint is written before the next batch, and a
        // missing or stale saved frontier only means a slower restart
      }
      // a full batch waits, or the queue's memory is half taken (large decisions): go on
      if (!all && this.#sealer.held < this.options.maxBatch && !this.#crowded()) return;
    }
  }
}

const isConflict = (e: unknown) => e instanceof SteleError && e.code === "store.conflict";

// 32 MiB, or room for eight of the largest requests, within what a ring can hold
function queueBytesFor(maxRequestBytes: number): number {
  return Math.min(Math.max(32 * 1024 * 1024, 8 * maxRequestBytes), MAX_RING_BYTES);
}

// the parts of a line's head that change only with the release, or with the millisecond (the
// app makes a decision's time once a millisecond), as UTF-8 once each
class HeadCache {
  #time: string | undefined;
  #timeBytes = new Uint8Array();
  #env = "";
  #version = Number.NaN;
  #bundle: string | undefined = "";
  #bytes = new Uint8Array();

  // `,"time":` and the time as a JSON string
  time(time: string): Uint8Array {
    // a response without its time has no line (counted dropped by the caller), the first one too
    if (typeof time !== "string") throw new TypeError("a decision without its time");
    if (time !== this.#time) {
      this.#time = time;
      this.#timeBytes = utf8(`,"time":${JSON.stringify(time)}`);
    }
    return this.#timeBytes;
  }

  release(env: string, version: number, bundle: string | undefined): Uint8Array {
    if (env !== this.#env || version !== this.#version || bundle !== this.#bundle) {
      this.#env = env;
      this.#version = version;
      this.#bundle = bundle;
      this.#bytes = utf8(
        `,"env":${JSON.stringify(env)},"version":${JSON.stringify(version)},"bundle":${JSON.stringify(bundle ?? "")},"request":`,
      );
    }
    return this.#bytes;
  }
}

// a decision's own fields as logged, in the response's order; a decision the engine shares
// between requests (frozen, and frozen all through) is serialized once, to UTF-8
class AnswerCache {
  readonly #bytes = new WeakMap<Decision, Uint8Array>();

  json(d: Decision): string | Uint8Array {
    if (!Object.isFrozen(d)) return answerJson(d);
    let bytes = this.#bytes.get(d);
    if (bytes === undefined) {
      bytes = utf8(answerJson(d));
      this.#bytes.set(d, bytes);
    }
    return bytes;
  }
}

function answerJson({ decision, policies, warnings, exceptions, errors }: Decision): string {
  return JSON.stringify({ decision, policies, warnings, exceptions, errors });
}

const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));
const ID = utf8('{"id":');
const DECISION = utf8(',"decision":');
const CLOSE = 0x7d;

/**
 * Queues one decision as a log line, laid out in the ring where it is queued: a LoggedDecision in
 * JSON, fields in its declared order. The decision's JSON (`answer`) and the request's own text
 * (or bytes) go in as they are. False when the ring has no room.
 */
function queueEntry(
  ring: EntryRing,
  response: DecisionResponse,
  answer: string | Uint8Array,
  requestBody: string | Uint8Array,
  heads: HeadCache,
  layout: Layout,
): boolean {
  const release = heads.release(response.env, response.version, response.bundle);
  const time = heads.time(response.time);
  const asked = asRead(requestBody);
  const { id } = response;
  // the bytes: the fixed ones, then at most (a string's UTF-8 is 3 bytes a UTF-16 unit, a
  // character JSON escapes 6), or exactly when that much does not fit
  const fixed = ID.length + time.length + DECISION.length + 1 + release.length;
  const most = fixed + 6 * (id.length + 2) + mostBytes(asked) + mostBytes(answer);
  let at = ring.begin(most);
  if (at < 0) {
    const exact =
      fixed + Buffer.byteLength(JSON.stringify(id)) + byteLength(asked) + byteLength(answer);
    at = ring.begin(exact);
    if (at < 0) return false;
  }
  // laid out first in ordinary memory, then copied into the ring in one call: a copy into
  // shared memory goes a byte at a time unless source and target lie alike against 8-byte words
  // (V8's copy for memory another thread may read), so the entry goes at the same offset modulo 8
  // in both, and is copied a word at a time
  const scratch = layout.room(most);
  if (scratch === undefined) {
    ring.commit(layOut(ring.data, at, id, time, release, asked, answer));
    return true;
  }
  const from = at & 7;
  const end = layOut(scratch, from, id, time, release, asked, answer);
  ring.data.set(scratch.subarray(from, end), at);
  ring.commit(at + end - from);
  return true;
}

// an entry's bytes at `at` in `data`; where they end
function layOut(
  data: Buffer,
  at: number,
  id: string,
  time: Uint8Array,
  release: Uint8Array,
  asked: string | Uint8Array,
  answer: string | Uint8Array,
): number {
  data.set(ID, at);
  at = jsonString(data, at + ID.length, id);
  data.set(time, at);
  data.set(release, at + time.length);
  at = put(data, at + time.length + release.length, asked);
  data.set(DECISION, at);
  at = put(data, at + DECISION.length, answer);
  data[at++] = CLOSE;
  return at;
}

// where entries are laid out before they are copied into the ring: grown to the largest entry
// up to a megabyte (larger ones are written into the ring directly, a byte at a time)
const LAYOUT_MOST = 1024 * 1024;
class Layout {
  #bytes = Buffer.allocUnsafeSlow(64 * 1024);

  // room for `most` bytes after up to 7 of alignment, or undefined when that is over a megabyte
  room(most: number): Buffer | undefined {
    if (most + 8 > this.#bytes.length) {
      if (most + 8 > LAYOUT_MOST) return undefined;
      this.#bytes = Buffer.allocUnsafeSlow(Math.min(LAYOUT_MOST, 2 * (most + 8)));
    }
    return this.#bytes;
  }
}

const mostBytes = (x: string | Uint8Array) => (typeof x === "string" ? 3 * x.length : x.length);
const byteLength = (x: string | Uint8Array) =>
  typeof x === "string" ? Buffer.byteLength(x) : x.length;

// `x` (text, as UTF-8, or bytes) at `at`; where it ends
function put(data: Buffer, at: number, x: string | Uint8Array): number {
  if (typeof x === "string") return at + data.write(x, at, "utf8");
  data.set(x, at);
  return at + x.length;
}

// `text` as a JSON string at `at`; where it ends. Ids and times are plain ASCII, written a byte
// at a time; anything else goes through JSON.stringify.
function jsonString(data: Buffer, at: number, text: string): number {
  let end = at;
  data[end++] = 0x22;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c)
      return at + data.write(JSON.stringify(text), at, "utf8");
    data[end++] = c;
  }
  data[end++] = 0x22;
  return end;
}

// bytes go in as they are only when they are what the route read: valid UTF-8 (else the route
// read U+FFFD in their place). Line breaks are left to the worker: in JSON text they can only be
// whitespace between tokens, and it makes them spaces (decision-log-worker.ts)
function asRead(body: string | Uint8Array): string | Uint8Array {
  if (typeof body === "string" || isUtf8(body)) return body;
  return Buffer.from(body.buffer, body.byteOffset, body.length).toString("utf8");
}

function requestJson(request: DecisionRequest): string {
  const input = JSON.stringify(request.input);
  // an input JSON cannot represent (undefined, a function) has no line: the caller counts a drop
  if (input === undefined) throw new TypeError("the input has no JSON form");
  let text = "{";
  if (request.policies !== undefined) text += `"policies":${JSON.stringify(request.policies)},`;
  if (request.subject !== undefined) text += `"subject":${JSON.stringify(request.subject)},`;
  return `${text}"input":${input}}`;
}
