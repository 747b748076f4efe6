import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { tempDir } from "../testing/index.js";
import {
  generateKeyPair,
  isOpenSshPrivateKey,
  parsePrivateKey,
  parsePublicKey,
  toSshPublicKey,
} from "./keys.js";
import { sshString } from "./ssh-wire.js";

const badKey = { name: "SteleError", code: "trust.bad_key" };
const dir = tempDir("stele-trust-keys-");

function sshKeygen(type: string, name: string): { privateKey: string; publicKey: string } {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", `${name}@example`, "-f", file]);
  return { privateKey: readFileSync(file, "utf8"), publicKey: readFileSync(`${file}.pub`, "utf8") };
}

describe("keys", () => {
  test("keys in all accepted encodings give the same keyid", () => {
    const pair = generateKeyPair();
    const key = createPublicKey(pair.publicKeyPem);
    const der = key.export({ format: "der", type: "spki" });
    const raw = der.subarray(der.length - 32);
    const spellings = [
      pair.publicKeyPem,
      `\n  ${pair.publicKeyPem}  \n`,
      der.toString("base64"),
      raw.toString("base64"),
      pair.sshPublicKey,
      `${pair.sshPublicKey} alice@laptop with spaces`,
    ];
    for (const text of spellings) assert.equal(parsePublicKey(text).keyid, pair.keyid, text);
    assert.match(pair.keyid, /^sha256:[0-9a-f]{64}$/);
    assert.equal(parsePrivateKey(pair.privateKeyPem).keyid, pair.keyid);
  });

  test("an ssh-keygen ed25519 key parses and prints back as the same ssh-ed25519 line", () => {
    const { publicKey } = sshKeygen("ed25519", "alice");
    const parsed = parsePublicKey(publicKey);
    const [type, b64] = publicKey.trim().split(" ");
    assert.equal(toSshPublicKey(parsed.key), `${type} ${b64}`);
    assert.equal(toSshPublicKey(parsed.key, "alice"), `${type} ${b64} alice`);
  });

  test("refuses non-Ed25519 keys in every encoding, saying which type was found", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    for (const key of [rsa.publicKey, ec.publicKey]) {
      const pem = key.export({ format: "pem", type: "spki" }).toString();
      const der = key.export({ format: "der", type: "spki" }).toString("base64");
      assert.throws(() => parsePublicKey(pem), {
        ...badKey,
        message: /must be an Ed25519 key, found `(rsa|ec)`/,
      });
      assert.throws(() => parsePublicKey(der), badKey);
    }
    for (const key of [rsa.privateKey, ec.privateKey]) {
      const pem = key.export({ format: "pem", type: "pkcs8" }).toString();
      assert.throws(() => parsePrivateKey(pem), { ...badKey, message: /found `(rsa|ec)`/ });
    }
    const sshRsa = sshKeygen("rsa", "rsa").publicKey;
    const sshEcdsa = sshKeygen("ecdsa", "ecdsa").publicKey;
    assert.throws(() => parsePublicKey(sshRsa), { ...badKey, message: /found `ssh-rsa`/ });
    assert.throws(() => parsePublicKey(sshEcdsa), {
      ...badKey,
      message: /found `ecdsa-sha2-nistp256`/,
    });
  });

  test("refuses an ssh-ed25519 line whose blob disagrees with its type or has trailing bytes", () => {
    const raw = Buffer.alloc(32, 7);
    const line = (blob: Buffer) => `ssh-ed25519 ${blob.toString("base64")}`;
    const good = Buffer.concat([sshString("ssh-ed25519"), sshString(raw)]);
    assert.equal(parsePublicKey(line(good)).raw.toString("hex"), raw.toString("hex"));
    const trailing = Buffer.concat([good, Buffer.from([0])]);
    const shortKey = Buffer.concat([sshString("ssh-ed25519"), sshString(raw.subarray(0, 31))]);
    const lying = Buffer.concat([sshString("ssh-rsa"), sshString(raw)]);
    const overlong = Buffer.concat([sshString("ssh-ed25519"), Buffer.from([0, 0, 1, 0]), raw]);
    for (const blob of [trailing, shortKey, lying, overlong]) {
      assert.throws(() => parsePublicKey(line(blob)), badKey);
    }
  });

  test("refuses text that is no key, and non-canonical base64", () => {
    const raw = Buffer.alloc(32, 1).toString("base64"); // ends in "=", last char carries spare bits
    const sloppy = `${raw.slice(0, -2)}F=`;
    for (const text of ["", "hello", sloppy, "AAAA", Buffer.alloc(33).toString("base64")]) {
      assert.throws(() => parsePublicKey(text), badKey, text);
    }
  });

  test("refuses a private key given where a public key belongs", () => {
    const pair = generateKeyPair();
    assert.throws(() => parsePublicKey(pair.privateKeyPem), {
      ...badKey,
      message: /expected a public key, found a `PRIVATE KEY`/,
    });
  });

  test("says an OpenSSH private key file must be used through ssh-keygen", () => {
    const { privateKey } = sshKeygen("ed25519", "bob");
    assert.equal(isOpenSshPrivateKey(privateKey), true);
    assert.throws(
      () => parsePrivateKey(privateKey),
      (e: unknown) => {
        assert.ok(e instanceof Error && "hint" in e);
        assert.match(e.message, /OpenSSH private key/);
        assert.match(String(e.hint), /ssh-keygen/);
        return true;
      },
    );
  });

  test("writes a private key as PKCS#8 PEM and a public key as SPKI PEM", () => {
    const pair = generateKeyPair();
    assert.match(pair.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(pair.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.match(pair.sshPublicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+$/);
  });
});
