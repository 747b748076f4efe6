// Writes Stele's own RFC 6962 proof vectors under testdata/ledger/merkle/, in the shape of
// transparency-dev/merkle's testdata, computed only by the slow reference implementation.
// Run after a build: `node dist/scripts/gen-merkle-vectors.js`; merkle-vectors.test.ts fails
// when the committed files differ from what this would write.
import { createHash } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  referenceConsistencyProof,
  referenceInclusionProof,
  referenceRoot,
} from "../src/ledger/merkle-reference.js";

/** Where the vectors live, relative to the repository root. */
export const vectorsDir = join("testdata", "ledger", "merkle");

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[];
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[];
  desc: string;
  wantErr: boolean;
}

const entries = Array.from({ length: 16 }, (_, i) =>
  new TextEncoder().encode(`stele vector entry ${i}`),
);
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const root = (size: number): Uint8Array => referenceRoot(entries.slice(0, size));
// spec: RFC 6962 §2.1 MTH({d(0)}) is the leaf hash
const leaf = (i: number): Uint8Array => referenceRoot(entries.slice(i, i + 1));

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[bit >> 3] = (out[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return out;
}

function inclusionGroup(index: number, size: number): Record<string, InclusionVector> {
  const proof = referenceInclusionProof(index, entries.slice(0, size));
  const ok: InclusionVector = {
    leafIdx: index,
    treeSize: size,
    root: b64(root(size)),
    leafHash: b64(leaf(index)),
    proof: proof.map(b64),
    desc: "happy path",
    wantErr: false,
  };
  const bad = (desc: string, change: Partial<InclusionVector>): InclusionVector => ({
    ...ok,
    ...change,
    desc,
    wantErr: true,
  });
  const out: Record<string, InclusionVector> = {
    "happy-path": ok,
    "wrong-leaf": bad("leaf hash of another entry", { leafHash: b64(leaf(index + 1)) }),
    "leaf-hash-without-prefix": bad("entry hashed without the 0x00 leaf prefix", {
      leafHash: b64(
        createHash("sha256")
          .update(entries[index] as Uint8Array)
          .digest(),
      ),
    }),
    "leaf-index-plus-1": bad("leaf index one too high", { leafIdx: index + 1 }),
    "leaf-index-equals-size": bad("leaf index equal to the tree size", { leafIdx: size }),
    "tree-size-doubled": bad("tree size doubled", { treeSize: size * 2 }),
    "extended-proof": bad("proof with the root appended", { proof: [...ok.proof, ok.root] }),
    "preceding-garbage": bad("proof with an empty hash prepended", { proof: ["", ...ok.proof] }),
    "wrong-root": bad("root of the tree one entry smaller", { root: b64(root(size - 1)) }),
    "root-bit-flipped": bad("root with its lowest bit flipped", {
      root: b64(flipBit(root(size), 0)),
    }),
    "short-root": bad("root truncated to 31 bytes", { root: b64(root(size).subarray(0, 31)) }),
    "empty-tree-root": bad("root of the empty tree", { root: b64(root(0)) }),
  };
  if (index > 0) out["leaf-index-minus-1"] = bad("leaf index one too low", { leafIdx: index - 1 });
  if (size > 1)
    out["tree-size-halved"] = bad("tree size halved", { treeSize: Math.floor(size / 2) });
  if (proof.length > 0)
    out["truncated-proof"] = bad("proof without its last hash", { proof: ok.proof.slice(0, -1) });
  proof.forEach((p, i) => {
    out[`proof-${i}-bit-flipped`] = bad(`proof hash ${i} with bit 13 flipped`, {
      proof: ok.proof.map((q, j) => (i === j ? b64(flipBit(p, 13)) : q)),
    });
  });
  return out;
}

function consistencyGroup(size1: number, size2: number): Record<string, ConsistencyVector> {
  const proof = size1 === 0 ? [] : referenceConsistencyProof(size1, entries.slice(0, size2));
  const ok: ConsistencyVector = {
    size1,
    size2,
    root1: b64(root(size1)),
    root2: b64(root(size2)),
    proof: proof.map(b64),
    desc: "happy path",
    wantErr: false,
  };
  const bad = (desc: string, change: Partial<ConsistencyVector>): ConsistencyVector => ({
    ...ok,
    ...change,
    desc,
    wantErr: true,
  });
  const out: Record<string, ConsistencyVector> = { "happy-path": ok };
  if (size1 === size2) {
    out["non-empty-proof"] = bad("equal sizes with a non-empty proof", { proof: [ok.root1] });
    out["different-roots"] = bad("equal sizes with different roots", {
      root2: b64(flipBit(root(size2), 0)),
    });
    return out;
  }
  Object.assign(out, {
    "size1-plus-1": bad("first size one too high", { size1: size1 + 1 }),
    "size2-doubled": bad("second size doubled", { size2: size2 * 2 }),
    "swapped-sizes": bad("sizes swapped", { size1: size2, size2: size1 }),
    "swapped-roots": bad("roots swapped", { root1: ok.root2, root2: ok.root1 }),
    "root1-bit-flipped": bad("first root with bit 7 flipped", {
      root1: b64(flipBit(root(size1), 7)),
    }),
    "root2-bit-flipped": bad("second root with bit 7 flipped", {
      root2: b64(flipBit(root(size2), 7)),
    }),
    "empty-proof": bad("empty proof", { proof: [] }),
    "truncated-proof": bad("proof without its last hash", { proof: ok.proof.slice(0, -1) }),
    "extended-proof": bad("proof with the second root appended", {
      proof: [...ok.proof, ok.root2],
    }),
    "preceding-root1": bad("proof with the first root prepended", {
      proof: [ok.root1, ...ok.proof],
    }),
    "trailing-garbage": bad("proof with an empty hash appended", { proof: [...ok.proof, ""] }),
  });
  if (size1 > 1) out["size1-minus-1"] = bad("first size one too low", { size1: size1 - 1 });
  proof.forEach((p, i) => {
    out[`proof-${i}-bit-flipped`] = bad(`proof hash ${i} with bit 250 flipped`, {
      proof: ok.proof.map((q, j) => (i === j ? b64(flipBit(p, 250)) : q)),
    });
  });
  return out;
}

const README = `# Stele's RFC 6962 proof vectors

Generated by \`scripts/gen-merkle-vectors.ts\` from the slow reference implementation in
\`src/ledger/merkle-reference.ts\`; do not edit by hand. Regenerate with
\`npx tsc -p tsconfig.json && node dist/scripts/gen-merkle-vectors.js\`.

Same shape as transparency-dev/merkle's testdata, one probe per file. Inclusion: \`leafIdx\`,
\`treeSize\`, \`root\`, \`leafHash\`, \`proof\` (base64), \`desc\`, \`wantErr\`. Consistency: \`size1\`,
\`size2\`, \`root1\`, \`root2\`, \`proof\`, \`desc\`, \`wantErr\`. Entry \`i\` of every tree is the UTF-8
text \`stele vector entry <i>\`. A correct verifier accepts every probe with \`wantErr: false\` and
rejects every one with \`wantErr: true\`.
`;

/** Every vector file, by path relative to `vectorsDir`, with its exact contents. */
export function generateMerkleVectors(): Map<string, string> {
  const files = new Map<string, string>([["README.md", README]]);
  const put = (kind: string, group: string, probes: Record<string, object>): void => {
    for (const [name, probe] of Object.entries(probes)) {
      files.set(`${kind}/${group}/${name}.json`, `${JSON.stringify(probe, null, 2)}\n`);
    }
  };
  for (const [index, size] of [
    [0, 1],
    [2, 7],
    [5, 8],
    [12, 13],
  ] as const) {
    put("inclusion", `leaf-${index}-of-${size}`, inclusionGroup(index, size));
  }
  for (const [size1, size2] of [
    [1, 2],
    [3, 7],
    [4, 8],
    [6, 13],
    [5, 5],
    [0, 0],
  ] as const) {
    put("consistency", `from-${size1}-to-${size2}`, consistencyGroup(size1, size2));
  }
  // spec: RFC 6962 §2.1 a proof sees the rightmost subtree only as an opaque hash, so a larger tree
  // size with the same proof and root can verify: sizes are only as good as the checkpoint signing them
  put("inclusion", "edge", {
    "tree-size-not-bound-by-proof": {
      ...inclusionGroup(2, 7)["happy-path"],
      treeSize: 8,
      desc: "tree size 8 with the proof and root of size 7 verifies: trust sizes only from signed checkpoints",
      wantErr: false,
    },
  });
  put("consistency", "edge", {
    "size2-not-bound-by-proof": {
      ...consistencyGroup(3, 7)["happy-path"],
      size2: 8,
      desc: "second size 8 with the proof and root of size 7 verifies: trust sizes only from signed checkpoints",
      wantErr: false,
    },
    "from-empty-tree": {
      ...consistencyGroup(0, 0)["happy-path"],
      size2: 3,
      root2: b64(root(3)),
      desc: "a proof from the empty tree is undefined",
      wantErr: true,
    },
    "empty-tree-wrong-root": {
      ...consistencyGroup(0, 0)["happy-path"],
      root1: b64(root(1)),
      root2: b64(root(1)),
      desc: "two empty trees whose root is not the empty root",
      wantErr: true,
    },
    "size1-above-size2": {
      ...consistencyGroup(3, 7)["happy-path"],
      size1: 7,
      size2: 3,
      root1: b64(root(7)),
      root2: b64(root(3)),
      proof: [],
      desc: "first size larger than the second",
      wantErr: true,
    },
  });
  return files;
}

function main(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const dir = join(root, vectorsDir);
  rmSync(dir, { recursive: true, force: true });
  const files = generateMerkleVectors();
  for (const [path, text] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  process.stdout.write(`wrote ${files.size} files under ${vectorsDir}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
  main();
