import { SteleError } from "../errors.js";
import { emptyRoot, HASH_SIZE, leafHash, nodeHash } from "./merkle.js";

/** A frontier as plain data. */
export interface FrontierState {
  readonly size: number;
  readonly roots: readonly Uint8Array[];
  readonly heights: readonly number[];
}

function bad(): SteleError {
  return new SteleError("internal", "not a Merkle frontier snapshot");
}

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

  /** The frontier as plain data (to hand to another thread, or to return to later). */
  snapshot(): FrontierState {
    return {
      size: this.#size,
      roots: this.#roots.map((r) => Uint8Array.from(r)),
      heights: [...this.#heights],
    };
  }

  /** A frontier from a snapshot; throws when the snapshot is not one. */
  static restore(state: FrontierState): MerkleFrontier {
    const f = new MerkleFrontier();
    let size = 0;
    let last = Number.POSITIVE_INFINITY;
    if (state.roots.length !== state.heights.length) throw bad();
    for (const [j, h] of state.heights.entries()) {
      const root = state.roots[j];
      if (!Number.isSafeInteger(h) || h < 0 || h >= last || root?.length !== HASH_SIZE) throw bad();
      last = h;
      size += 2 ** h;
      f.#roots.push(Uint8Array.from(root));
      f.#heights.push(h);
    }
    if (size !== state.size) throw bad();
    f.#size = size;
    return f;
  }

  /** The number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** Appends one entry, hashed as a leaf. */
  append(data: Uint8Array): void {
    this.appendLeafHash(leafHash(data));
  }

  /** Appends an entry by its leaf hash. */
  appendLeafHash(leaf: Uint8Array): void {
    if (leaf.length !== HASH_SIZE) throw bad();
    let hash = leaf;
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
