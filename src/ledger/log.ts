import type { KeyObject } from "node:crypto";
import type { Digest } from "../bundle/index.js";
import { SteleError } from "../errors.js";
import { type Checkpoint, signCheckpoint, verifyCheckpoint } from "./checkpoint.js";
import { hashEqual } from "./merkle.js";
import { approvalDigest, type Entry, parseEntry, type ReleaseRecord } from "./record.js";
import { MerkleTree } from "./tree.js";

/** A release record with its place in the ledger. */
export interface IndexedRecord {
  readonly index: number;
  readonly record: ReleaseRecord;
}

/** An approval envelope with its place in the ledger. */
export interface IndexedApproval {
  readonly index: number;
  readonly digest: Digest;
  readonly envelope: unknown;
}

/** The ledger read into memory: every entry parsed, the Merkle tree over them, and indexes. */
export interface LedgerView {
  readonly size: number;
  readonly tree: MerkleTree;
  readonly entries: readonly Entry[];
  readonly releases: readonly IndexedRecord[];
  readonly approvals: readonly IndexedApproval[];
}

/** Reads entry bytes into a view; throws `ledger.tampered` naming the first malformed entry. */
export function readLedger(entries: readonly Uint8Array[]): LedgerView {
  const tree = new MerkleTree();
  const parsed: Entry[] = [];
  const releases: IndexedRecord[] = [];
  const approvals: IndexedApproval[] = [];
  entries.forEach((bytes, index) => {
    const entry = parseEntry(bytes, index);
    tree.append(bytes);
    parsed.push(entry);
    if (entry.type === "stele.release/v1") releases.push({ index, record: entry });
    else
      approvals.push({ index, digest: approvalDigest(entry.envelope), envelope: entry.envelope });
  });
  return { size: entries.length, tree, entries: parsed, releases, approvals };
}

/** The latest release of an environment, or undefined before its first. */
export function latestRelease(
  view: LedgerView,
  env: string,
  before = view.size,
): IndexedRecord | undefined {
  for (let i = view.releases.length - 1; i >= 0; i--) {
    const r = view.releases[i];
    if (r && r.index < before && r.record.env === env) return r;
  }
  return undefined;
}

/** The ledger's identity and checkpoint key: origin line and the key that signs checkpoints. */
export interface LedgerKey {
  readonly origin: string;
  readonly name: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Signs a checkpoint of the view's current tree. */
export function checkpointOf(view: LedgerView, key: LedgerKey): string {
  return signTree(view.tree, view.size, key);
}

/** Signs a checkpoint of a tree at a size with a log key. */
export function signTree(tree: MerkleTree, size: number, key: LedgerKey): string {
  return signRoot(tree.root(size), size, key);
}

/** Signs a checkpoint of a tree given by its root hash at a size with a log key. */
export function signRoot(root: Uint8Array, size: number, key: LedgerKey): string {
  const cp: Checkpoint = { origin: key.origin, size, root, extensions: [] };
  return signCheckpoint(cp, key.privateKey, key.name);
}

/**
 * Verifies a stored checkpoint against the view: signed by the ledger key, for this origin, and
 * committing to exactly the root the entries give at its size. An edited, deleted or reordered
 * entry makes this fail.
 */
export function verifyStoredCheckpoint(
  view: LedgerView,
  note: string,
  verifier: string,
  origin: string,
): Checkpoint {
  const cp = verifyCheckpoint(note, verifier, origin);
  if (cp.size > view.size)
    throw new SteleError(
      "ledger.tampered",
      `checkpoint commits to ${cp.size} entries but the ledger holds ${view.size}`,
      { hint: "entries were deleted from the ledger; restore the store from a copy" },
    );
  if (!hashEqual(cp.root, view.tree.root(cp.size)))
    throw new SteleError(
      "ledger.tampered",
      `the ledger's first ${cp.size} entries do not match the checkpoint for that size`,
      { hint: "an entry was edited, deleted or reordered; restore the store from a copy" },
    );
  return cp;
}
