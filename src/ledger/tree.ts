import { SteleError } from "../errors.js";
import { emptyRoot, HASH_SIZE, leafHash, nodeHash } from "./merkle.js";

function outOfRange(message: string, hint?: string): SteleError {
  return new SteleError("ledger.out_of_range", message, { hint });
}

// the largest power of two strictly below n, for n > 1 (RFC 6962's k)
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * An append-only RFC 6962 Merkle tree over leaf hashes held in memory.
 *
 * Appending costs amortised O(1) hashes because every complete subtree's root is kept; a root
 * at any earlier size then costs O(log n) hashes and a proof O(log² n), never a rehash of the
 * leaves.
 */
export class MerkleTree {
  // invariant: #levels[k][i] is the root of the complete subtree over leaves [i·2^k, (i+1)·2^k)
  readonly #levels: Uint8Array[][] = [[]];

  constructor(leafHashes: Iterable<Uint8Array> = []) {
    for (const h of leafHashes) this.appendLeafHash(h);
  }

  /** The number of leaves. */
  get size(): number {
    return this.#leaves.length;
  }

  get #leaves(): Uint8Array[] {
    return this.#levels[0] as Uint8Array[];
  }

  /** Appends one entry (hashed as a leaf) and returns its index. */
  append(data: Uint8Array): number {
    return this.appendLeafHash(leafHash(data));
  }

  /** Appends an already computed leaf hash and returns its index. */
  appendLeafHash(hash: Uint8Array): number {
    if (hash.length !== HASH_SIZE) {
      throw new SteleError(
        "ledger.tampered",
        `leaf hash must be ${HASH_SIZE} bytes, got ${hash.length}`,
      );
    }
    const index = this.size;
    this.#leaves.push(Uint8Array.from(hash));
    // complete every subtree this leaf closes: one per trailing 1 bit of the index
    let level = 0;
    let i = index;
    while (i % 2 === 1) {
      const row = this.#levels[level] as Uint8Array[];
      const parent = nodeHash(row[i - 1] as Uint8Array, row[i] as Uint8Array);
      level += 1;
      if (this.#levels.length === level) this.#levels.push([]);
      (this.#levels[level] as Uint8Array[]).push(parent);
      i = (i - 1) / 2;
    }
    return index;
  }

  /** The leaf hash at `index`. */
  leafHash(index: number): Uint8Array {
    this.#requireIndex(index, this.size);
    return Uint8Array.from(this.#leaves[index] as Uint8Array);
  }

  /** The root hash of the tree's first `size` leaves (default: all of them). */
  root(size: number = this.size): Uint8Array {
    this.#requireSize(size);
    return this.#subtreeRoot(0, size);
  }

  /** The RFC 6962 inclusion proof of leaf `index` in the tree of the first `size` leaves. */
  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    this.#requireSize(size);
    this.#requireIndex(index, size);
    // spec: RFC 6962 §2.1.1 PATH(m, D[n]), unrolled from the top; siblings come out root-first
    const path: Uint8Array[] = [];
    let start = 0;
    let n = size;
    let m = index;
    while (n > 1) {
      const k = splitPoint(n);
      if (m < k) {
        path.push(this.#subtreeRoot(start + k, n - k));
        n = k;
      } else {
        path.push(this.#subtreeRoot(start, k));
        start += k;
        n -= k;
        m -= k;
      }
    }
    return path.reverse();
  }

  /** The RFC 6962 consistency proof that the tree at `size2` (default: all) extends the one at `size1`. */
  consistencyProof(size1: number, size2: number = this.size): Uint8Array[] {
    this.#requireSize(size2);
    this.#requireSize(size1);
    if (size1 > size2)
      throw outOfRange(`tree size \`${size1}\` is larger than tree size \`${size2}\``);
    if (size1 === 0 && size2 > 0) {
      throw outOfRange(
        "no consistency proof exists from the empty tree",
        "every tree extends the empty tree; check only that its root hash is the empty root",
      );
    }
    // spec: RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), unrolled from the top
    const path: Uint8Array[] = [];
    let start = 0;
    let n = size2;
    let m = size1;
    let whole = true;
    while (m < n) {
      const k = splitPoint(n);
      if (m <= k) {
        path.push(this.#subtreeRoot(start + k, n - k));
        n = k;
      } else {
        path.push(this.#subtreeRoot(start, k));
        start += k;
        n -= k;
        m -= k;
        whole = false;
      }
    }
    // spec: RFC 6962 §2.1.2 SUBPROOF(m, D[m], false) = {MTH(D[m])}
    if (!whole) path.push(this.#subtreeRoot(start, m));
    return path.reverse();
  }

  // MTH of leaves [start, start + n), where start is a multiple of a power of two ≥ n
  #subtreeRoot(start: number, n: number): Uint8Array {
    if (n === 0) return emptyRoot();
    // the subtree is its complete subtrees, largest first, one per 1 bit of n, folded from the right
    const parts: Uint8Array[] = [];
    let at = start;
    let width = 1;
    let level = 0;
    while (width * 2 <= n) {
      width *= 2;
      level += 1;
    }
    for (; width >= 1; width /= 2, level -= 1) {
      if (Math.floor(n / width) % 2 === 1) {
        parts.push((this.#levels[level] as Uint8Array[])[at / width] as Uint8Array);
        at += width;
      }
    }
    let root = parts.pop() as Uint8Array;
    for (let part = parts.pop(); part !== undefined; part = parts.pop())
      root = nodeHash(part, root);
    return Uint8Array.from(root);
  }

  #requireSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) {
      throw outOfRange(`tree size \`${size}\` is not between 0 and \`${this.size}\``);
    }
  }

  #requireIndex(index: number, size: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw outOfRange(`leaf index \`${index}\` is not below tree size \`${size}\``);
    }
  }
}
