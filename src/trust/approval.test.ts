import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tempDir } from "../testing/index.js";
import {
  APPROVAL_PAYLOAD_TYPE,
  type Approval,
  createApproval,
  isRfc3339,
  parseSigner,
  verifyApproval,
} from "./approval.js";
import { type Envelope, parseEnvelope, signEnvelope } from "./dsse.js";
import { generateKeyPair, type PrivateKey, parsePrivateKey } from "./keys.js";
import { toReviewers } from "./reviewers.js";

const badApproval = { name: "SteleError", code: "trust.bad_approval" };
const dir = tempDir("stele-trust-approval-");
const HEX = "a".repeat(64);
const claims: Approval = {
  digest: `sha256:${HEX}`,
  env: "prod",
  reviewer: "alice",
  time: "2026-11-28T10:00:00Z",
};

const alicePair = generateKeyPair();
const bobPair = generateKeyPair();
const alice = parsePrivateKey(alicePair.privateKeyPem);
const bob = parsePrivateKey(bobPair.privateKeyPem);
const reviewers = toReviewers([
  { name: "alice", keys: [alicePair.sshPublicKey] },
  { name: "bob", keys: [bobPair.publicKeyPem] },
]);

/** A statement exactly as an approval spells it, for tests that bend one field. */
function statement(predicate: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
  return {
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ name: "bundle", digest: { sha256: HEX } }],
    predicateType: "https://stele.dev/approval/v1",
    predicate: { env: "prod", reviewer: "alice", time: claims.time, ...predicate },
    ...top,
  };
}

/** Signs any payload text properly, so only the content is wrong. */
function signed(text: string, key: PrivateKey = alice, type = APPROVAL_PAYLOAD_TYPE): Envelope {
  return signEnvelope(type, Buffer.from(text, "utf8"), key.key, key.keyid);
}

describe("approvals", () => {
  test("an approval signed with a PKCS#8 key verifies and names its reviewer", async () => {
    const envelope = await createApproval({ ...claims, justification: "reviewed in #42" }, alice);
    const roundTripped = parseEnvelope(JSON.stringify(envelope));
    const verified = verifyApproval(roundTripped, reviewers);
    assert.equal(verified.reviewer, "alice");
    assert.equal(verified.keyid, alice.keyid);
    assert.deepEqual(verified.approval, { ...claims, justification: "reviewed in #42" });
    assert.equal(verified.statement.subject[0].digest.sha256, HEX);
    assert.equal(envelope.payloadType, "application/vnd.in-toto+json");
    const byBob = await createApproval({ ...claims, reviewer: "bob" }, bob);
    assert.equal(verifyApproval(byBob, reviewers).reviewer, "bob");
  });

  test("an approval signed through ssh-keygen with an OpenSSH key verifies", async () => {
    const keyFile = join(dir, "carol");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "carol", "-f", keyFile]);
    const signer = parseSigner(readFileSync(keyFile, "utf8"), keyFile);
    assert.deepEqual(signer, { sshKeyFile: keyFile });
    const envelope = await createApproval({ ...claims, reviewer: "carol" }, signer);
    const sig = Buffer.from(envelope.signatures[0]?.sig ?? "", "base64");
    assert.equal(sig.subarray(0, 6).toString(), "SSHSIG");
    const withCarol = toReviewers([
      ...[alicePair, bobPair].map((p, i) => ({
        name: ["alice", "bob"][i] ?? "",
        keys: [p.sshPublicKey],
      })),
      { name: "carol", keys: [readFileSync(`${keyFile}.pub`, "utf8")] },
    ]);
    assert.equal(verifyApproval(envelope, withCarol).reviewer, "carol");
    assert.throws(() => verifyApproval(envelope, reviewers), { code: "trust.unknown_reviewer" });
  });

  test("payload bytes changed after signing fail", async () => {
    const envelope = await createApproval(claims, alice);
    const payload = Buffer.from(envelope.payload, "base64").toString().replace('"prod"', '"dev0"');
    const changed = { ...envelope, payload: Buffer.from(payload).toString("base64") };
    assert.throws(() => verifyApproval(changed, reviewers), { code: "trust.bad_signature" });
  });

  test("duplicate JSON keys in a signed payload are refused", () => {
    const text = JSON.stringify(statement()).replace(
      '"env":"prod"',
      '"env":"staging","env":"prod"',
    );
    assert.equal((JSON.parse(text) as { predicate: { env: string } }).predicate.env, "prod");
    assert.throws(() => verifyApproval(signed(text), reviewers), {
      code: "trust.duplicate_key_json",
      message: /`env` twice/,
    });
  });

  test("an envelope whose payloadType is not the approval type is refused", () => {
    const record = JSON.stringify({ type: "stele.release/v1", env: "prod", bundle: claims.digest });
    const replayed = signed(record, alice, "application/vnd.stele.release+json");
    assert.throws(() => verifyApproval(replayed, reviewers), {
      ...badApproval,
      message: /expected payload type `application\/vnd\.in-toto\+json`/,
    });
  });

  test("another in-toto statement signed by a reviewer is not an approval", () => {
    const provenance = statement({}, { predicateType: "https://slsa.dev/provenance/v1" });
    assert.throws(() => verifyApproval(signed(JSON.stringify(provenance)), reviewers), {
      ...badApproval,
      message: /expected `predicateType`/,
    });
  });

  test("a signature by one reviewer over an approval naming another is refused", () => {
    const forBob = JSON.stringify(statement({ reviewer: "bob" }));
    assert.throws(() => verifyApproval(signed(forBob, alice), reviewers), {
      ...badApproval,
      message: /names `bob` but is signed by `alice`/,
    });
  });

  test("an approval naming no configured reviewer is refused", () => {
    const forEve = JSON.stringify(statement({ reviewer: "eve" }));
    assert.throws(() => verifyApproval(signed(forEve, alice), reviewers), badApproval);
  });

  test("a statement of the wrong shape is refused, though validly signed", () => {
    const subject = (s: unknown) => statement({}, { subject: s });
    const bent = [
      statement({ extra: "field" }),
      statement({ justification: 42 }),
      statement({ justification: "" }),
      statement({ env: "" }),
      statement({ env: "prod\nstaging" }),
      statement({ time: "2026-11-28 10:00:00Z" }),
      statement({ time: "2026-02-30T10:00:00Z" }),
      statement({ time: "yesterday" }),
      statement({}, { extra: 1 }),
      statement({}, { _type: "https://in-toto.io/Statement/v0.1" }),
      subject([]),
      subject([
        { name: "bundle", digest: { sha256: HEX } },
        { name: "bundle", digest: { sha256: HEX } },
      ]),
      subject([{ name: "bundle", digest: { sha256: HEX.toUpperCase() } }]),
      subject([{ name: "bundle", digest: { sha256: "ab" } }]),
      subject([{ name: "bundle", digest: { sha256: HEX, sha512: HEX } }]),
      subject([{ name: "other", digest: { sha256: HEX } }]),
    ];
    for (const value of bent) {
      assert.throws(
        () => verifyApproval(signed(JSON.stringify(value)), reviewers),
        badApproval,
        JSON.stringify(value),
      );
    }
    assert.throws(() => verifyApproval(signed("[1,"), reviewers), { code: "trust.bad_envelope" });
  });

  test("refuses to sign an approval it would not verify", async () => {
    const bad: Approval[] = [
      { ...claims, digest: HEX },
      { ...claims, digest: `sha256:${HEX.toUpperCase()}` },
      { ...claims, time: "now" },
      { ...claims, env: "" },
    ];
    for (const approval of bad) await assert.rejects(createApproval(approval, alice), badApproval);
  });

  test("reads RFC 3339 times strictly", () => {
    for (const good of [
      "2026-11-28T10:00:00Z",
      "2024-02-29T23:59:60.123+05:30",
      "2026-01-01T00:00:00-08:00",
    ]) {
      assert.equal(isRfc3339(good), true, good);
    }
    for (const bad of [
      "2026-11-28",
      "2026-11-28t10:00:00z",
      "2025-02-29T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-11-28T24:00:00Z",
      "2026-11-28T10:00:00+24:00",
    ]) {
      assert.equal(isRfc3339(bad), false, bad);
    }
  });
});
