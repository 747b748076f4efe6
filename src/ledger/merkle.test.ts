import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  emptyRoot,
  hashEqual,
  leafHash,
  nodeHash,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";
import { MerkleTree } from "./tree.js";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const badProof = { name: "SteleError", code: "ledger.bad_proof" };

// spec: RFC 6962 test leaves as used by certificate-transparency and transparency-dev/merkle
const RFC_LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map((h) => Buffer.from(h, "hex"));
const RFC_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const tree = new MerkleTree();
for (const leaf of RFC_LEAVES) tree.append(leaf);
const root8 = tree.root(8);
const inclusion = (index: number, size: number) => ({
  index,
  size,
  leafHash: tree.leafHash(index),
  proof: tree.inclusionProof(index, size),
  root: tree.root(size),
});
const consistency = (size1: number, size2: number) => ({
  size1,
  size2,
  root1: tree.root(size1),
  root2: tree.root(size2),
  proof: tree.consistencyProof(size1, size2),
});

describe("hashing", () => {
  test("hashes the empty tree to SHA-256 of the empty string", () => {
    // spec: RFC 6962 §2.1 MTH({}) = SHA-256()
    assert.equal(
      hex(emptyRoot()),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
  });

  test("computes the RFC 6962 roots of the test leaves at every size", () => {
    RFC_ROOTS.forEach((want, i) => {
      assert.equal(hex(tree.root(i + 1)), want, `size ${i + 1}`);
    });
  });

  test("separates leaves from interior nodes so a node cannot pass for a leaf", () => {
    // spec: RFC 6962 §2.1 the 0x00 and 0x01 prefixes give second-preimage resistance
    const l = leafHash(Buffer.from("a"));
    const r = leafHash(Buffer.from("b"));
    assert.notEqual(hex(leafHash(Buffer.concat([l, r]))), hex(nodeHash(l, r)));
  });

  test("hands out a fresh empty root each time", () => {
    const root = emptyRoot();
    root[0] = 0;
    assert.notEqual(hex(emptyRoot()), hex(root));
  });
});

describe("verifyInclusion", () => {
  test("accepts the inclusion proof of every leaf at every size", () => {
    for (let size = 1; size <= 8; size++) {
      for (let index = 0; index < size; index++) verifyInclusion(inclusion(index, size));
    }
  });

  test("computes the root an inclusion proof leads to", () => {
    assert.ok(hashEqual(rootFromInclusionProof(inclusion(5, 8)), root8));
  });

  // untrusted: every field below is attacker-chosen
  const hostile: [string, Partial<ReturnType<typeof inclusion>>][] = [
    ["a leaf index equal to the tree size", { index: 8 }],
    ["a leaf index above the tree size", { index: 9 }],
    ["a negative leaf index", { index: -1 }],
    ["a fractional leaf index", { index: 1.5 }],
    ["a leaf index beyond 2^53", { index: 2 ** 53 }],
    ["a NaN tree size", { size: Number.NaN }],
    ["an empty tree", { index: 0, size: 0, proof: [] }],
    ["a doubled tree size", { size: 16 }],
    ["a halved tree size", { size: 4 }],
    ["a wrong leaf hash", { leafHash: leafHash(Buffer.from("not in the tree")) }],
    ["a short leaf hash", { leafHash: new Uint8Array(31) }],
    ["an empty leaf hash", { leafHash: new Uint8Array(0) }],
    ["a root of another size", { root: tree.root(7) }],
    ["a long root", { root: Buffer.concat([root8, Buffer.of(0)]) }],
    ["the empty root", { root: emptyRoot() }],
    [
      "a proof with garbage before it",
      { proof: [new Uint8Array(0), ...tree.inclusionProof(5, 8)] },
    ],
    ["a proof with a hash after it", { proof: [...tree.inclusionProof(5, 8), root8] }],
    ["a proof missing its last hash", { proof: tree.inclusionProof(5, 8).slice(0, -1) }],
    ["an empty proof", { proof: [] }],
    [
      "a proof with a 33-byte hash",
      {
        proof: tree
          .inclusionProof(5, 8)
          .map((h, i) => (i === 1 ? Buffer.concat([h, Buffer.of(1)]) : h)),
      },
    ],
    ["a proof of 1000 hashes", { proof: Array.from({ length: 1000 }, () => root8) }],
    ["a proof that is not a list", { proof: "nope" as unknown as Uint8Array[] }],
  ];
  for (const [what, change] of hostile) {
    test(`rejects an inclusion proof with ${what}`, () => {
      assert.throws(() => verifyInclusion({ ...inclusion(5, 8), ...change }), badProof);
    });
  }

  test("rejects an inclusion proof with a flipped bit anywhere", () => {
    const good = inclusion(5, 8);
    for (const [i, h] of good.proof.entries()) {
      for (let bit = 0; bit < 256; bit += 37) {
        const flipped = Uint8Array.from(h);
        flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        const proof = good.proof.map((p, j) => (i === j ? flipped : p));
        assert.throws(() => verifyInclusion({ ...good, proof }), badProof);
      }
    }
  });
});

describe("verifyConsistency", () => {
  test("accepts the consistency proof between every pair of sizes", () => {
    for (let size2 = 1; size2 <= 8; size2++) {
      for (let size1 = 1; size1 <= size2; size1++) verifyConsistency(consistency(size1, size2));
    }
  });

  test("accepts two empty trees with the empty root", () => {
    verifyConsistency({ size1: 0, size2: 0, root1: emptyRoot(), root2: emptyRoot(), proof: [] });
  });

  // untrusted: every field below is attacker-chosen
  const hostile: [string, Partial<ReturnType<typeof consistency>>][] = [
    ["the first size above the second", { size1: 8, size2: 3 }],
    ["a first size of zero", { size1: 0, root1: emptyRoot() }],
    ["a negative size", { size1: -3 }],
    ["an infinite size", { size2: Number.POSITIVE_INFINITY }],
    ["a first size one higher", { size1: 4 }],
    ["a first size one lower", { size1: 2 }],
    ["a doubled second size", { size2: 16 }],
    ["swapped roots", { root1: root8, root2: tree.root(3) }],
    ["a wrong first root", { root1: tree.root(4) }],
    ["a wrong second root", { root2: tree.root(7) }],
    ["a short second root", { root2: root8.subarray(1) }],
    ["an empty proof", { proof: [] }],
    ["a proof missing its last hash", { proof: tree.consistencyProof(3, 8).slice(0, -1) }],
    [
      "a proof with the first root before it",
      { proof: [tree.root(3), ...tree.consistencyProof(3, 8)] },
    ],
    [
      "a proof with garbage after it",
      { proof: [...tree.consistencyProof(3, 8), new Uint8Array(7)] },
    ],
    ["a proof of 1000 hashes", { proof: Array.from({ length: 1000 }, () => root8) }],
  ];
  for (const [what, change] of hostile) {
    test(`rejects a consistency proof with ${what}`, () => {
      assert.throws(() => verifyConsistency({ ...consistency(3, 8), ...change }), badProof);
    });
  }

  test("rejects a consistency proof from a power-of-two size that repeats the first root", () => {
    // spec: RFC 9162 §2.1.4.2 step 2 prepends first_hash itself; a proof must not carry it
    const good = consistency(4, 8);
    assert.throws(
      () => verifyConsistency({ ...good, proof: [good.root1, ...good.proof] }),
      badProof,
    );
  });

  test("rejects equal sizes with different roots or a non-empty proof", () => {
    assert.throws(() => verifyConsistency({ ...consistency(5, 5), root2: root8 }), badProof);
    assert.throws(() => verifyConsistency({ ...consistency(5, 5), proof: [root8] }), badProof);
  });

  test("rejects two empty trees whose root is not the empty root", () => {
    assert.throws(
      () => verifyConsistency({ size1: 0, size2: 0, root1: root8, root2: root8, proof: [] }),
      badProof,
    );
  });

  test("rejects a consistency proof with a flipped bit", () => {
    const good = consistency(3, 8);
    for (const [i, h] of good.proof.entries()) {
      const flipped = Uint8Array.from(h);
      flipped[31] = (flipped[31] ?? 0) ^ 0x80;
      const proof = good.proof.map((p, j) => (i === j ? flipped : p));
      assert.throws(() => verifyConsistency({ ...good, proof }), badProof);
    }
  });
});
