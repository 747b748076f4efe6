import { SteleError } from "../errors.js";
import {
  type Checkpoint,
  type FrontierState,
  hashEqual,
  type LedgerKey,
  MerkleFrontier,
  MerkleTree,
  requireConsistent,
  signCheckpoint,
  verifyCheckpoint,
} from "../ledger/index.js";
import type { StoredCheckpoint } from "../store/index.js";

// The decision log's format in the store. Each batch of decisions is one leaf of the log's Merkle
// tree: SHA-256(0x00 ‖ its lines joined by newlines). A checkpoint, signed with the decision
// point's key, ends every batch: its size counts decisions, its root is the tree of the batches
// so far, so the stored checkpoints are the batches' bounds. A checkpoint with the extension line
// UNVOUCHED ends a batch its signer found in the store and did not write (entries left past the
// last checkpoint by a decision point stopped before it could sign them, or written by someone
// else): it keeps the tree whole, and says those decisions are not vouched for. Logs written
// before this format carry the origin `stele.dev/decisions/NAME` and one leaf per decision.

/** The origin of a decision log's checkpoints. */
export function decisionLogOrigin(log: string): string {
  return `stele.dev/decision-batches/${log}`;
}

/** The origin of a log's checkpoints in the format before batches: one leaf per decision. */
export function legacyDecisionLogOrigin(log: string): string {
  return `stele.dev/decisions/${log}`;
}

/** The extension line of a checkpoint whose last batch its signer does not vouch for. */
export const UNVOUCHED = "stele: last batch not vouched for";

/** A checkpoint note for `size` decisions whose batches' tree has `root`. */
export function signBatches(
  key: LedgerKey,
  root: Uint8Array,
  size: number,
  vouched = true,
): string {
  const cp: Checkpoint = {
    origin: key.origin,
    size,
    root,
    extensions: vouched ? [] : [UNVOUCHED],
  };
  return signCheckpoint(cp, key.privateKey, key.name);
}

/**
 * A log's entries as its batches, each its entries joined by newlines: the spans between the
 * checkpoint sizes given, then whatever follows the last.
 */
export function batchesOf(entries: readonly Uint8Array[], sizes: readonly number[]): Buffer[] {
  const batches: Buffer[] = [];
  let start = 0;
  const join = (end: number) => {
    const parts: Uint8Array[] = [];
    for (let i = start; i < end; i++) {
      if (i > start) parts.push(NEWLINE);
      parts.push(entries[i] as Uint8Array);
    }
    batches.push(Buffer.concat(parts));
    start = end;
  };
  for (const size of sizes) if (size > start && size <= entries.length) join(size);
  if (entries.length > start) join(entries.length);
  return batches;
}

const NEWLINE = Uint8Array.of(0x0a);

/**
 * A saved frontier (the tree of a log's first `from` decisions, its leaves batches) extended by
 * the batches stored after it, each checked against the checkpoint that ends it: signed by `vkey`
 * for this log, its root the frontier's with the batch appended. `entries` are the decisions from
 * `from` on, `after` the checkpoints past `from` by increasing size. Returns the frontier and how
 * many of `entries` a checkpoint covers (what follows is a batch no checkpoint ends). Throws
 * `ledger.tampered` at the first batch that is not what its checkpoint says.
 */
export function extendChecked(
  log: string,
  state: FrontierState,
  from: number,
  entries: readonly Uint8Array[],
  after: readonly StoredCheckpoint[],
  vkey: string,
): { state: FrontierState; covered: number } {
  const frontier = MerkleFrontier.restore(state);
  const batches = batchesOf(
    entries,
    after.map((c) => c.size - from),
  );
  let covered = 0;
  for (const [i, { size, note }] of after.entries()) {
    // a bad signature or another log's checkpoint fails as checkLog's do
    const cp = verifyCheckpoint(note, vkey, decisionLogOrigin(log));
    const batch = batches[i];
    if (cp.size !== size || size - from <= covered || size - from > entries.length || !batch)
      throw unmatched(size);
    frontier.append(batch);
    if (!hashEqual(cp.root, frontier.root())) throw unmatched(size);
    covered = size - from;
  }
  return { state: frontier.snapshot(), covered };
}

const unmatched = (size: number) =>
  new SteleError("ledger.tampered", `the first ${size} decisions do not match their checkpoint`, {
    hint: "a logged decision was edited, deleted or reordered, or a checkpoint removed",
  });

/** What a log's checkpoints prove of its entries. */
export interface CheckedLog {
  readonly checkpoints: number;
  /** Decisions under the last checkpoint. */
  readonly covered: number;
  /** Decisions under a checkpoint that does not vouch for them (UNVOUCHED). */
  readonly unvouched: number;
}

/**
 * Checks every stored checkpoint of a log (by increasing size) against its entries: signed by
 * `vkey` for this log, committing to exactly the entries' tree at its size, each extending the
 * one before in the same format. Throws `ledger.tampered` (or a bad signature or checkpoint) at
 * the first that does not hold.
 */
export function checkLog(
  log: string,
  entries: readonly Uint8Array[],
  stored: readonly StoredCheckpoint[],
  vkey: string,
): CheckedLog {
  // the batches' tree: each span between two checkpoints one leaf; and, for checkpoints of the
  // format before batches, the tree of one leaf per decision (made only if needed)
  const all = new MerkleTree();
  for (const batch of batchesOf(
    entries,
    stored.map((c) => c.size),
  ))
    all.append(batch);
  let perDecision: MerkleTree | undefined;
  let previous: { cp: Checkpoint; leaves: number; legacy: boolean } | undefined;
  let boundaries = 0;
  let checkpoints = 0;
  let covered = 0;
  let unvouched = 0;
  for (const { size, note } of stored) {
    if (size > 0 && size <= entries.length) boundaries++;
    const legacy = note.startsWith(`${legacyDecisionLogOrigin(log)}\n`);
    const cp = verifyCheckpoint(
      note,
      vkey,
      legacy ? legacyDecisionLogOrigin(log) : decisionLogOrigin(log),
    );
    let tree = all;
    let leaves = boundaries;
    if (legacy) {
      perDecision ??= treeOf(entries);
      tree = perDecision;
      leaves = cp.size;
    }
    if (cp.size !== size || cp.size > entries.length || !hashEqual(cp.root, tree.root(leaves)))
      throw unmatched(cp.size);
    // each checkpoint extends the one before in the same format (the tree's sizes in leaves)
    if (previous && previous.legacy === legacy) {
      const before = { ...previous.cp, size: previous.leaves };
      requireConsistent(
        before,
        { ...cp, size: leaves },
        before.size === 0 || before.size >= leaves
          ? []
          : tree.consistencyProof(before.size, leaves),
      );
    }
    if (!legacy && cp.extensions.includes(UNVOUCHED)) unvouched += cp.size - covered;
    previous = { cp, leaves, legacy };
    checkpoints++;
    covered = cp.size;
  }
  return { checkpoints, covered, unvouched };
}

function treeOf(leaves: readonly Uint8Array[]): MerkleTree {
  const tree = new MerkleTree();
  for (const leaf of leaves) tree.append(leaf);
  return tree;
}
