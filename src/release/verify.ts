import { diffSets } from "../diff/index.js";
import { SteleError } from "../errors.js";
import {
  type Checkpoint,
  checkReleaseGates,
  hashEqual,
  type LedgerView,
  parseEntry,
  type ReleaseRecord,
  readLedger,
  requireConsistent,
  verifyStoredCheckpoint,
  verifyWitness,
} from "../ledger/index.js";
import { ledgerVerifier, type Store, storedBundle } from "../store/index.js";
import { toEnvelope } from "../trust/index.js";

/** What `stele verify` found: everything checked, or the first bad entry. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly size: number;
  readonly releases: number;
  readonly approvals: number;
  readonly checkpoints: number;
  /** Entries after the latest checkpoint (an interrupted release leaves some). */
  readonly uncovered: number;
  /** The latest checkpoint note verified, for the caller to remember as a witness. */
  readonly checkpoint: string | undefined;
  readonly problem?: {
    readonly index?: number;
    readonly code: string;
    readonly message: string;
    readonly hint?: string;
  };
}

/**
 * Verifies the whole ledger: every entry parses, every checkpoint is signed by the store's key
 * and commits to exactly these entries, each extends the one before (and the witness the caller
 * saw last), and every release record passes every gate under the config in force at its time,
 * with its bundle's digest and its recorded class re-derived.
 */
export async function verifyLedger(
  store: Store,
  options: { witness?: string } = {},
): Promise<VerifyReport> {
  const size = await store.ledgerSize();
  const none = {
    size,
    releases: 0,
    approvals: 0,
    checkpoints: 0,
    uncovered: 0,
    checkpoint: undefined,
  };
  let entries: Buffer[];
  try {
    entries = await store.readEntries(0, size);
  } catch (e) {
    if (!(e instanceof SteleError) || e.code !== "store.corrupt") return failed(none, e);
    // entries are contiguous from 0: name the first one that was deleted
    let index = 0;
    const present = (i: number) =>
      store.readEntries(i, i + 1).then(
        () => true,
        () => false,
      );
    while (index < size && (await present(index))) index++;
    return failed(
      none,
      new SteleError("ledger.tampered", `ledger entry ${index} is missing`, {
        hint: "entries are never deleted; restore the store from a copy",
      }),
      index,
    );
  }
  let view: LedgerView;
  try {
    view = readLedger(entries);
  } catch (e) {
    return failed(none, e, firstMalformed(entries));
  }
  const base = {
    size: view.size,
    releases: view.releases.length,
    approvals: view.approvals.length,
    checkpoints: 0,
    uncovered: view.size,
    checkpoint: undefined as string | undefined,
  };
  const stored = await store.checkpoints();
  const verifier = await ledgerVerifier(store);
  if (view.size > 0 && (!verifier || stored.length === 0))
    return failed(
      base,
      new SteleError("ledger.bad_checkpoint", "the ledger has entries but no signed checkpoint"),
    );
  try {
    if (options.witness !== undefined && !verifier)
      throw new SteleError(
        "ledger.rollback",
        "the store has no ledger key, but a checkpoint of it was seen before",
        {
          hint: "the store was removed or replaced by an empty one; restore it from a copy (if that was deliberate, remove the witness `stele verify` keeps)",
        },
      );
    if (options.witness !== undefined && verifier) requireWitness(view, options.witness, verifier);
  } catch (e) {
    return failed(base, e);
  }
  let previous: Checkpoint | undefined;
  try {
    for (const cp of stored) {
      if (!verifier) break;
      let checked: Checkpoint;
      try {
        checked = verifyStoredCheckpoint(view, cp.note, verifier.vkey, verifier.origin);
      } catch (e) {
        if (!(e instanceof SteleError) || e.code !== "ledger.tampered") throw e;
        // the checkpoints before vouch for entries [0, previous.size): the change is at or after
        return failed(base, e, cp.size > view.size ? view.size : (previous?.size ?? 0));
      }
      if (checked.size !== cp.size)
        throw new SteleError(
          "ledger.tampered",
          `checkpoint file for size ${cp.size} commits to size ${checked.size}`,
        );
      // DESIGN promise 6: every checkpoint extends the one before, never rolls back or forks
      if (previous)
        requireConsistent(previous, checked, proofBetween(view, previous.size, checked.size));
      previous = checked;
      base.checkpoints++;
      base.uncovered = view.size - checked.size;
      base.checkpoint = cp.note;
    }
  } catch (e) {
    return failed(base, e);
  }
  for (const a of view.approvals) {
    try {
      toEnvelope(a.envelope);
    } catch (e) {
      return failed(base, e, a.index);
    }
  }
  const used = new Set<string>();
  for (const r of view.releases) {
    try {
      await checkRecordedRelease(store, view, r.record, r.index, used);
      for (const a of r.record.approvals) used.add(a);
    } catch (e) {
      return failed(base, e, r.index);
    }
  }
  return { ok: true, ...base };
}

/**
 * Checks one recorded release as it was checked when released: every gate against the ledger
 * before it, and the change class it records. Throws the gate's code.
 */
export async function checkRecordedRelease(
  store: Store,
  view: LedgerView,
  record: ReleaseRecord,
  index: number,
  used?: ReadonlySet<string>,
): Promise<void> {
  const bundles = (digest: string) => storedBundle(store, digest);
  const checked = await checkReleaseGates(view, record, index, bundles, used);
  if (!checked.previous) return;
  const old = await storedBundle(store, checked.previous.record.bundle);
  const cls = diffSets(old.set, checked.bundle.set).class;
  if (cls !== record.class)
    throw new SteleError(
      "ledger.tampered",
      `release records class \`${record.class}\` but the change is \`${cls}\``,
    );
}

function failed(
  base: Omit<VerifyReport, "ok" | "problem">,
  e: unknown,
  index?: number,
): VerifyReport {
  if (!(e instanceof SteleError)) throw e;
  return {
    ok: false,
    ...base,
    problem: {
      ...(index !== undefined && { index }),
      code: e.code,
      message:
        index !== undefined && !e.message.startsWith(`ledger entry ${index} `)
          ? `ledger entry ${index}: ${e.message}`
          : e.message,
      ...(e.hint !== undefined && { hint: e.hint }),
    },
  };
}

// the index of the first entry that does not parse (readLedger said one does not)
function firstMalformed(entries: readonly Uint8Array[]): number | undefined {
  const index = entries.findIndex((bytes, i) => {
    try {
      parseEntry(bytes, i);
      return false;
    } catch {
      return true;
    }
  });
  return index < 0 ? undefined : index;
}

// a consistency proof exists only between two non-empty sizes
function proofBetween(view: LedgerView, from: number, to: number): Uint8Array[] {
  return from === 0 || from >= to ? [] : view.tree.consistencyProof(from, to);
}

/**
 * Checks the ledger against a checkpoint seen before (a witness kept outside the store): it must
 * still be there, unchanged. A store rolled back or rewritten by whoever holds its key fails.
 */
function requireWitness(
  view: LedgerView,
  note: string,
  verifier: { origin: string; vkey: string },
): void {
  const seen = verifyWitness(
    note,
    verifier,
    "the checkpoint seen before",
    "the store was replaced or its history rewritten under a new key; compare it with its backups (if it was replaced deliberately, remove the witness `stele verify` keeps)",
  );
  if (seen.size > view.size)
    throw new SteleError(
      "ledger.rollback",
      `the ledger holds ${view.size} entries, but ${seen.size} were seen before`,
      {
        hint: "the store was rolled back to an older copy; find out who restored it",
      },
    );
  if (!hashEqual(seen.root, view.tree.root(seen.size)))
    throw new SteleError(
      "ledger.fork",
      `the ledger's first ${seen.size} entries differ from the checkpoint seen before`,
      {
        hint: "the ledger history was rewritten; compare the store with its backups",
      },
    );
}
