import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tempDir } from "../testing/index.js";
import { parsePublicKey } from "./keys.js";
import { sshString } from "./ssh-wire.js";
import {
  isSshSig,
  parseSshSignatureArmor,
  signWithSshKeygen,
  sshSignatureKey,
  verifySshSignature,
} from "./sshsig.js";

const badSignature = { name: "SteleError", code: "trust.bad_signature" };
const dir = tempDir("stele-trust-sshsig-");

function sshKey(name: string, type = "ed25519"): string {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", file]);
  return file;
}

/** Signs with ssh-keygen directly, for namespaces and options Stele itself never uses. */
function rawSign(
  message: Buffer,
  keyFile: string,
  namespace: string,
  ...options: string[]
): string {
  return execFileSync("ssh-keygen", ["-Y", "sign", "-n", namespace, "-f", keyFile, ...options], {
    input: message,
    stdio: ["pipe", "pipe", "pipe"],
  }).toString();
}

const aliceFile = sshKey("alice");
const alice = parsePublicKey(readFileSync(`${aliceFile}.pub`, "utf8"));
const bob = parsePublicKey(readFileSync(`${sshKey("bob")}.pub`, "utf8"));
const message = Buffer.from("approve sha256:00ff in prod\n");

describe("SSH signatures", () => {
  test("an SSHSIG from the real ssh-keygen verifies", async () => {
    const armored = await signWithSshKeygen(message, aliceFile);
    assert.match(armored, /^-----BEGIN SSH SIGNATURE-----\n/);
    verifySshSignature(armored, message, alice);
    const blob = parseSshSignatureArmor(armored);
    assert.ok(isSshSig(blob));
    assert.equal(sshSignatureKey(blob).keyid, alice.keyid);
    verifySshSignature(blob, message, alice);
  });

  test("ssh-keygen's own verifier accepts the signature Stele asked it for", async () => {
    const armored = await signWithSshKeygen(message, aliceFile);
    const sigFile = join(dir, "message.sig");
    const signers = join(dir, "allowed_signers");
    writeFileSync(sigFile, armored);
    writeFileSync(signers, `alice ${readFileSync(`${aliceFile}.pub`, "utf8")}`);
    execFileSync(
      "ssh-keygen",
      ["-Y", "verify", "-f", signers, "-I", "alice", "-n", "stele", "-s", sigFile],
      { input: message, stdio: ["pipe", "pipe", "pipe"] },
    );
  });

  test("a sha256 SSHSIG verifies too", () => {
    verifySshSignature(
      rawSign(message, aliceFile, "stele", "-O", "hashalg=sha256"),
      message,
      alice,
    );
  });

  test("a tampered message fails", async () => {
    const armored = await signWithSshKeygen(message, aliceFile);
    const tampered = Buffer.from(message);
    tampered[0] = (tampered[0] ?? 0) ^ 1;
    assert.throws(() => verifySshSignature(armored, tampered, alice), {
      ...badSignature,
      message: /does not verify/,
    });
  });

  test("a signature in another namespace fails, even by the right key over the right message", () => {
    const armored = rawSign(message, aliceFile, "git");
    assert.throws(() => verifySshSignature(armored, message, alice), {
      ...badSignature,
      message: /namespace must be `stele`, found `git`/,
    });
  });

  test("a signature by another key fails, whatever key it carries", async () => {
    const armored = await signWithSshKeygen(message, aliceFile);
    assert.throws(() => verifySshSignature(armored, message, bob), {
      ...badSignature,
      message: /expected `sha256:/,
    });
  });

  test("a non-Ed25519 SSH key's signature is refused", () => {
    const rsaFile = sshKey("rsa", "rsa");
    assert.throws(() => verifySshSignature(rawSign(message, rsaFile, "stele"), message, alice), {
      code: "trust.bad_key",
      message: /found `ssh-rsa`/,
    });
  });

  test("a swapped embedded key with the same signature fails", async () => {
    const blob = parseSshSignatureArmor(await signWithSshKeygen(message, aliceFile));
    const aliceBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(alice.raw)]);
    const bobBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(bob.raw)]);
    const at = blob.indexOf(aliceBlob);
    assert.ok(at > 0);
    const swapped = Buffer.concat([
      blob.subarray(0, at),
      bobBlob,
      blob.subarray(at + aliceBlob.length),
    ]);
    assert.throws(() => verifySshSignature(swapped, message, bob), badSignature);
  });

  test("a truncated or padded blob is refused as malformed", async () => {
    const blob = parseSshSignatureArmor(await signWithSshKeygen(message, aliceFile));
    for (const bad of [
      blob.subarray(0, blob.length - 1),
      Buffer.concat([blob, Buffer.from([0])]),
    ]) {
      assert.throws(() => verifySshSignature(bad, message, alice), {
        ...badSignature,
        message: /malformed SSH signature/,
      });
    }
  });

  test("signing with a missing key file is trust.bad_key", async () => {
    await assert.rejects(signWithSshKeygen(message, join(dir, "missing")), {
      code: "trust.bad_key",
      message: /cannot sign with/,
    });
  });
});
