import { createPublicKey, type KeyObject } from "node:crypto";
import type { DecisionRequest } from "../engine/index.js";
import { type LedgerKey, MerkleFrontier, signRoot } from "../ledger/index.js";
import type { Store } from "../store/index.js";
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
  // the log's proofs are made by whoever reads it back: here only its root is needed
  readonly #tree = new MerkleFrontier();
  readonly #timer: NodeJS.Timeout;
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
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs);
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
        sample: options.sample ?? 1,
      },
    );
    await store.writeDoc(logKeyDoc(name), Buffer.from(key.vkey));
    for (const entry of await store.readLog(name)) log.#tree.append(entry);
    log.#size = log.#tree.size;
    return log;
  }

  /** Queues one decision; never blocks a request and never throws. */
  record(response: DecisionResponse, request: DecisionRequest, json?: string): void {
    if (this.options.sample < 1 && Math.random() >= this.options.sample) {
      this.#sampledOut++;
      return;
    }
    if (this.#queue.length >= this.options.maxQueue) {
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
    return this.#queue.length;
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
    await this.flush();
    if (this.#queue.length > 0) await this.flush();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.options.maxBatch);
      const bytes: Buffer[] = [];
      for (let i = 0; i < batch.length; i++) {
        bytes.push(Buffer.from(batch[i] as string, "utf8"));
        if (i % SLICE === SLICE - 1) await yieldToRequests();
      }
      try {
        await this.store.appendLogBatch(this.name, this.#size, bytes);
      } catch {
        // the store failed: these decisions are lost, and counted as such
        this.metrics.decisionLogDrops.inc(batch.length);
        continue;
      }
      // hashing a batch is milliseconds of work: in slices, so no request waits behind all of it
      for (let i = 0; i < bytes.length; i++) {
        this.#tree.append(bytes[i] as Buffer);
        if (i % SLICE === SLICE - 1) await yieldToRequests();
      }
      this.#size += batch.length;
      this.metrics.decisionLogAppended.inc(batch.length);
      await this.store.putLogCheckpoint(this.name, {
        size: this.#size,
        note: signRoot(this.#tree.root(), this.#size, this.key),
      });
    }
  }
}

// entries converted or hashed between two looks at the sockets
const SLICE = 128;
const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * One decision as a log line: a LoggedDecision in JSON, fields in its declared order. The
 * response's own JSON, when the route already made it, goes in as it is.
 */
export function entryLine(
  response: DecisionResponse,
  request: DecisionRequest,
  json = JSON.stringify(response),
): string {
  const head: Omit<LoggedDecision, "input" | "decision"> = {
    id: response.id,
    time: response.time,
    env: response.env,
    version: response.version,
    bundle: response.bundle ?? "",
    ...(request.policies !== undefined && { policies: request.policies }),
    ...(request.subject !== undefined && { subject: request.subject }),
  };
  const input = JSON.stringify(request.input);
  // an input JSON cannot represent (undefined, a function) has no line: the caller counts a drop
  if (input === undefined) throw new TypeError("the input has no JSON form");
  return `${JSON.stringify(head).slice(0, -1)},"input":${input},"decision":${json}}`;
}
