/** What an approval claims, its in-toto Statement, a verified one, and what may sign one. */
export type {
  Approval,
  ApprovalSigner,
  ApprovalStatement,
  VerifiedApproval,
} from "./approval.js";
/** The DSSE payload type every approval envelope carries (an in-toto Statement). */
/** Signs an approval of a bundle digest for an environment, with a PKCS#8 key or via ssh-keygen. */
/** Picks the signer for a key file: OpenSSH key files go through ssh-keygen, PKCS#8 is read directly. */
/** Returns an approval only once the reviewer it names signed it and its statement is exact. */
export { APPROVAL_PAYLOAD_TYPE, createApproval, parseSigner, verifyApproval } from "./approval.js";
/** A DSSE envelope and one of its signatures, untrusted until verified; a payload that verified. */
export type { Envelope, EnvelopeSignature, VerifiedPayload } from "./dsse.js";
/** Parses envelope JSON strictly: exact shape, canonical base64, no duplicate keys. */
/** DSSE v1 pre-authentication encoding: the exact bytes a signature covers. */
/** Signs a payload into a one-signature DSSE envelope with an Ed25519 private key. */
/** Checks an already-parsed value (say, from the ledger) has exactly the DSSE envelope shape. */
/** Returns an envelope's payload only once every signature by a known key verifies over it. */
export { pae, parseEnvelope, signEnvelope, toEnvelope, verifyEnvelope } from "./dsse.js";
/** Ed25519 keys: public with its encoding-independent keyid, private, and a fresh pair as PEM text. */
export type { GeneratedKeyPair, PrivateKey, PublicKey } from "./keys.js";
/** Makes a new Ed25519 key pair: PKCS#8 PEM private key, SPKI PEM public key, `ssh-ed25519` line. */
/** Parses a PKCS#8 PEM Ed25519 private key; an OpenSSH key file is refused with how to use it. */
/** Parses an Ed25519 public key in any accepted encoding; every spelling gives the same keyid. */
/** The OpenSSH `ssh-ed25519 AAAA…` line of an Ed25519 key. */
export { generateKeyPair, parsePrivateKey, parsePublicKey, toSshPublicKey } from "./keys.js";
/** An approval that counted toward a quorum, with the envelope it came from. */
export type { CountedApproval } from "./quorum.js";
/** Reviewer names (each person once) whose valid approval is of this digest for this environment. */
/** The approvals that count for a digest and environment, one per reviewer. */
/** Throws `trust.quorum_not_met` unless enough distinct reviewers approved; returns those approvals. */
export { approvers, countedApprovals, requireQuorum } from "./quorum.js";
/** A reviewer as configured (name, key texts) and as parsed (name, keys). */
export type { Reviewer, ReviewerKeys } from "./reviewers.js";
/** Parses the configured reviewers, refusing a key shared by two of them. */
export { toReviewers } from "./reviewers.js";
/** Signs bytes with an OpenSSH key file by running `ssh-keygen -Y sign -n stele`. */
/** Verifies an SSHSIG over a message: namespace `stele`, made by exactly the given key. */
export { signWithSshKeygen, verifySshSignature } from "./sshsig.js";
