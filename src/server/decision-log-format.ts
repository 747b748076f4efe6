import { createPublicKey, type Hash, type KeyObject } from "node:crypto";
import { SteleError } from "../errors.js";
import {
  type Checkpoint,
  type FrontierState,
  hashEqual,
  type LedgerKey,
  leafHasher,
  MerkleFrontier,
  signCheckpoint,
  verifyCheckpoint,
} from "../ledger/index.js";
import type { Store, StoredCheckpoint } from "../store/index.js";
import { pdpKeyName } from "./identity.js";

// The decision log's format in the store. Each batch of decisions is one leaf of the log's Merkle
// tree: SHA-256(0x00 ‖ its lines joined by newlines). A checkpoint, signed with the decision
// point's key, ends every batch: its size counts decisions, its root is the tree of the batches
// so far, so the stored checkpoints are the batches' bounds. A checkpoint with the extension line
// UNVOUCHED ends a batch its signer found in the store and did not write (entries left past the
// last checkpoint by a decision point stopped before it could sign them, or written by someone
// else): it keeps the tree whole, and says those decisions are not vouched for. Logs written
// before this format carry the origin `stele.dev/decisions/NAME` and one leaf per decision.

/** The store document holding a decision log's verifier key (`name+hash+key`). */
export function logKeyDoc(log: string): string {
  return `decision-logs/${log}.vkey`;
}

/** The store document holding a decision log's saved frontier and the checkpoint vouching for it. */
export function frontierDoc(log: string): string {
  return `decision-logs/${log}.frontier`;
}

/** The log a `logKeyDoc` or `frontierDoc` name is of; undefined for any other name. */
export function logOfDoc(doc: string): string | undefined {
  return /^decision-logs\/(.+)\.(?:vkey|frontier)$/.exec(doc)?.[1];
}

/** A saved frontier as `writeFrontier` writes it (decision-log-sealer.ts). */
export interface FrontierDoc {
  readonly state: FrontierState;
  /** The checkpoint its decision point signed at the frontier's size. */
  readonly checkpoint: string;
}

/** The bytes of a `frontierDoc` read back: undefined when they are not one, of its types. */
export function readFrontierDoc(bytes: Uint8Array): FrontierDoc | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return undefined;
  }
  const { size, heights, roots, checkpoint } = (doc ?? {}) as Record<string, unknown>;
  const numbers = (x: unknown): x is number[] =>
    Array.isArray(x) && x.every((n) => Number.isSafeInteger(n) && n >= 0);
  if (
    !(Number.isSafeInteger(size) && (size as number) >= 0) ||
    !numbers(heights) ||
    !(Array.isArray(roots) && roots.every((r) => typeof r === "string")) ||
    typeof checkpoint !== "string"
  )
    return undefined;
  return {
    state: {
      size: size as number,
      heights,
      roots: roots.map((r: string) => Buffer.from(r, "base64")),
    },
    checkpoint,
  };
}

/** The origin of a decision log's checkpoints. */
export function decisionLogOrigin(log: string): string {
  return `stele.dev/decision-batches/${log}`;
}

/**
 * What a decision point signs its log's checkpoints with: its key, under the name it keeps in
 * either format (identity.ts), for the origin of the batch format.
 */
export function logSigningKey(log: string, privateKey: KeyObject): LedgerKey {
  return {
    origin: decisionLogOrigin(log),
    name: pdpKeyName(log),
    privateKey,
    publicKey: createPublicKey(privateKey),
  };
}

/** The origin of a log's checkpoints in the format before batches: one leaf per decision. */
export function legacyDecisionLogOrigin(log: string): string {
  return `stele.dev/decisions/${log}`;
}

/**
 * A checkpoint of the decision log `log` verified with its key, in either format (batches, or
 * one leaf per decision before them); whether it is in the format before batches.
 */
export function verifyLogCheckpoint(
  note: string,
  vkey: string,
  log: string,
): { checkpoint: Checkpoint; legacy: boolean } {
  const legacy = note.startsWith(`${legacyDecisionLogOrigin(log)}\n`);
  const origin = legacy ? legacyDecisionLogOrigin(log) : decisionLogOrigin(log);
  return { checkpoint: verifyCheckpoint(note, vkey, origin), legacy };
}

/**
 * What the store holds of a decision log at a size its decision point signed: its checkpoint
 * for that size, if any, and how many decisions the log holds (the callers judge the two).
 */
export async function storedAt(
  store: Store,
  log: string,
  size: number,
): Promise<{ stored: StoredCheckpoint | undefined; held: number }> {
  const [stored] = await store.logCheckpointsAt(log, [size]);
  return { stored, held: await store.logSize(log) };
}

/** The extension line of a checkpoint whose last batch its signer does not vouch for. */
export const UNVOUCHED = "stele: last batch not vouched for";

/**
 * The extension line of a checkpoint saying how many batches (leaves) its tree has: a saved
 * frontier of another shape with the same root is refused by it (decision-log.ts).
 */
export const BATCHES = "stele: batches ";

/** A checkpoint note for `size` decisions whose tree of `batches` batches has `root`. */
export function signBatches(
  key: LedgerKey,
  root: Uint8Array,
  size: number,
  batches: number,
  vouched = true,
): string {
  const cp: Checkpoint = {
    origin: key.origin,
    size,
    root,
    extensions: [`${BATCHES}${batches}`, ...(vouched ? [] : [UNVOUCHED])],
  };
  return signCheckpoint(cp, key.privateKey, key.name);
}

/** How many batches a checkpoint says its tree has; undefined for one signed before it said. */
export function batchCount(cp: Checkpoint): number | undefined {
  // one well-formed line; two, or one without its number, say no count at all (NaN)
  const lines = cp.extensions.filter((e) => e.startsWith(BATCHES.trimEnd()));
  const [line] = lines;
  if (line === undefined) return undefined;
  if (lines.length > 1) return Number.NaN;
  const n = line.slice(BATCHES.length);
  return /^(0|[1-9]\d{0,15})$/.test(n) ? Number(n) : Number.NaN;
}

/** Entries joined by newlines: one batch, as it is hashed (one leaf) and stored. */
export function joinLines(entries: readonly Uint8Array[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const [i, e] of entries.entries()) {
    if (i > 0) parts.push(NEWLINE);
    parts.push(e);
  }
  return Buffer.concat(parts);
}

const NEWLINE = Uint8Array.of(0x0a);
// checkpoints read at a time: a busy log has one for every batch
const CHECKPOINT_PAGE = 1024;

const unmatched = (size: number) =>
  new SteleError("ledger.tampered", `the first ${size} decisions do not match their checkpoint`, {
    hint: "a logged decision was edited, deleted or reordered, or a checkpoint removed",
  });

/** How far a log check went, what its checkpoints prove, and where it stopped. */
export interface LogCheck {
  readonly checkpoints: number;
  /** Decisions under the last checkpoint. */
  readonly covered: number;
  /** Decisions under a checkpoint that does not vouch for them (UNVOUCHED). */
  readonly unvouched: number;
  /** Entries read (from 0, or from where the check started). */
  readonly entries: number;
  /** The batches' tree of the first `covered` decisions. */
  readonly state: FrontierState;
  /** The entries past the last checkpoint (at most `keepTail` + 1 of them). */
  readonly tail: readonly Buffer[];
  /** The last checkpoint checked. */
  readonly last?: StoredCheckpoint;
  /** The first thing that does not hold; `index` when it is an entry. */
  readonly problem?: { readonly error: SteleError; readonly index?: number };
}

export interface LogCheckOptions {
  /** A saved frontier to start from: the tree of the log's first `size` decisions. */
  readonly from?: { readonly state: FrontierState; readonly size: number };
  /** Looks at each entry (with its index) as it is read; throwing a SteleError fails there. */
  readonly entry?: (bytes: Buffer, index: number) => void;
  /** Keeps up to this many (and one more) of the entries past the last checkpoint. */
  readonly keepTail?: number;
  /**
   * Asked after each checkpoint, with the decisions it covers and whether it vouches for its
   * last batch: true stops the check there.
   */
  readonly enough?: (covered: number, vouched: boolean) => boolean;
}

/**
 * Checks a stored log against its checkpoints as it reads it, a run of entries at a time, so a
 * log larger than memory is checked in little: every checkpoint (by increasing size) is signed
 * by `vkey` for this log and commits to exactly the tree of the entries under it, each span
 * between two checkpoints one leaf (or, in the format before batches, one leaf a decision);
 * each checkpoint is checked against the same tree, so each extends the one before. From a
 * saved frontier, only the entries and checkpoints after it are read. Stops at the first thing
 * that does not hold (`problem`): an entry `entry` refuses, a checkpoint that does not match,
 * a checkpoint past the log's end. Errors of the store other than its SteleErrors are thrown.
 */
export async function checkStoredLog(
  store: Store,
  log: string,
  vkey: string,
  options: LogCheckOptions = {},
): Promise<LogCheck> {
  const start = options.from?.size ?? 0;
  const batches = options.from ? MerkleFrontier.restore(options.from.state) : new MerkleFrontier();
  // the tree of one leaf a decision, for checkpoints of the format before batches: kept until
  // the first checkpoint in batches (a log continued in batches never goes back)
  let perDecision: MerkleFrontier | undefined = options.from ? undefined : new MerkleFrontier();
  let batch: Hash | undefined; // the open batch's leaf hash, once it has an entry
  let at = start;
  let checkpoints = 0;
  let covered = start;
  let unvouched = 0;
  let tail: Buffer[] = [];
  let last: StoredCheckpoint | undefined;
  const progress = () => ({
    entries: at - start,
    checkpoints,
    covered,
    unvouched,
    state: batches.snapshot(),
    tail,
    ...(last && { last }),
  });
  // the checkpoints, a page at a time; past a saved frontier only those after it, and only
  // those stored when the check began: one stored since may end a batch written after the
  // entries were listed (a decision point appending meanwhile), which this check does not claim
  const after = options.from ? start + 1 : 0;
  const sizes = (await store.logCheckpointSizes(log)).filter((size) => size >= after);
  let page: StoredCheckpoint[] = [];
  let next = 0;
  let read = 0;
  const nextCheckpoint = async (): Promise<StoredCheckpoint | undefined> => {
    if (next >= page.length && read < sizes.length) {
      page = await store.logCheckpointsAt(log, sizes.slice(read, read + CHECKPOINT_PAGE));
      read += CHECKPOINT_PAGE;
      next = 0;
    }
    return page[next++];
  };
  // the checkpoint at the log's current size: ends the open batch; whether it vouches for it
  const seal = ({ size, note }: StoredCheckpoint): boolean => {
    const { checkpoint: cp, legacy } = verifyLogCheckpoint(note, vkey, log);
    if (batch) batches.appendLeafHash(batch.digest());
    batch = undefined;
    if (!legacy) perDecision = undefined;
    const tree = legacy ? perDecision : batches;
    // (named by the size its note says, as `stele decisions verify` always has)
    if (!tree || cp.size !== size || !hashEqual(cp.root, tree.root())) throw unmatched(cp.size);
    // where it says how many batches its tree has, that many
    const count = legacy ? undefined : batchCount(cp);
    if (count !== undefined && count !== batches.size) throw unmatched(cp.size);
    const vouched = legacy || !cp.extensions.includes(UNVOUCHED);
    if (!vouched) unvouched += size - covered;
    checkpoints++;
    covered = size;
    tail = [];
    last = { size, note };
    return vouched;
  };
  let index: number | undefined;
  try {
    let cp = await nextCheckpoint();
    // a checkpoint of the empty log
    if (cp && cp.size === at) {
      seal(cp);
      cp = await nextCheckpoint();
    }
    for await (const run of store.scanLog(log, start)) {
      for (const entry of run) {
        index = at;
        options.entry?.(entry, at);
        index = undefined;
        if (batch) batch.update(NEWLINE);
        else batch = leafHasher();
        batch.update(entry);
        perDecision?.append(entry);
        if (tail.length <= (options.keepTail ?? -1)) tail.push(entry);
        at++;
        if (cp && at === cp.size) {
          const vouched = seal(cp);
          if (options.enough?.(covered, vouched)) return progress();
          cp = await nextCheckpoint();
          // one checkpoint per size, by increasing size: one behind is not this log's
          if (cp && cp.size <= at) throw unmatched(cp.size);
        }
      }
    }
    // a checkpoint past the log's end: its decisions are gone
    if (cp) throw unmatched(cp.size);
    return progress();
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    return { ...progress(), problem: { error: e, ...(index !== undefined && { index }) } };
  }
}
