// the decision log's worker thread: turns queued log lines into entry bytes and hashes them into
// the log's Merkle frontier, so the thread that answers requests never hashes (decision-log.ts)
import { parentPort } from "node:worker_threads";
import { type FrontierState, MerkleFrontier } from "../ledger/index.js";

/** What the decision log asks of its worker. */
export type WorkerRequest =
  | { readonly kind: "reset"; readonly state: FrontierState }
  | { readonly kind: "load"; readonly entries: readonly Uint8Array[] }
  | { readonly kind: "seal"; readonly lines: readonly string[] };

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

function answer(request: WorkerRequest): { answer: WorkerAnswer; transfer: ArrayBuffer[] } {
  switch (request.kind) {
    case "reset":
      frontier = MerkleFrontier.restore(request.state);
      return { answer: { kind: "state", state: frontier.snapshot() }, transfer: [] };
    case "load":
      frontier = new MerkleFrontier();
      for (const e of request.entries) frontier.append(e);
      return { answer: { kind: "state", state: frontier.snapshot() }, transfer: [] };
    case "seal": {
      // invariant: a line is JSON text, so it holds no raw newline and encodes losslessly
      const bytes = encoder.encode(request.lines.join("\n"));
      const ends = new Uint32Array(request.lines.length);
      let start = 0;
      for (let i = 0; i < ends.length; i++) {
        const end = i + 1 < ends.length ? bytes.indexOf(0x0a, start) : bytes.length;
        frontier.append(bytes.subarray(start, end));
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
    const { answer: a, transfer } = answer(request);
    parentPort?.postMessage(a, transfer);
  } catch (e) {
    parentPort?.postMessage({ kind: "failed", message: String(e) } satisfies WorkerAnswer);
  }
});
