import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pae, parseEnvelope, signEnvelope, toEnvelope, verifyEnvelope } from "./dsse.js";
import { generateKeyPair, parsePrivateKey } from "./keys.js";
import { parseStrictJson } from "./strict-json.js";

const badEnvelope = { name: "SteleError", code: "trust.bad_envelope" };
const duplicate = { name: "SteleError", code: "trust.duplicate_key_json" };
const alice = parsePrivateKey(generateKeyPair().privateKeyPem);
const mallory = parsePrivateKey(generateKeyPair().privateKeyPem);
const TYPE = "application/vnd.example+json";
const payload = Buffer.from('{"hello":"world"}');
const envelope = signEnvelope(TYPE, payload, alice.key, alice.keyid);

describe("DSSE envelopes", () => {
  test("encodes PAE exactly as the DSSE v1 spec's example", () => {
    const bytes = pae("http://example.com/HelloWorld", Buffer.from("hello world"));
    assert.equal(bytes.toString(), "DSSEv1 29 http://example.com/HelloWorld 11 hello world");
  });

  test("counts PAE lengths in bytes, not characters", () => {
    assert.equal(pae("t", Buffer.from("é")).toString(), "DSSEv1 1 t 2 é");
  });

  test("verifies its own envelope and returns the payload with who signed it", () => {
    const text = JSON.stringify(envelope);
    const verified = verifyEnvelope(parseEnvelope(text), [alice.publicKey]);
    assert.deepEqual(verified.payload, payload);
    assert.deepEqual(
      verified.signedBy.map((k) => k.keyid),
      [alice.keyid],
    );
  });

  test("refuses payload bytes changed after signing", () => {
    const changed = { ...envelope, payload: Buffer.from('{"hello":"World"}').toString("base64") };
    assert.throws(() => verifyEnvelope(changed, [alice.publicKey]), {
      code: "trust.bad_signature",
    });
  });

  test("refuses a payload type changed after signing", () => {
    const changed = { ...envelope, payloadType: "application/vnd.other+json" };
    assert.throws(() => verifyEnvelope(changed, [alice.publicKey]), {
      code: "trust.bad_signature",
    });
  });

  test("refuses a known keyid whose signature was made by another key", () => {
    const forged = signEnvelope(TYPE, payload, mallory.key, alice.keyid);
    assert.throws(() => verifyEnvelope(forged, [alice.publicKey]), { code: "trust.bad_signature" });
  });

  test("refuses an envelope signed only by keys nobody configured", () => {
    const other = signEnvelope(TYPE, payload, mallory.key, mallory.keyid);
    assert.throws(() => verifyEnvelope(other, [alice.publicKey]), {
      code: "trust.unknown_reviewer",
    });
  });

  test("refuses unknown, missing and mistyped fields", () => {
    const sig = envelope.signatures[0];
    const bad: unknown[] = [
      null,
      [],
      { ...envelope, extra: 1 },
      { payloadType: TYPE, payload: envelope.payload },
      { ...envelope, payloadType: "" },
      { ...envelope, payload: "" },
      { ...envelope, signatures: [] },
      { ...envelope, signatures: [{ ...sig, extra: true }] },
      { ...envelope, signatures: [{ sig: sig?.sig }] },
      { ...envelope, signatures: [{ ...sig, keyid: "alice" }] },
      { ...envelope, signatures: [sig, sig] },
    ];
    for (const value of bad)
      assert.throws(() => toEnvelope(value), badEnvelope, JSON.stringify(value));
  });

  test("refuses non-canonical base64 in the payload and the signature", () => {
    const sig = envelope.signatures[0]?.sig ?? "";
    const bad = [
      { ...envelope, payload: envelope.payload.replace(/=+$/, "") },
      { ...envelope, payload: Buffer.from(payload).toString("base64url") },
      { ...envelope, payload: ` ${envelope.payload}` },
      { ...envelope, signatures: [{ keyid: alice.keyid, sig: `${sig.slice(0, -3)}AB=` }] },
    ];
    for (const value of bad) assert.throws(() => toEnvelope(value), badEnvelope);
  });

  test("refuses duplicate JSON keys in the envelope, which JSON.parse would silently drop", () => {
    const text = `{"payloadType":"${TYPE}","payload":"e30=","payload":"${envelope.payload}","signatures":${JSON.stringify(envelope.signatures)}}`;
    assert.equal((JSON.parse(text) as { payload: string }).payload, envelope.payload);
    assert.throws(() => parseEnvelope(text), duplicate);
  });
});

describe("strict JSON", () => {
  test("reads what JSON.parse reads", () => {
    const texts = [
      '{"a":[1,-2.5e3,true,false,null,"x\\u0041\\n"],"b":{}}',
      " [ ] ",
      '"\\ud83d\\ude00"',
      "0",
      '{"__proto__":{"polluted":true}}',
    ];
    for (const text of texts) assert.deepEqual(parseStrictJson(text, "t"), JSON.parse(text));
  });

  test("keeps a `__proto__` key as data, never as the prototype", () => {
    const value = parseStrictJson('{"__proto__":{"polluted":true}}', "t") as Record<
      string,
      unknown
    >;
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value), ["__proto__"]);
  });

  test("refuses a key repeated under a different escape", () => {
    assert.throws(() => parseStrictJson('{"a":1,"\\u0061":2}', "t"), duplicate);
    assert.throws(() => parseStrictJson('{"x":{"k":1,"k":1}}', "t"), duplicate);
  });

  test("refuses what JSON.parse refuses, and deep nesting", () => {
    const texts = ["", "{", '{"a":1,}', "[1,]", "01", "+1", "'a'", '"\t"', "nul", "{} {}", "NaN"];
    for (const text of texts) assert.throws(() => parseStrictJson(text, "t"), badEnvelope, text);
    assert.throws(() => parseStrictJson(`${"[".repeat(100)}${"]".repeat(100)}`, "t"), badEnvelope);
  });
});
