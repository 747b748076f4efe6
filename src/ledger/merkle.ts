import * as crypto from "node:crypto";
import { createHash, type Hash } from "node:crypto";
import { SteleError } from "../errors.js";

/** The size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

// spec: RFC 6962 §2.1 domain separation between leaves and interior nodes
const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);
const EMPTY_ROOT = createHash("sha256").digest();
// 0x01 ‖ left ‖ right, for nodeHash
const NODE_INPUT = new Uint8Array(1 + 2 * HASH_SIZE);
NODE_INPUT[0] = 0x01;

// Node's one-shot hash (20.12 and later) makes no Hash object per call; older Nodes use one
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: "buffer") => Buffer })
  .hash;

/** The RFC 6962 hash of one log entry: SHA-256(0x00 ‖ data). */
export function leafHash(data: Uint8Array): Uint8Array {
  // spec: RFC 6962 §2.1 MTH({d(0)}) = SHA-256(0x00 || d(0))
  if (oneShot) return oneShot("sha256", Buffer.concat([LEAF_PREFIX, data]), "buffer");
  return createHash("sha256").update(LEAF_PREFIX).update(data).digest();
}

/**
 * A running leaf hash (RFC 6962: SHA-256 of 0x00 then the data), for a leaf fed in pieces: update
 * it with the leaf's bytes, then digest.
 */
export function leafHasher(): Hash {
  return createHash("sha256").update(LEAF_PREFIX);
}

/** The RFC 6962 hash of an interior node: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  // spec: RFC 6962 §2.1 MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
  if (oneShot && left.length === HASH_SIZE && right.length === HASH_SIZE) {
    // laid out in one reused buffer: hashing is synchronous, so no call sees another's bytes
    NODE_INPUT.set(left, 1);
    NODE_INPUT.set(right, 1 + HASH_SIZE);
    return oneShot("sha256", NODE_INPUT, "buffer");
  }
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}

/** The root hash of the empty tree: SHA-256 of the empty string. */
export function emptyRoot(): Uint8Array {
  // spec: RFC 6962 §2.1 MTH({}) = SHA-256()
  return Uint8Array.from(EMPTY_ROOT);
}

/** Whether two hashes are the same bytes. */
export function hashEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/** A claim that a leaf hash is at `index` in the tree of `size` leaves whose root is `root`. */
export interface InclusionCheck {
  readonly index: number;
  readonly size: number;
  readonly leafHash: Uint8Array;
  readonly proof: readonly Uint8Array[];
  readonly root: Uint8Array;
}

/** A claim that the tree of `size2` leaves with root `root2` extends the one of `size1` with `root1`. */
export interface ConsistencyCheck {
  readonly size1: number;
  readonly size2: number;
  readonly root1: Uint8Array;
  readonly root2: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

function badProof(message: string): SteleError {
  return new SteleError("ledger.bad_proof", message);
}

// untrusted: sizes and indexes arrive from JSON, so NaN, -1, 1.5 and 2^64 must all be refused
function requireCount(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw badProof(`${what} \`${n}\` is not a whole number`);
}

function requireHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    const got = h instanceof Uint8Array ? `${h.length} bytes` : "not bytes";
    throw badProof(`${what} must be ${HASH_SIZE} bytes, got ${got}`);
  }
}

function requireProof(proof: readonly Uint8Array[]): void {
  if (!Array.isArray(proof)) throw badProof("proof must be a list of hashes");
  // invariant: sizes stay below 2^53, so no honest proof is longer than 2 × 53 hashes
  if (proof.length > 128)
    throw badProof(`proof has \`${proof.length}\` hashes, more than any tree needs`);
  for (const [i, h] of proof.entries()) requireHash(h, `proof hash ${i}`);
}

// exact integer halving for every safe integer (bitwise operators would truncate to 32 bits)
const half = (n: number): number => Math.floor(n / 2);
const isOdd = (n: number): boolean => n % 2 === 1;

/** The root hash an inclusion proof leads to; throws `ledger.bad_proof` when it is malformed. */
export function rootFromInclusionProof(check: Omit<InclusionCheck, "root">): Uint8Array {
  // untrusted: every field, until the computed root matches a root the caller trusts
  const { index, size, leafHash: leaf, proof } = check;
  requireCount(index, "leaf index");
  requireCount(size, "tree size");
  if (index >= size) throw badProof(`leaf index \`${index}\` is not below tree size \`${size}\``);
  requireHash(leaf, "leaf hash");
  requireProof(proof);
  // spec: RFC 9162 §2.1.3.2 verifying an inclusion proof
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0)
      throw badProof(`inclusion proof has more hashes than tree size \`${size}\` needs`);
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // a right-edge node: climb past the levels where it has no sibling
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) throw badProof(`inclusion proof has fewer hashes than tree size \`${size}\` needs`);
  return r;
}

/** Checks an inclusion proof against a trusted root; throws `ledger.bad_proof` on any mismatch. */
export function verifyInclusion(check: InclusionCheck): void {
  requireHash(check.root, "root hash");
  const computed = rootFromInclusionProof(check);
  if (!hashEqual(computed, check.root)) {
    throw badProof(`inclusion proof for leaf \`${check.index}\` does not lead to the root hash`);
  }
}

function isPowerOfTwo(n: number): boolean {
  let m = n;
  while (m > 1 && !isOdd(m)) m = half(m);
  return m === 1;
}

/** Checks a consistency proof between two trusted roots; throws `ledger.bad_proof` on any mismatch. */
export function verifyConsistency(check: ConsistencyCheck): void {
  // untrusted: every field, until both computed roots match roots the caller trusts
  const { size1, size2, root1, root2, proof } = check;
  requireCount(size1, "tree size");
  requireCount(size2, "tree size");
  if (!Array.isArray(proof)) throw badProof("proof must be a list of hashes");
  if (size1 > size2) throw badProof(`tree size \`${size1}\` is larger than tree size \`${size2}\``);
  if (size1 === size2) {
    if (proof.length !== 0)
      throw badProof("a consistency proof between equal tree sizes must be empty");
    if (!hashEqual(root1, root2))
      throw badProof(`two different root hashes for tree size \`${size1}\``);
    // spec: RFC 6962 §2.1 the empty tree has exactly one root, SHA-256 of the empty string
    if (size1 === 0 && !hashEqual(root1, EMPTY_ROOT))
      throw badProof("root hash of the empty tree is wrong");
    return;
  }
  // spec: RFC 9162 §2.1.4 proofs are defined for 0 < size1 < size2 only
  if (size1 === 0) throw badProof("a consistency proof from the empty tree proves nothing");
  requireHash(root1, "first root hash");
  requireHash(root2, "second root hash");
  requireProof(proof);
  if (proof.length === 0) throw badProof("consistency proof is empty");
  // spec: RFC 9162 §2.1.4.2 verifying a consistency proof
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // invariant: path is non-empty, checked above
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0)
      throw badProof(`consistency proof has more hashes than tree size \`${size2}\` needs`);
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      // a right-edge node: climb past the levels where it has no sibling
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0)
    throw badProof(`consistency proof has fewer hashes than tree size \`${size2}\` needs`);
  if (!hashEqual(fr, root1))
    throw badProof(`consistency proof does not lead to the root hash at size \`${size1}\``);
  if (!hashEqual(sr, root2))
    throw badProof(`consistency proof does not lead to the root hash at size \`${size2}\``);
}
