import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { emptyRoot, leafHash, verifyConsistency, verifyInclusion } from "./merkle.js";
import {
  referenceConsistencyProof,
  referenceInclusionProof,
  referenceRoot,
} from "./merkle-reference.js";
import { MerkleTree } from "./tree.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const hexes = (list: readonly Uint8Array[]): string[] => list.map(hex);
const badProof = { name: "SteleError", code: "ledger.bad_proof" };
const outOfRange = { name: "SteleError", code: "ledger.out_of_range" };

function treeOf(entries: readonly Uint8Array[]): MerkleTree {
  const tree = new MerkleTree();
  for (const e of entries) tree.append(e);
  return tree;
}

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  const i = (bit >> 3) % out.length;
  out[i] = (out[i] ?? 0) ^ (1 << (bit & 7));
  return out;
}

// tree sizes spread evenly up to 70 (fast-check's default bias would keep most trees tiny)
const entriesArb = fc
  .tuple(fc.integer({ min: 1, max: 70 }), fc.uint8Array({ maxLength: 4 }))
  .map(([n, salt]) =>
    Array.from({ length: n }, (_, i) => Buffer.concat([salt, Buffer.from(String(i))])),
  );
// a non-empty tree, a size within it, and an index within that size
const inclusionArb = entriesArb.chain((entries) =>
  fc.integer({ min: 1, max: entries.length }).chain((size) =>
    fc.record({
      entries: fc.constant(entries),
      size: fc.constant(size),
      index: fc.integer({ min: 0, max: size - 1 }),
    }),
  ),
);
const consistencyArb = entriesArb.chain((entries) =>
  fc.integer({ min: 1, max: entries.length }).chain((size2) =>
    fc.record({
      entries: fc.constant(entries),
      size2: fc.constant(size2),
      size1: fc.integer({ min: 1, max: size2 }),
    }),
  ),
);
// a way to spoil a list of hashes: flip one bit, drop one hash, or insert one
const spoilArb = fc.record({
  kind: fc.constantFrom("flip", "drop", "insert"),
  at: fc.nat(),
  bit: fc.nat(255),
});

function spoil(
  list: readonly Uint8Array[],
  s: { kind: string; at: number; bit: number },
  filler: Uint8Array,
): Uint8Array[] {
  const out = [...list];
  if (s.kind === "insert") {
    out.splice(s.at % (out.length + 1), 0, filler);
    return out;
  }
  if (out.length === 0) return [filler];
  const i = s.at % out.length;
  if (s.kind === "drop") out.splice(i, 1);
  else out[i] = flipBit(out[i] as Uint8Array, s.bit);
  return out;
}

describe("MerkleTree against the RFC 6962 reference", () => {
  test("computes the same root as the reference at every size", () => {
    fc.assert(
      fc.property(entriesArb, (entries) => {
        const tree = treeOf(entries);
        for (let n = 0; n <= entries.length; n++)
          assert.equal(hex(tree.root(n)), hex(referenceRoot(entries.slice(0, n))));
      }),
      { numRuns: 60 },
    );
  });

  test("makes the same inclusion proofs as the reference, and they verify", () => {
    fc.assert(
      fc.property(inclusionArb, ({ entries, size, index }) => {
        const tree = treeOf(entries);
        const proof = tree.inclusionProof(index, size);
        assert.deepEqual(
          hexes(proof),
          hexes(referenceInclusionProof(index, entries.slice(0, size))),
        );
        verifyInclusion({
          index,
          size,
          leafHash: leafHash(entries[index] as Uint8Array),
          proof,
          root: tree.root(size),
        });
      }),
      { numRuns: 200 },
    );
  });

  test("makes the same consistency proofs as the reference, and they verify", () => {
    fc.assert(
      fc.property(consistencyArb, ({ entries, size1, size2 }) => {
        const tree = treeOf(entries);
        const proof = tree.consistencyProof(size1, size2);
        assert.deepEqual(
          hexes(proof),
          hexes(referenceConsistencyProof(size1, entries.slice(0, size2))),
        );
        verifyConsistency({
          size1,
          size2,
          root1: tree.root(size1),
          root2: tree.root(size2),
          proof,
        });
      }),
      { numRuns: 200 },
    );
  });
});

describe("proof tampering", () => {
  test("rejects an inclusion proof with a flipped bit, a dropped hash or an inserted hash", () => {
    fc.assert(
      fc.property(inclusionArb, spoilArb, ({ entries, size, index }, s) => {
        const tree = treeOf(entries);
        const check = {
          index,
          size,
          leafHash: tree.leafHash(index),
          proof: tree.inclusionProof(index, size),
          root: tree.root(size),
        };
        assert.throws(
          () => verifyInclusion({ ...check, proof: spoil(check.proof, s, check.root) }),
          badProof,
        );
      }),
      { numRuns: 200 },
    );
  });

  test("rejects an inclusion proof against a root or leaf with a flipped bit", () => {
    fc.assert(
      fc.property(inclusionArb, fc.nat(255), ({ entries, size, index }, bit) => {
        const tree = treeOf(entries);
        const check = {
          index,
          size,
          leafHash: tree.leafHash(index),
          proof: tree.inclusionProof(index, size),
          root: tree.root(size),
        };
        assert.throws(
          () => verifyInclusion({ ...check, root: flipBit(check.root, bit) }),
          badProof,
        );
        assert.throws(
          () => verifyInclusion({ ...check, leafHash: flipBit(check.leafHash, bit) }),
          badProof,
        );
      }),
      { numRuns: 100 },
    );
  });

  test("rejects a consistency proof with a flipped bit, a dropped hash or an inserted hash", () => {
    fc.assert(
      fc.property(consistencyArb, spoilArb, ({ entries, size1, size2 }, s) => {
        const tree = treeOf(entries);
        const check = {
          size1,
          size2,
          root1: tree.root(size1),
          root2: tree.root(size2),
          proof: tree.consistencyProof(size1, size2),
        };
        assert.throws(
          () => verifyConsistency({ ...check, proof: spoil(check.proof, s, check.root2) }),
          badProof,
        );
      }),
      { numRuns: 200 },
    );
  });

  test("rejects a consistency proof against either root with a flipped bit", () => {
    fc.assert(
      fc.property(consistencyArb, fc.nat(255), ({ entries, size1, size2 }, bit) => {
        const tree = treeOf(entries);
        const check = {
          size1,
          size2,
          root1: tree.root(size1),
          root2: tree.root(size2),
          proof: tree.consistencyProof(size1, size2),
        };
        assert.throws(
          () => verifyConsistency({ ...check, root1: flipBit(check.root1, bit) }),
          badProof,
        );
        assert.throws(
          () => verifyConsistency({ ...check, root2: flipBit(check.root2, bit) }),
          badProof,
        );
      }),
      { numRuns: 100 },
    );
  });
});

describe("MerkleTree", () => {
  test("numbers appended entries from zero", () => {
    const tree = new MerkleTree();
    assert.equal(tree.size, 0);
    assert.equal(tree.append(Buffer.from("a")), 0);
    assert.equal(tree.append(Buffer.from("b")), 1);
    assert.equal(tree.size, 2);
    assert.equal(hex(tree.leafHash(1)), hex(leafHash(Buffer.from("b"))));
  });

  test("has the empty root when empty", () => {
    assert.equal(hex(new MerkleTree().root()), hex(emptyRoot()));
  });

  test("rebuilds the same tree from stored leaf hashes", () => {
    const a = treeOf(["x", "y", "z"].map((s) => Buffer.from(s)));
    const b = new MerkleTree([0, 1, 2].map((i) => a.leafHash(i)));
    assert.equal(hex(b.root()), hex(a.root()));
  });

  test("hands out copies that cannot change the tree", () => {
    const tree = treeOf(["x", "y", "z"].map((s) => Buffer.from(s)));
    const before = hex(tree.root());
    tree.root().fill(0);
    tree.leafHash(0).fill(0);
    for (const h of tree.inclusionProof(2)) h.fill(0);
    assert.equal(hex(tree.root()), before);
  });

  test("keeps proofs at earlier sizes valid while it grows past 2^16 leaves", () => {
    const tree = new MerkleTree();
    const checkpoints: { size: number; root: Uint8Array }[] = [];
    for (let i = 0; i < 65_541; i++) {
      tree.append(Buffer.from(String(i)));
      if (i === 1000 || i === 65_535) checkpoints.push({ size: tree.size, root: tree.root() });
    }
    for (const { size, root } of checkpoints) {
      assert.equal(hex(tree.root(size)), hex(root));
      verifyConsistency({
        size1: size,
        size2: tree.size,
        root1: root,
        root2: tree.root(),
        proof: tree.consistencyProof(size),
      });
      const index = size - 1;
      verifyInclusion({
        index,
        size,
        leafHash: tree.leafHash(index),
        proof: tree.inclusionProof(index, size),
        root,
      });
    }
  });

  test("refuses sizes and indexes outside the tree", () => {
    const tree = treeOf(["x", "y", "z"].map((s) => Buffer.from(s)));
    assert.throws(() => tree.root(4), outOfRange);
    assert.throws(() => tree.root(-1), outOfRange);
    assert.throws(() => tree.leafHash(3), outOfRange);
    assert.throws(() => tree.inclusionProof(3), outOfRange);
    assert.throws(() => tree.inclusionProof(0, 0), outOfRange);
    assert.throws(() => tree.inclusionProof(1.5), outOfRange);
    assert.throws(() => tree.consistencyProof(3, 2), outOfRange);
    assert.throws(() => tree.consistencyProof(0, 3), outOfRange);
    assert.deepEqual(tree.consistencyProof(0, 0), []);
    assert.deepEqual(tree.consistencyProof(3), []);
  });

  test("refuses a stored leaf hash of the wrong length", () => {
    assert.throws(() => new MerkleTree().appendLeafHash(new Uint8Array(31)), {
      code: "ledger.tampered",
    });
  });
});
