import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import {
  formatVerifierKey,
  noteKeyId,
  parseNote,
  parseVerifierKey,
  signNote,
  toNoteVerifier,
  verifyNote,
} from "./note.js";

const badNote = { name: "SteleError", code: "ledger.bad_note" };
const badSignature = { name: "SteleError", code: "ledger.bad_signature" };
const badKey = { name: "SteleError", code: "ledger.bad_key" };

// a fixed key: key-text tests below split on `+` and upper-case the key ID, so its bytes must not vary
function seeded(seed: string) {
  const pkcs8 = Buffer.concat([
    Buffer.from("302e020100300506032b657004220420", "hex"),
    createHash("sha256").update(seed).digest(),
  ]);
  const privateKey = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
const alice = seeded("alice-3");
const mallory = generateKeyPairSync("ed25519");
const aliceVerifier = toNoteVerifier("log.example/alice", alice.publicKey);
const text = "hello\nworld\n";
const signed = signNote(text, alice.privateKey, "log.example/alice");

function replaceSignature(note: string, b64: string): string {
  return note.replace(/ [A-Za-z0-9+/=]+\n$/, ` ${b64}\n`);
}

describe("signed notes", () => {
  test("verifies a note it signed and reports who signed it", () => {
    const note = verifyNote(signed, [aliceVerifier]);
    assert.equal(note.text, text);
    assert.deepEqual(note.verifiedBy, [{ name: "log.example/alice", keyId: aliceVerifier.keyId }]);
    assert.deepEqual(note.unknown, []);
  });

  test("writes the C2SP layout: text, blank line, an em dash signature line", () => {
    const lines = signed.split("\n");
    assert.deepEqual(lines.slice(0, 3), ["hello", "world", ""]);
    assert.match(lines[3] ?? "", /^\u2014 log\.example\/alice [A-Za-z0-9+/]+=*$/);
    assert.equal(lines[4], "");
    // spec: c2sp.org/signed-note base64(4-byte key ID || 64-byte Ed25519 signature)
    const sig = Buffer.from((lines[3] ?? "").split(" ")[2] ?? "", "base64");
    assert.equal(sig.length, 68);
    assert.equal(sig.readUInt32BE(0), aliceVerifier.keyId);
  });

  test("verifies notes given as UTF-8 bytes", () => {
    assert.equal(verifyNote(Buffer.from(signed), [aliceVerifier]).text, text);
  });

  test("computes the key ID as SHA-256(name, newline, 0x01, key) truncated to four bytes", () => {
    const raw = createPublicKey(alice.privateKey)
      .export({ format: "der", type: "spki" })
      .subarray(-32);
    const want = createHash("sha256")
      .update("log.example/alice\n\x01")
      .update(raw)
      .digest()
      .readUInt32BE(0);
    assert.equal(noteKeyId("log.example/alice", alice.publicKey), want);
  });

  test("verifies the signed note from golang.org/x/mod/sumdb/note's documentation", () => {
    // spec: interop with the Go implementation; vkey and note are the package doc's example
    const vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const msg =
      "If you think cryptography is the answer to your problem,\n" +
      "then you don't know what your problem is.\n" +
      "\n" +
      "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n" +
      "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";
    const verifier = parseVerifierKey(vkey);
    assert.equal(verifier.keyId, 0xc74f20a3);
    assert.equal(formatVerifierKey(verifier.name, verifier.publicKey), vkey);
    const note = verifyNote(msg, [verifier]);
    assert.deepEqual(note.verifiedBy, [{ name: "PeterNeumann", keyId: 0xc74f20a3 }]);
    assert.deepEqual(
      note.unknown.map((s) => s.name),
      ["EnochRoot"],
    );
  });

  test("round-trips verifier key text", () => {
    const vkey = formatVerifierKey("log.example/alice", alice.publicKey);
    assert.match(vkey, /^log\.example\/alice\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    // spec: c2sp.org/signed-note the key is 0x01 (Ed25519) followed by the 32-byte public key
    assert.equal(Buffer.from(vkey.split("+")[2] ?? "", "base64")[0], 0x01);
    const v = parseVerifierKey(vkey);
    assert.equal(v.keyId, aliceVerifier.keyId);
    assert.ok(v.publicKey.equals(alice.publicKey));
  });

  test("round-trips verifier key text whose base64 holds a plus sign", () => {
    // fixed seeds, so the key with a `+` in its base64 is the same on every run
    for (let seed = 0; seed < 64; seed++) {
      const der = Buffer.concat([
        Buffer.from("302e020100300506032b657004220420", "hex"),
        Buffer.alloc(32, seed),
      ]);
      const publicKey = createPublicKey(
        createPrivateKey({ key: der, format: "der", type: "pkcs8" }),
      );
      const vkey = formatVerifierKey("log.example/alice", publicKey);
      if (vkey.split("+").length < 4) continue;
      assert.ok(parseVerifierKey(vkey).publicKey.equals(publicKey));
      return;
    }
    assert.fail("no seed gave a key with a plus sign");
  });

  test("ignores signatures by unknown keys when a known key signed", () => {
    const cosigned = `${signed}${signNote(text, mallory.privateKey, "witness.example").slice(text.length + 1)}`;
    const note = verifyNote(cosigned, [aliceVerifier]);
    assert.deepEqual(
      note.unknown.map((s) => s.name),
      ["witness.example"],
    );
  });

  test("accepts one hundred signatures", () => {
    const other = signNote(text, mallory.privateKey, "witness.example").slice(text.length + 1);
    assert.doesNotThrow(() => verifyNote(signed + other.repeat(99), [aliceVerifier]));
  });
});

describe("hostile notes", () => {
  test("rejects a signature over different text", () => {
    assert.throws(
      () => verifyNote(signed.replace("world", "w0rld"), [aliceVerifier]),
      badSignature,
    );
  });

  test("rejects a signature with a flipped bit", () => {
    const line = signed.split("\n")[3] ?? "";
    const sig = Buffer.from(line.split(" ")[2] ?? "", "base64");
    sig[40] = (sig[40] ?? 0) ^ 1;
    assert.throws(
      () => verifyNote(replaceSignature(signed, sig.toString("base64")), [aliceVerifier]),
      badSignature,
    );
  });

  test("rejects a truncated signature from a known key", () => {
    const sig = Buffer.from((signed.split("\n")[3] ?? "").split(" ")[2] ?? "", "base64").subarray(
      0,
      20,
    );
    assert.throws(
      () => verifyNote(replaceSignature(signed, sig.toString("base64")), [aliceVerifier]),
      badSignature,
    );
  });

  test("rejects a note only unknown keys signed", () => {
    const forged = signNote(text, mallory.privateKey, "log.example/alice");
    assert.throws(() => verifyNote(forged, [aliceVerifier]), badSignature);
    assert.throws(() => verifyNote(signed, []), badSignature);
  });

  test("does not count a signature by a key with the right ID but another name", () => {
    const renamed = signed.replace("\u2014 log.example/alice ", "\u2014 log.example/bob ");
    assert.throws(() => verifyNote(renamed, [aliceVerifier]), badSignature);
  });

  test("rejects a note where a known key's second signature fails", () => {
    const bad = signNote("other\n", alice.privateKey, "log.example/alice").slice(
      "other\n".length + 1,
    );
    assert.throws(() => verifyNote(signed + bad, [aliceVerifier]), badSignature);
  });

  const malformed: [string, string | Uint8Array][] = [
    [
      "bytes that are not UTF-8",
      Buffer.concat([Buffer.from("hi\xff", "latin1"), Buffer.from(signed)]),
    ],
    ["a lone surrogate", `\uD800${signed}`],
    ["a carriage return", signed.replace("hello", "hello\r")],
    ["a tab", signed.replace("hello", "hel\tlo")],
    ["a NUL byte", signed.replace("hello", "hel\u0000lo")],
    ["no blank line before the signatures", signed.replace("\n\n", "\n")],
    ["no final newline", signed.slice(0, -1)],
    ["no signatures", `${text}\n`],
    ["a hyphen instead of an em dash", signed.replace("\u2014", "-")],
    ["no space after the em dash", signed.replace("\u2014 ", "\u2014")],
    ["a signature line without a signature", `${text}\n\u2014 log.example/alice\n`],
    ["a key name with a plus", signed.replace("log.example/alice", "log+alice")],
    ["two spaces before the signature", signed.replace("alice ", "alice  ")],
    ["a signature in URL-safe base64", replaceSignature(signed, "_-_-AAAAAAA=")],
    ["a signature without padding", replaceSignature(signed, "AAAAAAA")],
    ["a signature with non-zero padding bits", replaceSignature(signed, "AAAAAAB=")],
    ["a signature of four bytes", replaceSignature(signed, "AAAAAA==")],
    ["101 signatures", signed + (signed.split("\n")[3] ?? "").concat("\n").repeat(100)],
  ];
  for (const [what, note] of malformed) {
    test(`rejects a note with ${what}`, () => {
      // untrusted: the note as it arrives from the network
      assert.throws(() => verifyNote(note, [aliceVerifier]), badNote);
    });
  }

  test("parses without verifying, for callers that only display a note", () => {
    const { text: body, signatures } = parseNote(signed);
    assert.equal(body, text);
    assert.equal(signatures[0]?.keyId, aliceVerifier.keyId);
  });
});

describe("note keys", () => {
  for (const name of [
    "",
    "has space",
    "a+b",
    "tab\there",
    "nbsp\u00a0here",
    "ideographic\u3000space",
    "line\nbreak",
  ]) {
    test(`refuses to sign under the key name ${JSON.stringify(name)}`, () => {
      assert.throws(() => signNote(text, alice.privateKey, name), badKey);
    });
  }

  test("refuses to sign text without a final newline", () => {
    assert.throws(() => signNote("hello", alice.privateKey, "log.example/alice"), badNote);
  });

  test("refuses keys that are not Ed25519", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    assert.throws(() => signNote(text, ec.privateKey, "log.example/alice"), badKey);
    assert.throws(() => toNoteVerifier("log.example/alice", ec.publicKey), badKey);
    assert.throws(() => signNote(text, alice.publicKey, "log.example/alice"), badKey);
  });

  const vkey = formatVerifierKey("log.example/alice", alice.publicKey);
  const [name, id, key] = vkey.split("+") as [string, string, string];
  const raw = Buffer.from(key, "base64");
  const badVkeys: [string, string][] = [
    ["a wrong key ID", `${name}+00000000+${key}`],
    ["an upper-case key ID", `${name}+${id.toUpperCase()}+${key}`],
    ["a short key ID", `${name}+${id.slice(1)}+${key}`],
    ["a missing key", `${name}+${id}`],
    ["an extra field", `${vkey}+x`],
    ["an empty name", `+${id}+${key}`],
    [
      "an unknown algorithm byte",
      `${name}+${id}+${Buffer.concat([Buffer.of(2), raw.subarray(1)]).toString("base64")}`,
    ],
    ["a 31-byte key", `${name}+${id}+${raw.subarray(0, 32).toString("base64")}`],
    ["a key that is not base64", `${name}+${id}+not*base64`],
  ];
  for (const [what, text] of badVkeys) {
    test(`rejects verifier key text with ${what}`, () => {
      assert.throws(() => parseVerifierKey(text), badKey);
    });
  }

  test("refuses two verifiers with the same name and key ID", () => {
    assert.throws(
      () => verifyNote(signed, [aliceVerifier, { ...aliceVerifier, publicKey: mallory.publicKey }]),
      badKey,
    );
  });
});
