import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SteleError } from "../errors.js";
import { tempDir } from "../testing/index.js";
import { APPROVAL_PAYLOAD_TYPE, type Approval, createApproval } from "./approval.js";
import { type Envelope, signEnvelope } from "./dsse.js";
import { generateKeyPair, parsePrivateKey } from "./keys.js";
import { approvers, countedApprovals, requireQuorum } from "./quorum.js";
import { toReviewers } from "./reviewers.js";

const dir = tempDir("stele-trust-quorum-");
const digest = `sha256:${"1".repeat(64)}`;
const otherDigest = `sha256:${"2".repeat(64)}`;
const time = "2026-11-28T10:00:00Z";

const pairs = {
  alice: generateKeyPair(),
  aliceLaptop: generateKeyPair(),
  bob: generateKeyPair(),
  carol: generateKeyPair(),
  mallory: generateKeyPair(),
};
const key = (name: keyof typeof pairs) => parsePrivateKey(pairs[name].privateKeyPem);
const reviewers = toReviewers([
  { name: "alice", keys: [pairs.alice.sshPublicKey, pairs.aliceLaptop.publicKeyPem] },
  { name: "bob", keys: [pairs.bob.publicKeyPem] },
  { name: "carol", keys: [pairs.carol.sshPublicKey] },
]);

function approve(signer: keyof typeof pairs, claims: Partial<Approval> = {}): Promise<Envelope> {
  return createApproval({ digest, env: "prod", reviewer: signer, time, ...claims }, key(signer));
}

const names = (envelopes: Envelope[]) =>
  [...approvers(envelopes, reviewers, digest, "prod")].sort();

describe("quorum", () => {
  test("two reviewers meet a quorum of two", async () => {
    const envelopes = [await approve("alice"), await approve("bob")];
    assert.deepEqual(names(envelopes), ["alice", "bob"]);
    const counted = requireQuorum(envelopes, reviewers, digest, "prod", 2);
    assert.deepEqual(
      counted.map((a) => [a.reviewer, a.envelope]),
      [
        ["alice", envelopes[0]],
        ["bob", envelopes[1]],
      ],
    );
  });

  test("one reviewer signing twice is one approval", async () => {
    const envelopes = [
      await approve("alice"),
      await approve("alice", { time: "2026-11-28T11:00:00Z" }),
    ];
    assert.deepEqual(names(envelopes), ["alice"]);
    assert.throws(() => requireQuorum(envelopes, reviewers, digest, "prod", 2), {
      code: "trust.quorum_not_met",
    });
  });

  test("one person with two keys is one approval", async () => {
    const laptop = await createApproval(
      { digest, env: "prod", reviewer: "alice", time },
      key("aliceLaptop"),
    );
    const envelopes = [await approve("alice"), laptop];
    assert.deepEqual(names([laptop]), ["alice"]);
    assert.deepEqual(names(envelopes), ["alice"]);
  });

  test("a key not in the config counts for nothing", async () => {
    const envelopes = [await approve("mallory"), await approve("mallory", { reviewer: "bob" })];
    assert.deepEqual(names(envelopes), []);
  });

  test("a staging approval does not count for prod", async () => {
    const envelopes = [await approve("alice", { env: "staging" }), await approve("bob")];
    assert.deepEqual(names(envelopes), ["bob"]);
    assert.deepEqual([...approvers(envelopes, reviewers, digest, "staging")], ["alice"]);
  });

  test("an approval of another digest does not count", async () => {
    const envelopes = [await approve("alice", { digest: otherDigest }), await approve("bob")];
    assert.deepEqual(names(envelopes), ["bob"]);
  });

  test("a signature by one reviewer over an approval naming another counts for nothing", async () => {
    const forBob = await createApproval(
      { digest, env: "prod", reviewer: "bob", time },
      key("alice"),
    );
    assert.deepEqual(names([forBob]), []);
  });

  test("a tampered approval counts for nothing and does not stop the others counting", async () => {
    const good = await approve("bob");
    const original = await approve("alice", { digest: otherDigest });
    const payload = Buffer.from(original.payload, "base64")
      .toString()
      .replace("2".repeat(64), "1".repeat(64));
    const tampered = { ...original, payload: Buffer.from(payload).toString("base64") };
    assert.deepEqual(names([tampered, good]), ["bob"]);
  });

  test("a release record replayed as an approval counts for nothing", () => {
    const alice = key("alice");
    const record = Buffer.from(
      JSON.stringify({ type: "stele.release/v1", env: "prod", bundle: digest }),
    );
    const replayed = signEnvelope(
      "application/vnd.stele.release+json",
      record,
      alice.key,
      alice.keyid,
    );
    const sameBytes = signEnvelope(APPROVAL_PAYLOAD_TYPE, record, alice.key, alice.keyid);
    assert.deepEqual(names([replayed, sameBytes]), []);
  });

  test("an approval made through ssh-keygen counts alongside a PKCS#8 one", async () => {
    const keyFile = join(dir, "dave");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dave", "-f", keyFile]);
    const withDave = toReviewers([
      { name: "alice", keys: [pairs.alice.sshPublicKey] },
      { name: "dave", keys: [readFileSync(`${keyFile}.pub`, "utf8")] },
    ]);
    const envelopes = [
      await createApproval(
        { digest, env: "prod", reviewer: "dave", time },
        { sshKeyFile: keyFile },
      ),
      await approve("alice"),
    ];
    assert.equal(requireQuorum(envelopes, withDave, digest, "prod", 2).length, 2);
  });

  test("an unmet quorum says how many were needed and found, who, and how to approve", async () => {
    const envelopes = [await approve("alice")];
    assert.throws(
      () => requireQuorum(envelopes, reviewers, digest, "prod", 2),
      (e: unknown) => {
        assert.ok(e instanceof SteleError);
        assert.equal(e.code, "trust.quorum_not_met");
        assert.equal(
          e.message,
          `release of ${digest} to \`prod\` needs 2 approvals, found 1 (\`alice\`)`,
        );
        assert.equal(
          e.hint,
          "1 more reviewer must run `stele approve BUNDLE --env prod --key FILE`",
        );
        return true;
      },
    );
    assert.throws(() => requireQuorum([], reviewers, digest, "prod", 1), {
      message: /needs 1 approval, found 0$/,
    });
  });

  test("a quorum below one is refused rather than met by nobody", () => {
    for (const quorum of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => requireQuorum([], reviewers, digest, "prod", quorum), {
        code: "internal",
      });
    }
  });

  test("countedApprovals keeps the first approval of each reviewer, in order", async () => {
    const envelopes = [await approve("bob"), await approve("alice"), await approve("bob")];
    const counted = countedApprovals(envelopes, reviewers, digest, "prod");
    assert.deepEqual(
      counted.map((a) => a.envelope),
      [envelopes[0], envelopes[1]],
    );
  });
});

describe("reviewers", () => {
  test("two reviewers sharing a key are refused, in any encoding", () => {
    assert.throws(
      () =>
        toReviewers([
          { name: "alice", keys: [pairs.alice.sshPublicKey] },
          { name: "bob", keys: [pairs.alice.publicKeyPem] },
        ]),
      { code: "trust.bad_key", message: /reviewers `alice` and `bob` share the key/ },
    );
  });

  test("a reviewer listed twice, or with no key, or a bad key, is refused", () => {
    const alice = { name: "alice", keys: [pairs.alice.sshPublicKey] };
    assert.throws(() => toReviewers([alice, { name: "alice", keys: [pairs.bob.sshPublicKey] }]), {
      code: "trust.bad_key",
    });
    assert.throws(() => toReviewers([{ name: "alice", keys: [] }]), { code: "trust.bad_key" });
    assert.throws(() => toReviewers([{ name: "alice", keys: ["ssh-rsa AAAAB3NzaC1yc2E="] }]), {
      code: "trust.bad_key",
      message: /^reviewer `alice`: /,
    });
  });
});
