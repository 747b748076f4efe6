import { createPublicKey, type KeyObject } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { DecisionRequest } from "../engine/index.js";
import { SteleError } from "../errors.js";
import {
  type FrontierState,
  hashEqual,
  type LedgerKey,
  MerkleFrontier,
  signRoot,
  verifyCheckpoint,
} from "../ledger/index.js";
import type { Store } from "../store/index.js";
import type { WorkerAnswer, WorkerRequest } from "./decision-log-worker.js";
import type { Metrics } from "./metrics.js";
import type { DecisionResponse } from "./wire.js";

/** One logged decision: what was asked, what was answered, and by which bundle. */
export interface LoggedDecision {
  readonly id: string;
  readonly time: string;
  readonly env: string;
  readonly version: number;
  readonly bundle: string;
  readonly policies?: readonly string[];
  readonly subject?: string;
  readonly input: unknown;
  readonly decision: DecisionResponse;
}

/** How the decision log batches and bounds its work. */
export interface DecisionLogOptions {
  /** Decisions held in memory before new ones are dropped (and counted). */
  readonly maxQueue?: number;
  /** Most decisions per batch. */
  readonly maxBatch?: number;
  /** How often a batch is written. */
  readonly flushIntervalMs?: number;
  /** How often queued decisions move to the worker thread (off the request thread's heap). */
  readonly handOffIntervalMs?: number;
  /** Fraction of decisions logged, 0–1; the rest are counted, never silently skipped. */
  readonly sample?: number;
}

/** The store document holding a decision log's verifier key (`name+hash+key`). */
export function logKeyDoc(log: string): string {
  return `decision-logs/${log}.vkey`;
}

/**
 * A tamper-evident decision log (DESIGN promise 8): decisions are queued, written in batches to
 * an append-only log in the store, and each batch is sealed by a Merkle checkpoint signed with the
 * PDP's own key. When the store cannot keep up, decisions are dropped and counted in metrics.
 */
export class DecisionLog {
  readonly #queue: string[] = [];
  // hashes entries off the request thread; holds the right edge of the log's Merkle tree (its
  // proofs are made by whoever reads the log back: here only its root is needed)
  readonly #sealer = new Sealer((n) => this.metrics.decisionLogDrops.inc(n));
  readonly #timer: NodeJS.Timeout;
  readonly #handOff: NodeJS.Timeout;
  #size = 0;
  #flushing: Promise<void> | undefined;
  #sampledOut = 0;

  private constructor(
    private readonly store: Store,
    readonly name: string,
    private readonly key: LedgerKey,
    private readonly metrics: Metrics,
    private readonly options: Required<DecisionLogOptions>,
  ) {
    this.#timer = setInterval(
      () => void this.flush().catch(() => undefined),
      options.flushIntervalMs,
    );
    this.#timer.unref();
    // short-lived lines on the request thread: its young-generation collections stay short
    this.#handOff = setInterval(() => this.#handOver(), options.handOffIntervalMs);
    this.#handOff.unref();
  }

  /** Opens (or continues) the log `name`, rebuilding its tree from what is stored. */
  static async open(
    store: Store,
    name: string,
    key: { privateKey: KeyObject; vkey: string },
    metrics: Metrics,
    options: DecisionLogOptions = {},
  ): Promise<DecisionLog> {
    const origin = `stele.dev/decisions/${name}`;
    const log = new DecisionLog(
      store,
      name,
      {
        origin,
        name: origin,
        privateKey: key.privateKey,
        publicKey: createPublicKey(key.privateKey),
      },
      metrics,
      {
        maxQueue: options.maxQueue ?? 50_000,
        maxBatch: options.maxBatch ?? 2_000,
        flushIntervalMs: options.flushIntervalMs ?? 100,
        handOffIntervalMs: options.handOffIntervalMs ?? 10,
        sample: options.sample ?? 1,
      },
    );
    await store.writeDoc(logKeyDoc(name), Buffer.from(key.vkey));
    // where the log's own signed checkpoint vouches for the saved frontier, start from it;
    // otherwise (first start, a crash between writes, anything off) hash the whole log again
    const saved = await readFrontier(store, name, key.vkey, origin);
    log.#size = saved ? await log.#sealer.restore(saved) : await log.#rebuild();
    return log;
  }

  /** Queues one decision; never blocks a request and never throws. */
  record(response: DecisionResponse, request: DecisionRequest, json?: string): void {
    if (this.options.sample < 1 && Math.random() >= this.options.sample) {
      this.#sampledOut++;
      return;
    }
    if (this.#queue.length + this.#sealer.held >= this.options.maxQueue) {
      this.metrics.decisionLogDrops.inc();
      return;
    }
    let line: string;
    try {
      line = entryLine(response, request, json);
    } catch {
      // an input nested too deep to serialize (the engine denied it): counted, never thrown
      this.metrics.decisionLogDrops.inc();
      return;
    }
    this.#queue.push(line);
  }

  /** Decisions queued but not yet written. */
  get pending(): number {
    return this.#queue.length + this.#sealer.held;
  }

  /** Decisions written so far (the log's size). */
  get size(): number {
    return this.#size;
  }

  /** Decisions not logged because of sampling. */
  get sampledOut(): number {
    return this.#sampledOut;
  }

  /** Writes what is queued, batch by batch, each sealed by a signed checkpoint. */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops the timer and writes everything still queued. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#handOff);
    try {
      await this.flush();
      if (this.pending > 0) await this.flush();
    } finally {
      // whatever is still pending now is lost with the worker, and counted
      this.metrics.decisionLogDrops.inc(this.#queue.splice(0).length);
      await this.#sealer.close();
    }
  }

  // the frontier from every stored entry
  async #rebuild(): Promise<number> {
    return this.#sealer.load(await this.store.readLog(this.name));
  }

  #handOver(): void {
    if (this.#queue.length === 0) return;
    const lines = this.#queue.splice(0);
    try {
      this.#sealer.hold(lines);
    } catch {
      this.metrics.decisionLogDrops.inc(lines.length);
    }
  }

  // never throws: every decision ends written, or counted as dropped
  async #drain(): Promise<void> {
    this.#handOver();
    while (this.#sealer.held > 0) {
      let sealed: Sealing;
      try {
        sealed = await this.#sealer.seal(this.options.maxBatch);
      } catch {
        // the worker failed or died: what it held is counted lost (by the sealer), and the
        // next one starts from the last frontier the store took
        await this.#sealer.rollback();
        continue;
      }
      const { bytes, ends, root, state } = sealed.answer;
      const entries = Array.from(ends, (end, i) =>
        bytes.subarray(i === 0 ? 0 : (ends[i - 1] as number) + 1, end),
      );
      try {
        await this.store.appendLogBatch(this.name, this.#size, entries);
      } catch (e) {
        // the store failed: these decisions are lost, and counted as such
        this.metrics.decisionLogDrops.inc(entries.length);
        await this.#sealer.rollback();
        // the log is not the size this writer thought (a saved frontier behind a batch written
        // before a crash): start again from what is stored
        if (e instanceof SteleError && e.code === "store.conflict")
          this.#size = await this.#rebuild().catch(() => this.#size);
        continue;
      }
      await this.#sealer.commit(sealed);
      this.#size += entries.length;
      this.metrics.decisionLogAppended.inc(entries.length);
      try {
        const note = signRoot(root, this.#size, this.key);
        await this.store.putLogCheckpoint(this.name, { size: this.#size, note });
        await writeFrontier(this.store, this.name, state, note);
      } catch {
        // the entries are written; the next batch's checkpoint covers them, and a missing or
        // stale saved frontier only means a slower restart
      }
    }
  }
}

type Sealed = Extract<WorkerAnswer, { kind: "sealed" }>;

/** A sealed batch, and which worker sealed it. */
interface Sealing {
  readonly answer: Sealed;
  readonly generation: number;
}

// the decision log's side of its worker: one request at a time, answers in order. It counts the
// lines the worker holds; a worker that dies takes them with it (counted lost through `lost`) and
// is replaced from the last frontier whose entries the store took
class Sealer {
  #worker: Worker | undefined;
  readonly #waiting: { resolve: (a: WorkerAnswer) => void; reject: (e: Error) => void }[] = [];
  #committed: FrontierState = { size: 0, roots: [], heights: [] };
  /** Workers started so far. */
  generation = 0;
  /** Lines handed to the current worker and not sealed yet. */
  held = 0;

  constructor(private readonly lost: (n: number) => void) {}

  /** Starts from a saved frontier; returns the log's size. */
  async restore(state: FrontierState): Promise<number> {
    const a = await this.#ask({ kind: "reset", state });
    if (a.kind !== "state") throw new Error(`the decision log worker failed: ${describe(a)}`);
    this.#committed = a.state;
    return a.state.size;
  }

  /** Hashes what the store already holds; returns the log's size. */
  async load(entries: readonly Uint8Array[]): Promise<number> {
    const a = await this.#ask({ kind: "load", entries });
    if (a.kind !== "state") throw new Error(`the decision log worker failed: ${describe(a)}`);
    this.#committed = a.state;
    return a.state.size;
  }

  /** Hands lines to the worker to hold until sealed. */
  hold(lines: readonly string[]): void {
    (this.#worker ?? this.#start()).postMessage({ kind: "queue", lines } satisfies WorkerRequest);
    this.held += lines.length;
  }

  /** The entry bytes of up to `max` held lines, and the root with them appended (not committed). */
  async seal(max: number): Promise<Sealing> {
    const generation = this.generation;
    const a = await this.#ask({ kind: "seal", max: Math.min(max, this.held) });
    if (a.kind !== "sealed" || a.ends.length === 0) {
      // a worker that cannot seal what it holds: those lines are lost, and counted
      this.#discard();
      throw new Error(`the decision log worker failed: ${describe(a)}`);
    }
    this.held -= a.ends.length;
    return { answer: a, generation };
  }

  /** The store took a sealed batch: its frontier is the log's. */
  async commit(sealing: Sealing): Promise<void> {
    this.#committed = sealing.answer.state;
    // a worker started while this batch was being written began from the frontier before it
    if (this.generation !== sealing.generation) await this.rollback();
  }

  /** Back to the last committed frontier (the store did not take the last batch). */
  async rollback(): Promise<void> {
    try {
      await this.#ask({ kind: "reset", state: this.#committed });
    } catch {
      // a dead worker is replaced from the committed frontier on the next request
    }
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    this.#discard();
    await w?.terminate();
  }

  #discard(): void {
    if (this.held === 0) return;
    this.lost(this.held);
    this.held = 0;
    this.#worker?.postMessage({ kind: "discard" } satisfies WorkerRequest);
  }

  #ask(request: WorkerRequest): Promise<WorkerAnswer> {
    const worker = this.#worker ?? this.#start();
    // a worker with an answer owed keeps the process alive: the last batch is written on exit
    worker.ref();
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      worker.postMessage(request);
    });
  }

  #start(): Worker {
    const worker = new Worker(new URL("./decision-log-worker.js", import.meta.url));
    this.generation += 1;
    worker.unref();
    worker.on("message", (a: WorkerAnswer) => {
      this.#waiting.shift()?.resolve(a);
      if (this.#waiting.length === 0) worker.unref();
    });
    const dead = (e: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      // what it held died with it
      if (this.held > 0) this.lost(this.held);
      this.held = 0;
      for (const w of this.#waiting.splice(0)) w.reject(e);
    };
    worker.on("error", dead);
    worker.on("exit", (code) => dead(new Error(`the decision log worker exited (${code})`)));
    this.#worker = worker;
    // a replacement starts where the store is; its answer is awaited like any other
    if (this.#committed.size > 0) {
      this.#waiting.push({ resolve: () => undefined, reject: () => undefined });
      worker.postMessage({ kind: "reset", state: this.#committed } satisfies WorkerRequest);
    }
    return worker;
  }
}

function describe(a: WorkerAnswer): string {
  return a.kind === "failed" ? a.message : `unexpected answer \`${a.kind}\``;
}

/** The store document holding a decision log's saved frontier and the checkpoint vouching for it. */
export function frontierDoc(log: string): string {
  return `decision-logs/${log}.frontier`;
}

async function writeFrontier(
  store: Store,
  log: string,
  state: FrontierState,
  note: string,
): Promise<void> {
  const doc = {
    size: state.size,
    heights: state.heights,
    roots: state.roots.map((r) => Buffer.from(r).toString("base64")),
    checkpoint: note,
  };
  await store.writeDoc(frontierDoc(log), Buffer.from(JSON.stringify(doc)));
}

// the saved frontier, only when the log's checkpoint, signed by this PDP's key, commits to
// exactly its size and root; anything else is no saved frontier
async function readFrontier(
  store: Store,
  log: string,
  vkey: string,
  origin: string,
): Promise<FrontierState | undefined> {
  try {
    const bytes = await store.readDoc(frontierDoc(log));
    if (!bytes) return undefined;
    const doc = JSON.parse(bytes.toString("utf8")) as {
      size: number;
      heights: number[];
      roots: string[];
      checkpoint: string;
    };
    const state: FrontierState = {
      size: doc.size,
      heights: doc.heights,
      roots: doc.roots.map((r) => Buffer.from(r, "base64")),
    };
    const frontier = MerkleFrontier.restore(state);
    const cp = verifyCheckpoint(doc.checkpoint, vkey, origin);
    if (cp.size !== frontier.size || !hashEqual(cp.root, frontier.root())) return undefined;
    return state;
  } catch {
    return undefined;
  }
}

/**
 * One decision as a log line: a LoggedDecision in JSON, fields in its declared order. The
 * response's own JSON, when the route already made it, goes in as it is.
 */
export function entryLine(
  response: DecisionResponse,
  request: DecisionRequest,
  json = JSON.stringify(response),
): string {
  const input = JSON.stringify(request.input);
  // an input JSON cannot represent (undefined, a function) has no line: the caller counts a drop
  if (input === undefined) throw new TypeError("the input has no JSON form");
  // the head written out field by field (it is on every request's path); strings that might
  // need escaping go through JSON.stringify
  let head = `{"id":${JSON.stringify(response.id)},"time":${JSON.stringify(response.time)},"env":${JSON.stringify(response.env)},"version":${response.version},"bundle":${JSON.stringify(response.bundle ?? "")}`;
  if (request.policies !== undefined) head += `,"policies":${JSON.stringify(request.policies)}`;
  if (request.subject !== undefined) head += `,"subject":${JSON.stringify(request.subject)}`;
  return `${head},"input":${input},"decision":${json}}`;
}
