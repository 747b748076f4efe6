import { createHash, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { SteleError } from "../errors.js";

// spec: c2sp.org/signed-note "Signature types": 0x01 is Ed25519
const ED25519 = 0x01;
const SIGNATURE_PREFIX = "\u2014 ";
// spec: c2sp.org/signed-note verifiers must accept at least 16; golang.org/x/mod/sumdb/note stops at 100
const MAX_SIGNATURES = 100;

/** A public key that may verify notes: its name, 32-bit key ID and Ed25519 key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly publicKey: KeyObject;
}

/** One signature line of a note, as parsed and not yet verified. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  readonly signature: Uint8Array;
}

/** A note whose text carries at least one valid signature by a known key. */
export interface VerifiedNote {
  readonly text: string;
  /** The known keys whose signatures verified. */
  readonly verifiedBy: readonly { readonly name: string; readonly keyId: number }[];
  /** Signatures by keys the caller did not name: ignored, as the spec requires. */
  readonly unknown: readonly NoteSignature[];
}

function badNote(message: string): SteleError {
  return new SteleError("ledger.bad_note", message);
}

function badKey(message: string): SteleError {
  return new SteleError("ledger.bad_key", message);
}

/** Untrusted text cut to a length fit for a one-line error message. */
export function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

const hex8 = (keyId: number): string => keyId.toString(16).padStart(8, "0");
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NAME_FORBIDDEN = /[\p{White_Space}+]/u;
/** Whether text holds an ASCII control character (below U+0020), newline excepted if allowed. */
export function hasControl(text: string, allowNewline: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && !(allowNewline && c === 0x0a)) return true;
  }
  return false;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Whether `name` is a valid key name: non-empty, no Unicode spaces, no `+`. */
export function isValidKeyName(name: string): boolean {
  // spec: c2sp.org/signed-note "Key names MUST be non-empty and MUST NOT contain any Unicode spaces or plus"
  return (
    name.length > 0 &&
    !NAME_FORBIDDEN.test(name) &&
    !hasControl(name, false) &&
    !LONE_SURROGATE.test(name)
  );
}

function requireKeyName(name: string): void {
  if (!isValidKeyName(name)) {
    throw badKey(`key name \`${name}\` must be non-empty and contain no spaces or \`+\``);
  }
}

/** Strict standard base64 (RFC 4648 §4) with canonical padding bits; undefined when malformed. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  // non-zero padding bits would decode too: refuse every encoding but the one we would write
  return bytes.toString("base64") === text ? new Uint8Array(bytes) : undefined;
}

function rawPublicKey(key: KeyObject): Uint8Array {
  if (key.type !== "public" || key.asymmetricKeyType !== "ed25519") {
    throw badKey("a note verifier needs an Ed25519 public key");
  }
  const x = key.export({ format: "jwk" }).x;
  if (typeof x !== "string") throw badKey("could not read the Ed25519 public key");
  return new Uint8Array(Buffer.from(x, "base64url"));
}

/** The C2SP key ID of an Ed25519 key under `name`: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]. */
export function noteKeyId(name: string, publicKey: KeyObject): number {
  requireKeyName(name);
  // spec: c2sp.org/signed-note "Ed25519 signatures": key ID = SHA-256(key name || 0x0A || 0x01 || key)[:4]
  const digest = createHash("sha256")
    .update(name)
    .update(Uint8Array.of(0x0a, ED25519))
    .update(rawPublicKey(publicKey))
    .digest();
  return digest.readUInt32BE(0);
}

/** The verifier key text `<name>+<hex key ID>+<base64(0x01 ‖ key)>` that clients configure. */
export function formatVerifierKey(name: string, publicKey: KeyObject): string {
  const keyId = noteKeyId(name, publicKey);
  const encoded = Buffer.concat([Uint8Array.of(ED25519), rawPublicKey(publicKey)]).toString(
    "base64",
  );
  return `${name}+${hex8(keyId)}+${encoded}`;
}

/** Parses verifier key text; throws `ledger.bad_key` unless it names a well-formed Ed25519 key. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  // the name has no `+` and the key ID is hex, so the first two `+` split it; base64 may hold more
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  const name = vkey.slice(0, Math.max(first, 0));
  const id = vkey.slice(first + 1, Math.max(second, 0));
  const data = vkey.slice(second + 1);
  if (second < 0 || !isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(id)) {
    throw badKey(`verifier key \`${clip(vkey)}\` is not \`<name>+<8 hex digits>+<base64 key>\``);
  }
  const key = decodeBase64(data);
  if (key === undefined || key.length !== 33 || key[0] !== ED25519) {
    throw badKey(`verifier key \`${name}+${id}\` is not an Ed25519 key`);
  }
  const publicKey = createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(key.subarray(1)).toString("base64url") },
    format: "jwk",
  });
  const keyId = noteKeyId(name, publicKey);
  if (hex8(keyId) !== id)
    throw badKey(
      `verifier key \`${name}+${id}\` has the wrong key ID, expected \`${hex8(keyId)}\``,
    );
  return { name, keyId, publicKey };
}

/** A verifier for a public key under `name`. */
export function toNoteVerifier(name: string, publicKey: KeyObject): NoteVerifier {
  return { name, keyId: noteKeyId(name, publicKey), publicKey };
}

function requireNoteText(text: string, what: string): void {
  if (LONE_SURROGATE.test(text)) throw badNote(`${what} is not valid UTF-8`);
  // spec: c2sp.org/signed-note "MUST NOT contain any ASCII control characters ... other than newline"
  if (hasControl(text, true)) throw badNote(`${what} contains a control character`);
}

/** Signs note text (which must end in a newline) with an Ed25519 private key under `name`. */
export function signNote(text: string, privateKey: KeyObject, name: string): string {
  requireKeyName(name);
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
    throw badKey("a note signer needs an Ed25519 private key");
  }
  requireNoteText(text, "note text");
  // spec: c2sp.org/signed-note "a text ending in newline"
  if (!text.endsWith("\n")) throw badNote("note text must end with a newline");
  const keyId = noteKeyId(name, createPublicKey(privateKey));
  const id = Buffer.alloc(4);
  id.writeUInt32BE(keyId);
  const signature = sign(null, Buffer.from(text, "utf8"), privateKey);
  return `${text}\n${SIGNATURE_PREFIX}${name} ${Buffer.concat([id, signature]).toString("base64")}\n`;
}

function decodeNote(note: string | Uint8Array): string {
  if (typeof note === "string") return note;
  try {
    // keep a leading byte order mark: it is part of the signed bytes
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(note);
  } catch {
    throw badNote("note is not valid UTF-8");
  }
}

/** Splits a signed note into its text and signature lines without verifying anything. */
export function parseNote(note: string | Uint8Array): {
  text: string;
  signatures: NoteSignature[];
} {
  // untrusted: the whole note, until a known key's signature over its text verifies
  const message = decodeNote(note);
  requireNoteText(message, "note");
  // spec: c2sp.org/signed-note the text is separated from the signatures by the last empty line
  const split = message.lastIndexOf("\n\n");
  if (split < 0) throw badNote("note has no blank line before its signatures");
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block === "" || !block.endsWith("\n"))
    throw badNote("note signatures must end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES)
    throw badNote(`note has ${lines.length} signatures, more than ${MAX_SIGNATURES}`);
  const signatures = lines.map((line): NoteSignature => {
    if (!line.startsWith(SIGNATURE_PREFIX))
      throw badNote(`note signature line \`${clip(line)}\` does not start with an em dash`);
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    const name = space < 0 ? rest : rest.slice(0, space);
    const bytes = space < 0 ? undefined : decodeBase64(rest.slice(space + 1));
    if (!isValidKeyName(name) || bytes === undefined || bytes.length < 5) {
      throw badNote(`note signature line \`${clip(line)}\` is malformed`);
    }
    const keyId = Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32BE(0);
    return { name, keyId, signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Verifies a signed note against known keys; throws `ledger.bad_note` when malformed and
 * `ledger.bad_signature` when a known key's signature fails or no known key signed it.
 */
export function verifyNote(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
): VerifiedNote {
  const known = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const id = `${v.name}+${hex8(v.keyId)}`;
    if (known.has(id)) throw badKey(`two verifier keys share the name and key ID \`${id}\``);
    known.set(id, v);
  }
  const { text, signatures } = parseNote(note);
  const message = Buffer.from(text, "utf8");
  const verifiedBy: { name: string; keyId: number }[] = [];
  const unknown: NoteSignature[] = [];
  for (const s of signatures) {
    const id = `${s.name}+${hex8(s.keyId)}`;
    const v = known.get(id);
    // spec: c2sp.org/signed-note "Verifiers MUST ignore signatures from unknown keys"
    if (v === undefined) {
      unknown.push(s);
      continue;
    }
    // spec: c2sp.org/signed-note "If a signature from a known key fails to verify, clients SHOULD reject the whole note"
    if (s.signature.length !== 64 || !verify(null, message, v.publicKey, s.signature)) {
      throw new SteleError("ledger.bad_signature", `note signature by \`${id}\` does not verify`);
    }
    if (!verifiedBy.some((b) => b.name === s.name && b.keyId === s.keyId))
      verifiedBy.push({ name: s.name, keyId: s.keyId });
  }
  // spec: c2sp.org/signed-note "If no signature from a known key verifies successfully, clients MUST reject the note"
  if (verifiedBy.length === 0) {
    const wanted = verifiers.map((v) => `\`${v.name}+${hex8(v.keyId)}\``).join(", ") || "no keys";
    throw new SteleError(
      "ledger.bad_signature",
      `note has no signature by a known key, expected one of ${wanted}`,
    );
  }
  return { text, verifiedBy, unknown };
}
