import { emptyRoot, leafHash, nodeHash } from "./merkle.js";

/**
 * The right edge of an append-only RFC 6962 tree: the roots of its complete subtrees, one per
 * set bit of the size, largest first. Enough to append and to compute the current root, in
 * O(log n) memory, for a log whose proofs are made by whoever reads it back (the decision log).
 */
export class MerkleFrontier {
  // invariant: #roots[j] is the root of a complete subtree; sizes strictly decrease with j and
  // sum to #size
  readonly #roots: Uint8Array[] = [];
  readonly #heights: number[] = [];
  #size = 0;

  /** The number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** Appends one entry, hashed as a leaf. */
  append(data: Uint8Array): void {
    let hash = leafHash(data);
    let height = 0;
    // merge equal complete subtrees, as binary addition carries
    while (this.#heights.length > 0 && this.#heights[this.#heights.length - 1] === height) {
      this.#heights.pop();
      hash = nodeHash(this.#roots.pop() as Uint8Array, hash);
      height += 1;
    }
    this.#roots.push(hash);
    this.#heights.push(height);
    this.#size += 1;
  }

  /** The root of the whole tree: RFC 6962 splits at the largest complete left subtree. */
  root(): Uint8Array {
    if (this.#roots.length === 0) return emptyRoot();
    let hash = this.#roots[this.#roots.length - 1] as Uint8Array;
    for (let j = this.#roots.length - 2; j >= 0; j--)
      hash = nodeHash(this.#roots[j] as Uint8Array, hash);
    return Uint8Array.from(hash);
  }
}
