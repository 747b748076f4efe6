/** A log's signed statement of its tree: origin, tree size, root hash, optional extension lines. */
export type { Checkpoint } from "./checkpoint.js";
/** The checkpoint's canonical note text; refuses a checkpoint that cannot be written faithfully. */
/** Parses checkpoint text strictly, refusing anything but the canonical form (`ledger.bad_checkpoint`). */
/** Refuses a newer checkpoint that shrank (`ledger.rollback`) or rewrote history (`ledger.fork`). */
/** Signs a checkpoint as a C2SP signed note. */
/** Returns a checkpoint only once its signature and origin verify; throws otherwise. */
/** A signed checkpoint's body, its signature not verified (to refuse early what is none). */
export {
  formatCheckpoint,
  parseCheckpoint,
  readCheckpointNote,
  requireConsistent,
  signCheckpoint,
  verifyCheckpoint,
  verifyWitness,
} from "./checkpoint.js";
/** The right edge of an append-only Merkle tree: appends and its root in O(log n) memory. */
export { type FrontierState, MerkleFrontier } from "./frontier.js";
export type { BundleSource, CheckedRelease } from "./gates.js";
/** Checks one release record against the ledger before it: every release gate. */
/** Approval digests already counted by earlier releases. */
/** The config whose reviewers and quorums govern a release. */
export {
  checkReleaseGates,
  configInForce,
  UNREVIEWED_HINT,
  unreviewedSource,
  usedApprovals,
} from "./gates.js";
export type { IndexedApproval, IndexedRecord, LedgerKey, LedgerView } from "./log.js";
/** Reads entry bytes into a parsed view with its Merkle tree. */
/** The latest release of an environment in a view. */
/** Signs a checkpoint of a view's tree with the ledger key. */
/** Signs a checkpoint of any Merkle tree at a size with a log key. */
/** Verifies a stored checkpoint commits to exactly the view's entries. */
export {
  checkpointOf,
  latestRelease,
  readLedger,
  signRoot,
  signTree,
  verifyStoredCheckpoint,
} from "./log.js";
/** The claims an inclusion and a consistency proof are checked against. */
export type { ConsistencyCheck, InclusionCheck } from "./merkle.js";
/** The root hash of the empty tree, SHA-256 of the empty string. */
/** The size of every tree hash in bytes. */
/** Whether two hashes are the same bytes. */
/** The RFC 6962 leaf hash of one log entry. */
/** The RFC 6962 hash of an interior node. */
/** The root an inclusion proof leads to; refuses a malformed proof (`ledger.bad_proof`). */
/** Accepts a consistency proof only if it links both trusted roots (`ledger.bad_proof` otherwise). */
/** Accepts an inclusion proof only if it leads to the trusted root (`ledger.bad_proof` otherwise). */
export {
  emptyRoot,
  HASH_SIZE,
  hashEqual,
  leafHash,
  leafHasher,
  nodeHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";
/** Note keys, signatures and verified notes as C2SP signed-note defines them. */
export type { NoteSignature, NoteVerifier, VerifiedNote } from "./note.js";
/** The `name+hash+key` verifier key text clients configure to trust a log. */
/** Whether a string may be a note key name: non-empty, no spaces, no `+`. */
/** The 32-bit C2SP key ID of an Ed25519 key under a name. */
/** Parses verifier key text, refusing a malformed key or wrong key ID (`ledger.bad_key`). */
/** Signs note text with an Ed25519 key under a name. */
/** A note verifier for a public key under a name. */
/** Returns a note's text only if a known key signed it and no known key's signature fails. */
export {
  formatVerifierKey,
  isValidKeyName,
  noteKeyId,
  parseVerifierKey,
  signNote,
  toNoteVerifier,
  verifyNote,
} from "./note.js";
export type {
  ApprovalEntry,
  Entry,
  RecordedChange,
  ReleaseClass,
  ReleaseRecord,
} from "./record.js";
/** The exact bytes of a ledger entry (canonical JSON), the data its leaf hashes. */
/** The digest an approval is referred to by. */
/** Parses one ledger entry strictly; refuses anything malformed as `ledger.tampered`. */
export { approvalDigest, encodeEntry, parseEntry } from "./record.js";
/** An append-only Merkle tree in memory that gives roots and proofs at any earlier size. */
export { MerkleTree } from "./tree.js";
