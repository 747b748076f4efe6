// the decision log's worker thread: turns queued log lines into entry bytes and hashes them into
// the log's Merkle frontier, so the thread that answers requests never hashes (decision-log.ts)
import { parentPort } from "node:worker_threads";
import { type FrontierState, leafHashPrefixed, MerkleFrontier } from "../ledger/index.js";

/** What the decision log asks of its worker. */
export type WorkerRequest =
  | { readonly kind: "reset"; readonly state: FrontierState }
  | { readonly kind: "load"; readonly entries: readonly Uint8Array[] }
  /** Holds lines until they are sealed; no answer. */
  | { readonly kind: "queue"; readonly lines: readonly string[] }
  /** Seals up to `max` held lines. */
  | { readonly kind: "seal"; readonly max: number }
  /** Drops every held line (they were counted lost). */
  | { readonly kind: "discard" }
  /** A batch buffer the store is done with, back for reuse; no answer. */
  | { readonly kind: "recycle"; readonly buffer: ArrayBuffer };

/** What the worker answers, one answer per request, in order. */
export type WorkerAnswer =
  | { readonly kind: "state"; readonly state: FrontierState }
  | {
      readonly kind: "sealed";
      /** The entries, one after another (its own buffer, transferred). */
      readonly bytes: Uint8Array;
      /** Where each entry ends in `bytes`. */
      readonly ends: Uint32Array;
      readonly root: Uint8Array;
      /** The frontier with these entries appended. */
      readonly state: FrontierState;
    }
  | { readonly kind: "failed"; readonly message: string };

let frontier = new MerkleFrontier();
const encoder = new TextEncoder();
// lines handed over and not sealed yet: they wait here, not on the request thread's heap
let held: string[] = [];
// batch buffers handed back: reused, so the request thread does not see fresh memory arrive
// with every batch (which makes its collector run full collections)
const pool: ArrayBuffer[] = [];

function answer(
  request: WorkerRequest,
): { answer: WorkerAnswer; transfer: ArrayBuffer[] } | undefined {
  switch (request.kind) {
    case "queue":
      for (const line of request.lines) held.push(line);
      return undefined;
    case "discard":
      held = [];
      return undefined;
    case "recycle":
      if (pool.length < 4) pool.push(request.buffer);
      return undefined;
    case "reset":
      frontier = MerkleFrontier.restore(request.state);
      return { answer: { kind: "state", state: frontier.snapshot() }, transfer: [] };
    case "load":
      frontier = new MerkleFrontier();
      for (const e of request.entries) frontier.append(e);
      return { answer: { kind: "state", state: frontier.snapshot() }, transfer: [] };
    case "seal": {
      const lines = held.splice(0, request.max);
      // invariant: a line is JSON text, so it holds no raw newline and encodes losslessly.
      // Each entry is preceded by one byte (a spare one, then the newlines between entries):
      // set to the leaf prefix 0x00 for a moment, the entry is hashed where it lies, uncopied
      const text = `\n${lines.join("\n")}`;
      const size = Buffer.byteLength(text, "utf8");
      let buffer = pool.pop();
      if (buffer === undefined || buffer.byteLength < size)
        buffer = new ArrayBuffer(Math.max(size, Math.ceil((buffer?.byteLength ?? 0) * 1.5)));
      const all = new Uint8Array(buffer, 0, size);
      encoder.encodeInto(text, all);
      const bytes = all.subarray(1);
      const ends = new Uint32Array(lines.length);
      let start = 0;
      for (let i = 0; i < ends.length; i++) {
        const end = i + 1 < ends.length ? bytes.indexOf(0x0a, start) : bytes.length;
        all[start] = 0x00;
        frontier.appendLeafHash(leafHashPrefixed(all.subarray(start, end + 1)));
        all[start] = 0x0a;
        ends[i] = end;
        start = end + 1;
      }
      const sealed: WorkerAnswer = {
        kind: "sealed",
        bytes,
        ends,
        root: frontier.root(),
        state: frontier.snapshot(),
      };
      return { answer: sealed, transfer: [bytes.buffer as ArrayBuffer] };
    }
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
