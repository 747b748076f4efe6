import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import {
  type Checkpoint,
  formatCheckpoint,
  parseCheckpoint,
  requireConsistent,
  signCheckpoint,
  verifyCheckpoint,
} from "./checkpoint.js";
import { emptyRoot } from "./merkle.js";
import { formatVerifierKey, signNote, toNoteVerifier } from "./note.js";
import { MerkleTree } from "./tree.js";

const badCheckpoint = { name: "SteleError", code: "ledger.bad_checkpoint" };
const badSignature = { name: "SteleError", code: "ledger.bad_signature" };

const origin = "stele.example/acme-policies";
const log = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const vkey = formatVerifierKey(origin, log.publicKey);

const tree = new MerkleTree();
for (let i = 0; i < 20; i++) tree.append(Buffer.from(`release ${i}`));
const at = (size: number, extensions: string[] = []): Checkpoint => ({
  origin,
  size,
  root: tree.root(size),
  extensions,
});
const rootB64 = Buffer.from(tree.root(20)).toString("base64");

describe("checkpoint text", () => {
  test("writes origin, tree size and root hash, one per line", () => {
    assert.equal(formatCheckpoint(at(20)), `${origin}\n20\n${rootB64}\n`);
  });

  test("round-trips a checkpoint with extension lines", () => {
    const cp = at(20, ["ext one", "ext two"]);
    assert.deepEqual(parseCheckpoint(formatCheckpoint(cp)), cp);
  });

  test("parses the empty tree", () => {
    const cp = parseCheckpoint(`${origin}\n0\n${Buffer.from(emptyRoot()).toString("base64")}\n`);
    assert.equal(cp.size, 0);
  });

  const malformed: [string, string][] = [
    ["no final newline", `${origin}\n20\n${rootB64}`],
    ["only two lines", `${origin}\n20\n`],
    ["an empty origin", `\n20\n${rootB64}\n`],
    ["a carriage return after the origin", `${origin}\r\n20\n${rootB64}\n`],
    ["a tree size with a leading zero", `${origin}\n020\n${rootB64}\n`],
    ["a tree size with a plus sign", `${origin}\n+20\n${rootB64}\n`],
    ["a negative tree size", `${origin}\n-1\n${rootB64}\n`],
    ["a tree size with a space", `${origin}\n20 \n${rootB64}\n`],
    ["a tree size in exponent form", `${origin}\n2e1\n${rootB64}\n`],
    ["a tree size in hex", `${origin}\n0x14\n${rootB64}\n`],
    ["a tree size beyond 2^53", `${origin}\n18446744073709551615\n${rootB64}\n`],
    ["a root hash that is not base64", `${origin}\n20\nnot-base64!\n`],
    [
      "a root hash in URL-safe base64",
      `${origin}\n20\n${rootB64.replaceAll("+", "-").replaceAll("/", "_")}\n`,
    ],
    [
      "a root hash of 31 bytes",
      `${origin}\n20\n${Buffer.from(tree.root(20)).subarray(1).toString("base64")}\n`,
    ],
    [
      "a root hash of 33 bytes",
      `${origin}\n20\n${Buffer.concat([tree.root(20), Buffer.of(0)]).toString("base64")}\n`,
    ],
    ["an empty extension line", `${origin}\n20\n${rootB64}\n\next\n`],
    ["an empty tree with a non-empty root", `${origin}\n0\n${rootB64}\n`],
  ];
  for (const [what, text] of malformed) {
    test(`rejects a checkpoint with ${what}`, () => {
      // untrusted: checkpoint text from the network
      assert.throws(() => parseCheckpoint(text), badCheckpoint);
    });
  }

  test("refuses to write a checkpoint it could not read back", () => {
    assert.throws(() => formatCheckpoint({ ...at(20), origin: "two\nlines" }), badCheckpoint);
    assert.throws(() => formatCheckpoint({ ...at(20), origin: "" }), badCheckpoint);
    assert.throws(() => formatCheckpoint({ ...at(20), size: -1 }), badCheckpoint);
    assert.throws(() => formatCheckpoint({ ...at(20), size: 2.5 }), badCheckpoint);
    assert.throws(() => formatCheckpoint({ ...at(20), root: new Uint8Array(31) }), badCheckpoint);
    assert.throws(() => formatCheckpoint(at(20, [""])), badCheckpoint);
    assert.throws(() => formatCheckpoint(at(20, ["a\nb"])), badCheckpoint);
  });
});

describe("signed checkpoints", () => {
  const signed = signCheckpoint(at(20), log.privateKey, origin);

  test("verifies a checkpoint it signed, by verifier key text or verifier", () => {
    assert.deepEqual(verifyCheckpoint(signed, vkey, origin), at(20));
    assert.deepEqual(
      verifyCheckpoint(signed, toNoteVerifier(origin, log.publicKey), origin),
      at(20),
    );
  });

  test("rejects a checkpoint from another log", () => {
    assert.throws(() => verifyCheckpoint(signed, vkey, "stele.example/other"), badCheckpoint);
  });

  test("rejects a checkpoint signed by another key", () => {
    const forged = signCheckpoint(at(20), other.privateKey, origin);
    assert.throws(() => verifyCheckpoint(forged, vkey, origin), badSignature);
  });

  test("rejects a checkpoint whose tree size was changed after signing", () => {
    assert.throws(
      () => verifyCheckpoint(signed.replace("\n20\n", "\n21\n"), vkey, origin),
      badSignature,
    );
  });

  test("rejects a malformed checkpoint even when its signature is good", () => {
    const note = signNote(`${origin}\n020\n${rootB64}\n`, log.privateKey, origin);
    assert.throws(() => verifyCheckpoint(note, vkey, origin), badCheckpoint);
  });
});

describe("requireConsistent", () => {
  test("accepts a newer checkpoint with a valid consistency proof", () => {
    requireConsistent(at(7), at(20), tree.consistencyProof(7, 20));
  });

  test("accepts the same checkpoint again", () => {
    requireConsistent(at(20), at(20), []);
  });

  test("accepts any tree after the empty tree", () => {
    requireConsistent(at(0), at(20), []);
  });

  test("refuses a smaller tree as a rollback", () => {
    // DESIGN promise 6
    assert.throws(() => requireConsistent(at(20), at(7), []), { code: "ledger.rollback" });
  });

  test("reports two roots for one tree size as a fork", () => {
    const forked = { ...at(20), root: tree.root(19) };
    assert.throws(() => requireConsistent(at(20), forked, []), { code: "ledger.fork" });
  });

  test("reports a failing consistency proof as a fork", () => {
    const rewritten = new MerkleTree();
    for (let i = 0; i < 20; i++)
      rewritten.append(Buffer.from(i === 3 ? "rewritten" : `release ${i}`));
    const next = { ...at(20), root: rewritten.root(20) };
    assert.throws(() => requireConsistent(at(7), next, rewritten.consistencyProof(7, 20)), {
      code: "ledger.fork",
    });
    assert.throws(() => requireConsistent(at(7), at(20), tree.consistencyProof(7, 20).slice(1)), {
      code: "ledger.fork",
    });
    assert.throws(() => requireConsistent(at(7), at(20), []), { code: "ledger.fork" });
  });

  test("refuses to compare checkpoints of two logs", () => {
    assert.throws(
      () => requireConsistent(at(7), { ...at(20), origin: "elsewhere" }, []),
      badCheckpoint,
    );
  });
});
