import { Worker } from "node:worker_threads";
import {
  type FrontierState,
  hashEqual,
  MerkleFrontier,
  verifyCheckpoint,
} from "../ledger/index.js";
import type { Store } from "../store/index.js";
import type { WorkerAnswer, WorkerRequest } from "./decision-log-worker.js";

// the decision log's side of its worker thread (decision-log-worker.ts), and the saved frontier
// a restart continues from

export type Sealed = Extract<WorkerAnswer, { kind: "sealed" }>;

/** A sealed batch, and which worker sealed it. */
export interface Sealing {
  readonly answer: Sealed;
  readonly generation: number;
}

// the decision log's side of its worker: one request at a time, answers in order. It counts the
// lines the worker holds; a worker that dies takes them with it (counted lost through `lost`) and
// is replaced from the last frontier whose entries the store took
export class Sealer {
  #worker: Worker | undefined;
  readonly #waiting: { resolve: (a: WorkerAnswer) => void; reject: (e: Error) => void }[] = [];
  #committed: FrontierState = { size: 0, roots: [], heights: [] };
  /** Workers started so far. */
  generation = 0;
  /** Lines handed to the current worker and not sealed yet. */
  held = 0;

  constructor(private readonly lost: (n: number) => void) {}

  /** Starts from a saved frontier; returns the log's size. */
  restore(state: FrontierState): Promise<number> {
    return this.#begin({ kind: "reset", state });
  }

  /** Hashes what the store already holds; returns the log's size. */
  load(entries: readonly Uint8Array[]): Promise<number> {
    return this.#begin({ kind: "load", entries });
  }

  // the worker's frontier set by `request`, and committed
  async #begin(request: WorkerRequest & { kind: "reset" | "load" }): Promise<number> {
    const a = await this.#ask(request);
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

// the saved frontier, only when the log's checkpoint, signed by this PDP's key, commits to
// exactly its size and root; anything else is no saved frontier
export async function readFrontier(
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
