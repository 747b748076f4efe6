import { Worker } from "node:worker_threads";
import {
  type FrontierState,
  hashEqual,
  MerkleFrontier,
  verifyCheckpoint,
} from "../ledger/index.js";
import type { Store } from "../store/index.js";
import { batchCount, frontierDoc, readFrontierDoc } from "./decision-log-format.js";
import type { WorkerAnswer, WorkerData, WorkerRequest } from "./decision-log-worker.js";
import { EntryRing } from "./decision-ring.js";

// the decision log's side of its worker thread (decision-log-worker.ts), and the saved frontier
// a restart continues from

export type Sealed = Extract<WorkerAnswer, { kind: "sealed" }>;

/** A sealed batch, and which worker sealed it. */
export interface Sealing {
  readonly answer: Sealed;
  readonly generation: number;
}

// workers that may die in a row on the same entries before those are counted lost
const MAX_DEATHS = 3;

// the decision log's side of its worker: one request at a time, answers in order. Entries wait
// in the shared ring until a worker has copied them into a sealed batch; a worker that dies
// leaves them there, and its replacement starts from the last frontier the store took
export class Sealer {
  #worker: Worker | undefined;
  readonly #waiting: { resolve: (a: WorkerAnswer) => void; reject: (e: Error) => void }[] = [];
  #committed: FrontierState = { size: 0, roots: [], heights: [] };
  readonly #ring: EntryRing;
  // workers that died in a row while sealing
  #deaths = 0;
  /** Workers started so far. */
  generation = 0;

  constructor(
    ringBytes: number,
    private readonly lost: (n: number) => void,
    private readonly maxBatch: number,
  ) {
    this.#ring = new EntryRing(ringBytes);
  }

  /** Entries queued and not sealed yet. */
  get held(): number {
    return this.#ring.count;
  }

  /** The queue the request thread writes entries into (EntryRing). */
  get ring(): EntryRing {
    return this.#ring;
  }

  /** Starts from a saved frontier. */
  async restore(state: FrontierState): Promise<void> {
    await this.#begin({ kind: "reset", state });
  }

  // the worker's frontier set by `request`, and committed
  async #begin(request: WorkerRequest & { kind: "reset" }): Promise<FrontierState> {
    const a = await this.#ask(request);
    if (a.kind !== "state") throw new Error(`the decision log worker failed: ${describe(a)}`);
    this.#committed = a.state;
    return a.state;
  }

  /**
   * The entry bytes of up to `max` queued entries, and the root with them appended (not
   * committed). Sealed entries leave the ring: from here on they are written or counted lost.
   */
  async seal(max: number): Promise<Sealing> {
    const generation = this.generation;
    let a: WorkerAnswer;
    try {
      this.#ring.publish();
      a = await this.#ask({ kind: "seal", read: this.#ring.read, max });
    } catch (e) {
      // the worker died: its replacement seals the same entries, but a batch that kills every
      // worker (or workers that cannot start) must not be tried for ever: lost, and counted
      if (++this.#deaths >= MAX_DEATHS) this.discard();
      throw e;
    }
    this.#deaths = 0;
    if (a.kind !== "sealed" || a.ends.length === 0) {
      // a worker that cannot seal what is queued (it would fail again): lost, and counted
      this.discard();
      throw new Error(`the decision log worker failed: ${describe(a)}`);
    }
    this.#ring.free(a.next, a.ends.length);
    return { answer: a, generation };
  }

  /** Hands a sealed batch's buffer back to the worker once the store is done with it. */
  recycle(sealing: Sealing): void {
    const buffer = sealing.answer.bytes.buffer as ArrayBuffer;
    if (sealing.generation !== this.generation || !this.#worker) return;
    this.#worker.postMessage({ kind: "recycle", buffer } satisfies WorkerRequest, [buffer]);
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

  /** Stops the worker; entries still queued are counted lost, and answers owed never come. */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    for (const waiting of this.#waiting.splice(0))
      waiting.reject(new Error("the decision log is closed"));
    this.discard();
    await w?.terminate();
  }

  /** Drops every entry queued, counted lost. */
  discard(): void {
    const n = this.#ring.clear();
    if (n > 0) this.lost(n);
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
    const worker = new Worker(new URL("./decision-log-worker.js", import.meta.url), {
      workerData: { ring: this.#ring.shared, maxBatch: this.maxBatch } satisfies WorkerData,
    });
    this.generation += 1;
    worker.unref();
    worker.on("message", (a: WorkerAnswer) => {
      this.#waiting.shift()?.resolve(a);
      if (this.#waiting.length === 0) worker.unref();
    });
    const dead = (e: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      // the entries it was sealing are still in the ring: the next worker seals them
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

export async function writeFrontier(
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

// the saved frontier (its leaves are batches) and the log's size (in entries) it stands for, only
// when the log's checkpoint, signed by this PDP's key, commits to exactly its root; anything else
// is no saved frontier
export async function readFrontier(
  store: Store,
  log: string,
  vkey: string,
  origin: string,
): Promise<
  { state: FrontierState; entries: number; note: string; shapeSigned: boolean } | undefined
> {
  try {
    const bytes = await store.readDoc(frontierDoc(log));
    const doc = bytes && readFrontierDoc(bytes);
    if (!doc) return undefined;
    const frontier = MerkleFrontier.restore(doc.state);
    const cp = verifyCheckpoint(doc.checkpoint, vkey, origin);
    if (!hashEqual(cp.root, frontier.root())) return undefined;
    // a checkpoint that says how many batches its tree has vouches for the frontier's shape too
    const batches = batchCount(cp);
    if (batches !== undefined && batches !== frontier.size) return undefined;
    return {
      state: doc.state,
      entries: cp.size,
      note: doc.checkpoint,
      shapeSigned: batches !== undefined,
    };
  } catch {
    return undefined;
  }
}
