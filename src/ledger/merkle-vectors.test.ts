import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, test } from "node:test";
import { generateMerkleVectors, vectorsDir } from "../../scripts/gen-merkle-vectors.js";
import { SteleError } from "../errors.js";
import { repoRoot, sharedTestdata } from "../testing/index.js";
import { emptyRoot, verifyConsistency, verifyInclusion } from "./merkle.js";
import {
  referenceConsistencyProof,
  referenceInclusionProof,
  referenceRoot,
} from "./merkle-reference.js";

function* jsonFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* jsonFiles(path);
    else if (name.endsWith(".json")) yield path;
  }
}

// untrusted: vector files are hostile by design; proofs may be null in transparency-dev's files
const bytes = (text: unknown): Uint8Array =>
  Buffer.from(typeof text === "string" ? text : "", "base64");
const hashes = (list: unknown): Uint8Array[] => (Array.isArray(list) ? list.map(bytes) : []);

/** Runs one probe through the verifier: undefined when accepted, the error when rejected. */
function probe(
  kind: "inclusion" | "consistency",
  v: Record<string, unknown>,
): SteleError | undefined {
  try {
    if (kind === "inclusion") {
      verifyInclusion({
        index: Number(v.leafIdx),
        size: Number(v.treeSize),
        leafHash: bytes(v.leafHash),
        proof: hashes(v.proof),
        root: bytes(v.root),
      });
    } else {
      verifyConsistency({
        size1: Number(v.size1),
        size2: Number(v.size2),
        root1: bytes(v.root1),
        root2: bytes(v.root2),
        proof: hashes(v.proof),
      });
    }
    return undefined;
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    return e;
  }
}

function checkFile(kind: "inclusion" | "consistency", path: string): void {
  const v = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  const err = probe(kind, v);
  if (v.wantErr === true) {
    assert.ok(err, `accepted a probe that must fail: ${v.desc}`);
    assert.equal(err.code, "ledger.bad_proof");
  } else {
    assert.equal(v.wantErr, false);
    assert.equal(err, undefined, `rejected a valid probe (${v.desc}): ${err?.message}`);
  }
}

interface HappyPath {
  leafIdx: number;
  treeSize: number;
  root: string;
  proof: string[];
  size1: number;
  size2: number;
  root2: string;
}

const shared = join(sharedTestdata, "merkle");

describe("transparency-dev proof vectors", () => {
  if (!existsSync(shared)) {
    test("runs every transparency-dev proof vector", (t) => {
      t.skip("skipped: ../shared/testdata/merkle not found");
    });
    return;
  }
  for (const kind of ["inclusion", "consistency"] as const) {
    const files = [...jsonFiles(join(shared, kind))];
    test(`finds the ${kind} vectors`, () =>
      assert.ok(files.length > 50, `only ${files.length} files`));
    for (const path of files) {
      test(`${kind}: ${relative(shared, path).split(sep).join("/")}`, () => checkFile(kind, path));
    }
  }
});

describe("Stele's generated proof vectors", () => {
  const dir = join(repoRoot, vectorsDir);
  const generated = generateMerkleVectors();

  test("the committed vectors are exactly what the generator writes", () => {
    const committed = new Map<string, string>();
    const walk = (d: string): void => {
      for (const name of readdirSync(d)) {
        const path = join(d, name);
        if (statSync(path).isDirectory()) walk(path);
        else committed.set(relative(dir, path).split(sep).join("/"), readFileSync(path, "utf8"));
      }
    };
    walk(dir);
    assert.deepEqual(
      [...committed.keys()].sort(),
      [...generated.keys()].sort(),
      "run node dist/scripts/gen-merkle-vectors.js",
    );
    for (const [path, text] of generated)
      assert.equal(committed.get(path), text, `${path} is stale`);
  });

  test("every generated vector gets its verdict from the verifier", () => {
    let count = 0;
    for (const path of jsonFiles(dir)) {
      const kind = relative(dir, path).startsWith("inclusion") ? "inclusion" : "consistency";
      checkFile(kind, path);
      count += 1;
    }
    assert.ok(count > 100, `only ${count} vectors`);
  });

  test("the happy paths agree with the reference and with RFC 6962's empty-tree hash", () => {
    const entries = Array.from({ length: 16 }, (_, i) =>
      new TextEncoder().encode(`stele vector entry ${i}`),
    );
    const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
    for (const [path, text] of generated) {
      if (!path.endsWith("/happy-path.json")) continue;
      const v = JSON.parse(text) as HappyPath;
      if (path.startsWith("inclusion/")) {
        const tree = entries.slice(0, v.treeSize);
        assert.equal(v.root, b64(referenceRoot(tree)), path);
        assert.deepEqual(v.proof, referenceInclusionProof(v.leafIdx, tree).map(b64), path);
      } else {
        assert.equal(v.root2, b64(referenceRoot(entries.slice(0, v.size2))), path);
        if (v.size1 > 0)
          assert.deepEqual(
            v.proof,
            referenceConsistencyProof(v.size1, entries.slice(0, v.size2)).map(b64),
            path,
          );
      }
    }
    const empty = JSON.parse(
      generated.get("consistency/from-0-to-0/happy-path.json") ?? "{}",
    ) as Record<string, string>;
    // spec: RFC 6962 §2.1 MTH({}) = SHA-256() = e3b0c442…b855
    const sha256OfNothing = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert.equal(Buffer.from(empty.root1 ?? "", "base64").toString("hex"), sha256OfNothing);
    assert.equal(Buffer.from(emptyRoot()).toString("hex"), sha256OfNothing);
  });
});
