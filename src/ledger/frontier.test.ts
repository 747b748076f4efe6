import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MerkleFrontier } from "./frontier.js";
import { emptyRoot, leafHash, leafHashPrefixed } from "./merkle.js";
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

test("a leaf hashed where it lies, after its 0x00 prefix, is the leaf hash of the entry", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
      const prefixed = new Uint8Array(data.length + 1);
      prefixed.set(data, 1);
      assert.deepEqual(Buffer.from(leafHashPrefixed(prefixed)), Buffer.from(leafHash(data)));
    }),
    { seed: 20261129, numRuns: 100 },
  );
  assert.throws(() => leafHashPrefixed(Uint8Array.of(1, 2)), { code: "internal" });
});
