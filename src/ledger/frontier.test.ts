import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MerkleFrontier } from "./frontier.js";
import { emptyRoot, leafHash, leafHasher } from "./merkle.js";
import { MerkleTree } from "./tree.js";

test("the frontier's root is the full tree's root at every size", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 70 }), (entries) => {
      const frontier = new MerkleFrontier();
      const tree = new MerkleTree();
      assert.deepEqual(frontier.root(), emptyRoot());
      for (const e of entries) {
        frontier.append(e);
        tree.append(e);
        assert.equal(frontier.size, tree.size);
        assert.deepEqual(frontier.root(), tree.root());
      }
    }),
    { seed: 20261129, numRuns: 200 },
  );
});

test("the frontier's root changes with any entry, and its root is a copy", () => {
  const a = new MerkleFrontier();
  const b = new MerkleFrontier();
  for (let i = 0; i < 13; i++) {
    a.append(Uint8Array.of(i));
    b.append(Uint8Array.of(i === 6 ? 99 : i));
  }
  assert.notDeepEqual(a.root(), b.root());
  const root = a.root();
  root.fill(0);
  assert.notDeepEqual(a.root(), root);
});

test("a frontier restored from its snapshot goes on exactly as the original", () => {
  const a = new MerkleFrontier();
  for (let i = 0; i < 11; i++) a.append(Uint8Array.of(i));
  const b = MerkleFrontier.restore(a.snapshot());
  for (let i = 11; i < 20; i++) {
    a.append(Uint8Array.of(i));
    b.append(Uint8Array.of(i));
  }
  assert.deepEqual(b.root(), a.root());
  assert.equal(b.size, 20);
  const s = a.snapshot();
  assert.throws(() => MerkleFrontier.restore({ ...s, size: s.size + 1 }));
  assert.throws(() => MerkleFrontier.restore({ ...s, heights: [...s.heights].reverse() }));
});

test("a leaf hashed in pieces is the leaf hash of the entry, wherever it is cut", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat(64)), (data, cuts) => {
      const hasher = leafHasher();
      let from = 0;
      for (const cut of [...cuts.map((c) => Math.min(c, data.length)), data.length].sort(
        (a, b) => a - b,
      )) {
        hasher.update(data.subarray(from, cut));
        from = cut;
      }
      assert.deepEqual(hasher.digest(), Buffer.from(leafHash(data)));
    }),
    { seed: 20261129, numRuns: 100 },
  );
});
