import { type KeyObject, sign, verify } from "node:crypto";
import { SteleError } from "../errors.js";
import type { PublicKey } from "./keys.js";
import { clip, decodeBase64 } from "./ssh-wire.js";
import { isSshSig, verifySshSignature } from "./sshsig.js";
import { parseStrictJson } from "./strict-json.js";

/** A DSSE v1 envelope as stored on disk; every field is untrusted until verified. */
export interface Envelope {
  readonly payloadType: string;
  /** Standard base64 of the payload bytes. */
  readonly payload: string;
  readonly signatures: readonly EnvelopeSignature[];
}

/** One DSSE signature: base64 of a raw Ed25519 signature or of an SSHSIG blob, over the PAE bytes. */
export interface EnvelopeSignature {
  /** `sha256:<hex>` of the signer's raw public key: a hint, never trusted by itself. */
  readonly keyid: string;
  readonly sig: string;
}

/** A payload whose signature verified, with the keys that signed it. */
export interface VerifiedPayload {
  readonly payloadType: string;
  readonly payload: Buffer;
  readonly signedBy: readonly PublicKey[];
}

const MAX_ENVELOPE_BYTES = 1024 * 1024;
const MAX_SIGNATURES = 16;
const KEYID = /^sha256:[0-9a-f]{64}$/;
const ENVELOPE_FIELDS = ["payload", "payloadType", "signatures"];
const SIGNATURE_FIELDS = ["keyid", "sig"];

/** DSSE v1 pre-authentication encoding: the exact bytes a signature covers. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  // spec: DSSE v1 protocol.md: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
  const type = Buffer.from(payloadType, "utf8");
  const ascii = (s: string) => Buffer.from(s, "ascii");
  return Buffer.concat([
    ascii(`DSSEv1 ${type.length} `),
    type,
    ascii(` ${payload.length} `),
    payload,
  ]);
}

/** Signs a payload into a one-signature envelope with an Ed25519 private key. */
export function signEnvelope(
  payloadType: string,
  payload: Uint8Array,
  privateKey: KeyObject,
  keyid: string,
): Envelope {
  const sig = sign(null, pae(payloadType, payload), privateKey);
  return {
    payloadType,
    payload: Buffer.from(payload).toString("base64"),
    signatures: [{ keyid, sig: sig.toString("base64") }],
  };
}

function badEnvelope(what: string): SteleError {
  return new SteleError("trust.bad_envelope", `malformed DSSE envelope: ${what}`, {
    hint: "use the envelope exactly as `stele approve` wrote it",
  });
}

function requireFields(
  value: unknown,
  fields: readonly string[],
  where: string,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badEnvelope(`${where} must be an object`);
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  for (const key of keys) {
    if (!fields.includes(key)) throw badEnvelope(`unknown field \`${clip(key)}\` in ${where}`);
  }
  for (const field of fields) {
    if (!(field in record)) throw badEnvelope(`missing field \`${field}\` in ${where}`);
  }
  return record;
}

function base64Field(value: unknown, where: string): string {
  if (typeof value !== "string" || value === "" || !decodeBase64(value)) {
    throw badEnvelope(`${where} must be non-empty canonical base64`);
  }
  return value;
}

/** Checks a parsed value has exactly the DSSE envelope shape; throws `trust.bad_envelope`. */
export function toEnvelope(value: unknown): Envelope {
  // untrusted: anything may arrive here, from a file, the ledger or the network
  const record = requireFields(value, ENVELOPE_FIELDS, "the envelope");
  const { payloadType, payload, signatures } = record;
  if (typeof payloadType !== "string" || payloadType === "") {
    throw badEnvelope("`payloadType` must be a non-empty string");
  }
  if (!Array.isArray(signatures) || signatures.length === 0) {
    throw badEnvelope("`signatures` must be a non-empty list");
  }
  if (signatures.length > MAX_SIGNATURES) {
    throw badEnvelope(`at most ${MAX_SIGNATURES} signatures, found ${signatures.length}`);
  }
  const seen = new Set<string>();
  const sigs = signatures.map((entry: unknown, i): EnvelopeSignature => {
    const where = `signature ${i}`;
    const fields = requireFields(entry, SIGNATURE_FIELDS, where);
    const { keyid, sig } = fields;
    if (typeof keyid !== "string" || !KEYID.test(keyid)) {
      throw badEnvelope(`${where}: \`keyid\` must be \`sha256:<64 hex>\``);
    }
    if (seen.has(keyid)) throw badEnvelope(`two signatures by \`${keyid}\``);
    seen.add(keyid);
    return { keyid, sig: base64Field(sig, `${where}: \`sig\``) };
  });
  return { payloadType, payload: base64Field(payload, "`payload`"), signatures: sigs };
}

/** Parses envelope JSON strictly: exact shape, canonical base64, no duplicate keys. */
export function parseEnvelope(text: string): Envelope {
  if (text.length > MAX_ENVELOPE_BYTES) {
    throw badEnvelope(`larger than ${MAX_ENVELOPE_BYTES} bytes`);
  }
  return toEnvelope(parseStrictJson(text, "the envelope"));
}

function verifies(signed: Buffer, key: PublicKey, sigBase64: string): boolean {
  const sig = decodeBase64(sigBase64);
  if (!sig) return false;
  if (isSshSig(sig)) {
    try {
      verifySshSignature(sig, signed, key);
      return true;
    } catch (e) {
      if (e instanceof SteleError) return false;
      throw e;
    }
  }
  return sig.length === 64 && verify(null, signed, key.key, sig);
}

/**
 * Returns the payload only once every signature by a known key verifies over its PAE bytes;
 * signatures by other keys are ignored, and an envelope no known key signed is refused.
 */
export function verifyEnvelope(envelope: Envelope, keys: readonly PublicKey[]): VerifiedPayload {
  const checked = toEnvelope(envelope);
  const byKeyId = new Map(keys.map((k) => [k.keyid, k]));
  // invariant: toEnvelope accepted the payload as canonical base64
  const payload = decodeBase64(checked.payload) ?? Buffer.alloc(0);
  const signed = pae(checked.payloadType, payload);
  const signedBy: PublicKey[] = [];
  for (const { keyid, sig } of checked.signatures) {
    const key = byKeyId.get(keyid);
    if (!key) continue; // a key nobody configured counts for nothing
    if (!verifies(signed, key, sig)) {
      throw new SteleError("trust.bad_signature", `signature by \`${keyid}\` does not verify`, {
        hint: "the envelope was changed after signing; sign the exact bytes again",
      });
    }
    signedBy.push(key);
  }
  if (signedBy.length === 0) {
    const ids = checked.signatures.map((s) => `\`${s.keyid}\``).join(", ");
    throw new SteleError(
      "trust.unknown_reviewer",
      `expected a signature by a configured key, found only ${ids}`,
      { hint: "add the signer's public key to `reviewers` in `stele.yaml` (a reviewed change)" },
    );
  }
  return { payloadType: checked.payloadType, payload, signedBy };
}
