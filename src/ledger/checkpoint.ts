import type { KeyObject } from "node:crypto";
import { SteleError } from "../errors.js";
import { emptyRoot, HASH_SIZE, hashEqual, verifyConsistency } from "./merkle.js";
import {
  clip,
  decodeBase64,
  hasControl,
  type NoteVerifier,
  parseNote,
  parseVerifierKey,
  signNote,
  verifyNote,
} from "./note.js";

/** A log's signed statement of its tree: origin, tree size, root hash, optional extension lines. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions: readonly string[];
}

function badCheckpoint(message: string): SteleError {
  return new SteleError("ledger.bad_checkpoint", message);
}

// spec: c2sp.org/tlog-checkpoint "ASCII decimal ... with no leading zeroes (unless the tree is empty)"
const TREE_SIZE = /^(?:0|[1-9][0-9]{0,15})$/;

function requireLine(line: string, what: string): void {
  // spec: c2sp.org/tlog-checkpoint "a sequence of at least three non-empty lines"
  // untrusted: a line with a control character could not have come through a signed note
  if (line === "" || hasControl(line, false)) {
    throw badCheckpoint(`checkpoint ${what} must be one non-empty line without control characters`);
  }
}

function requireTree(size: number, root: Uint8Array): void {
  if (!Number.isSafeInteger(size) || size < 0)
    throw badCheckpoint(`checkpoint tree size \`${size}\` is not a whole number`);
  if (root.length !== HASH_SIZE)
    throw badCheckpoint(`checkpoint root hash must be ${HASH_SIZE} bytes, got ${root.length}`);
  // spec: RFC 6962 §2.1 a tree of size 0 has one possible root, SHA-256 of the empty string
  if (size === 0 && !hashEqual(root, emptyRoot()))
    throw badCheckpoint("checkpoint of the empty tree has the wrong root hash");
}

/** The checkpoint's note text, ending in a newline; throws `ledger.bad_checkpoint` if it cannot be written. */
export function formatCheckpoint(cp: Checkpoint): string {
  requireLine(cp.origin, "origin");
  requireTree(cp.size, cp.root);
  for (const line of cp.extensions) requireLine(line, "extension line");
  const lines = [
    cp.origin,
    String(cp.size),
    Buffer.from(cp.root).toString("base64"),
    ...cp.extensions,
  ];
  return `${lines.join("\n")}\n`;
}

/** Parses checkpoint note text strictly; throws `ledger.bad_checkpoint` on anything but the canonical form. */
export function parseCheckpoint(text: string): Checkpoint {
  // untrusted: checkpoint text is only meaningful once its note signature has been verified
  if (!text.endsWith("\n")) throw badCheckpoint("checkpoint must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  const [origin = "", sizeLine = "", rootLine = "", ...extensions] = lines;
  if (lines.length < 3)
    throw badCheckpoint(
      `checkpoint has ${lines.length} lines, needs origin, tree size and root hash`,
    );
  requireLine(origin, "origin");
  if (!TREE_SIZE.test(sizeLine))
    throw badCheckpoint(`checkpoint tree size \`${clip(sizeLine)}\` is not a decimal number`);
  const size = Number(sizeLine);
  const root = decodeBase64(rootLine);
  if (root === undefined)
    throw badCheckpoint(`checkpoint root hash \`${clip(rootLine)}\` is not base64`);
  requireTree(size, root);
  for (const line of extensions) requireLine(line, "extension line");
  return { origin, size, root, extensions };
}

/**
 * A signed checkpoint's body, read without verifying its signature (untrusted until
 * `verifyCheckpoint` checks it with a known key): to refuse early what is no checkpoint at all.
 */
export function readCheckpointNote(note: string): Checkpoint {
  return parseCheckpoint(parseNote(note).text);
}

/**
 * A checkpoint seen before and kept outside the store (a witness), verified with the store's
 * checkpoint key: one that does not verify is of another ledger, or of this one rewritten under
 * a new key (`ledger.fork`). `what` names it in the error.
 */
export function verifyWitness(
  note: string,
  verifier: { readonly vkey: string; readonly origin: string },
  what: string,
  hint: string,
): Checkpoint {
  try {
    return verifyCheckpoint(note, verifier.vkey, verifier.origin);
  } catch (e) {
    throw new SteleError(
      "ledger.fork",
      `${what} is not signed by the store's checkpoint key: the store was replaced, or its key or origin`,
      { hint, cause: e },
    );
  }
}

/** Signs a checkpoint as a C2SP signed note under key name `name`. */
export function signCheckpoint(cp: Checkpoint, privateKey: KeyObject, name: string): string {
  return signNote(formatCheckpoint(cp), privateKey, name);
}

/**
 * Verifies a signed checkpoint from the log `expectedOrigin`; throws `ledger.bad_signature` unless
 * the verifier key signed it, and `ledger.bad_checkpoint` when its body is malformed or from another log.
 */
export function verifyCheckpoint(
  note: string | Uint8Array,
  verifierKey: string | NoteVerifier,
  expectedOrigin: string,
): Checkpoint {
  const verifier = typeof verifierKey === "string" ? parseVerifierKey(verifierKey) : verifierKey;
  // spec: c2sp.org/signed-note "The text MUST be ignored unless the note is signed by a trusted key"
  const { text } = verifyNote(note, [verifier]);
  const cp = parseCheckpoint(text);
  if (cp.origin !== expectedOrigin) {
    throw badCheckpoint(
      `checkpoint origin is \`${clip(cp.origin)}\`, expected \`${expectedOrigin}\``,
    );
  }
  return cp;
}

/**
 * Refuses to move from a trusted checkpoint to a newer one unless the log only grew: throws
 * `ledger.rollback` for a smaller tree and `ledger.fork` for a different history.
 */
export function requireConsistent(
  old: Checkpoint,
  next: Checkpoint,
  proof: readonly Uint8Array[],
): void {
  if (old.origin !== next.origin) {
    throw badCheckpoint(
      `checkpoint origin \`${clip(next.origin)}\` differs from \`${old.origin}\``,
    );
  }
  // DESIGN promise 6: the tree a client has seen never shrinks
  if (next.size < old.size) {
    throw new SteleError(
      "ledger.rollback",
      `checkpoint tree size \`${next.size}\` is older than \`${old.size}\` already seen`,
      {
        hint: "fetch the latest checkpoint from the log; a log that serves an older one is rolling back",
      },
    );
  }
  if (next.size === old.size && !hashEqual(next.root, old.root)) {
    throw new SteleError("ledger.fork", `two different root hashes for tree size \`${old.size}\``);
  }
  // spec: RFC 6962 §2.1 every tree extends the empty tree, so there is nothing to prove
  if (old.size === 0 && proof.length === 0 && hashEqual(old.root, emptyRoot())) return;
  try {
    verifyConsistency({
      size1: old.size,
      size2: next.size,
      root1: old.root,
      root2: next.root,
      proof,
    });
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    throw new SteleError(
      "ledger.fork",
      `checkpoint at tree size \`${next.size}\` does not extend the one at \`${old.size}\`: ${e.message}`,
      {
        cause: e,
      },
    );
  }
}
