import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { SteleError } from "../errors.js";
import { clip, decodeBase64, sshReader, sshString } from "./ssh-wire.js";

/** A reviewer's public key: the node key, its raw 32 bytes and its encoding-independent id. */
export interface PublicKey {
  /** `sha256:<hex>` of the raw 32-byte Ed25519 public key. */
  readonly keyid: string;
  readonly key: KeyObject;
  readonly raw: Buffer;
}

/** An Ed25519 private key and the id of its public half. */
export interface PrivateKey {
  readonly keyid: string;
  readonly key: KeyObject;
  readonly publicKey: PublicKey;
}

/** A fresh key pair as files hold it: PKCS#8 PEM private key, SPKI PEM public key. */
export interface GeneratedKeyPair {
  readonly keyid: string;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
  /** The `ssh-ed25519 …` line, the form `stele.yaml` shows best. */
  readonly sshPublicKey: string;
}

const SSH_ED25519 = "ssh-ed25519";
const RAW_SIZE = 32;
// spec: RFC 8410 §4: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const KEY_HINT =
  "give an Ed25519 public key: `ssh-ed25519 AAAA…`, a `-----BEGIN PUBLIC KEY-----` PEM, or its base64; `stele keygen` makes one";

function badKey(message: string, hint = KEY_HINT, cause?: unknown): SteleError {
  return new SteleError("trust.bad_key", message, { hint, cause });
}

/** The `sha256:<hex>` id of a raw Ed25519 public key. */
export function keyIdOf(raw: Uint8Array): string {
  return `sha256:${createHash("sha256").update(raw).digest("hex")}`;
}

function requireEd25519(key: KeyObject, what: string): void {
  const type = key.asymmetricKeyType ?? "unknown";
  if (type !== "ed25519") {
    throw badKey(`${what} must be an Ed25519 key, found \`${type}\``);
  }
}

function fromRaw(raw: Buffer): PublicKey {
  if (raw.length !== RAW_SIZE) {
    throw badKey(`an Ed25519 public key is ${RAW_SIZE} bytes, found ${raw.length}`);
  }
  const key = createPublicKey({
    key: Buffer.concat([SPKI_PREFIX, raw]),
    format: "der",
    type: "spki",
  });
  return { keyid: keyIdOf(raw), key, raw: Buffer.from(raw) };
}

/** The public half of a node Ed25519 key (public or private) as a `PublicKey`. */
export function toPublicKey(key: KeyObject): PublicKey {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  requireEd25519(pub, "the key");
  const der = pub.export({ format: "der", type: "spki" });
  return fromRaw(der.subarray(SPKI_PREFIX.length));
}

/** Makes a new Ed25519 key pair. */
export function generateKeyPair(): GeneratedKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    keyid: toPublicKey(publicKey).keyid,
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    sshPublicKey: toSshPublicKey(publicKey),
  };
}

/** The OpenSSH `ssh-ed25519 AAAA…` line of an Ed25519 key. */
export function toSshPublicKey(key: KeyObject, comment?: string): string {
  const blob = Buffer.concat([sshString(SSH_ED25519), sshString(toPublicKey(key).raw)]);
  return `${SSH_ED25519} ${blob.toString("base64")}${comment ? ` ${comment}` : ""}`;
}

/** Reads an OpenSSH public key blob (`string "ssh-ed25519"`, `string key`), refusing anything else. */
export function parseSshPublicKeyBlob(blob: Uint8Array): PublicKey {
  const fail = (what: string) => badKey(`malformed OpenSSH public key: ${what}`);
  const wire = sshReader(blob, fail);
  const type = wire.text();
  if (type !== SSH_ED25519) {
    throw badKey(`an OpenSSH key must be \`${SSH_ED25519}\`, found \`${clip(type)}\``);
  }
  const raw = wire.string();
  wire.end();
  return fromRaw(Buffer.from(raw));
}

const SSH_LINE = /^(\S+)[ \t]+(\S+)(?:[ \t]+[^\r\n]*)?$/;
const PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----$/;

/**
 * Parses an Ed25519 public key written as `ssh-ed25519 AAAA… [comment]`, SPKI PEM, base64 of
 * SPKI DER, or base64 of the raw 32 bytes; every spelling of one key gives the same keyid.
 */
export function parsePublicKey(text: string): PublicKey {
  // untrusted: a key as written in a config file or on a command line
  const trimmed = text.trim();
  if (trimmed.startsWith("-----BEGIN ")) return parsePem(trimmed);
  const line = SSH_LINE.exec(trimmed);
  if (line) {
    const [, type = "", b64 = ""] = line;
    if (type !== SSH_ED25519) {
      throw badKey(`an OpenSSH key must be \`${SSH_ED25519}\`, found \`${clip(type)}\``);
    }
    const blob = decodeBase64(b64);
    if (!blob) throw badKey("malformed OpenSSH public key: its base64 is not canonical");
    return parseSshPublicKeyBlob(blob);
  }
  const bytes = decodeBase64(trimmed);
  if (!bytes) {
    throw badKey(`not a public key: \`${clip(trimmed)}\``);
  }
  if (bytes.length === RAW_SIZE) return fromRaw(bytes);
  return parseSpkiDer(bytes);
}

function parseSpkiDer(der: Buffer): PublicKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: "der", type: "spki" });
  } catch (cause) {
    throw badKey(
      `not a public key: ${der.length} bytes of base64 that are not SPKI DER`,
      KEY_HINT,
      cause,
    );
  }
  requireEd25519(key, "a reviewer key");
  const parsed = toPublicKey(key);
  // invariant: strict DER, so the key has exactly one base64 spelling of this form
  if (!Buffer.concat([SPKI_PREFIX, parsed.raw]).equals(der)) throw badKey("malformed SPKI DER");
  return parsed;
}

function parsePem(pem: string): PublicKey {
  const block = PEM_BLOCK.exec(pem);
  const label = block?.[1];
  if (label === undefined)
    throw badKey("malformed PEM: expected one `-----BEGIN PUBLIC KEY-----` block");
  if (label.includes("PRIVATE")) {
    throw badKey(
      `expected a public key, found a \`${label}\``,
      "give the public key (`NAME.pub`); never put a private key in `stele.yaml`",
    );
  }
  if (label !== "PUBLIC KEY")
    throw badKey(`expected a \`PUBLIC KEY\` PEM block, found \`${label}\``);
  const body = pem.split(/\r?\n/).slice(1, -1).join("");
  const der = decodeBase64(body);
  if (!der) throw badKey("malformed PEM: its base64 is not canonical");
  return parseSpkiDer(der);
}

const OPENSSH_PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----";

/** Whether a private key file is in OpenSSH's own format, which only ssh-keygen can sign with. */
export function isOpenSshPrivateKey(text: string): boolean {
  return text.trimStart().startsWith(OPENSSH_PRIVATE);
}

/** Parses a PKCS#8 PEM Ed25519 private key; an OpenSSH key file is refused with how to use it. */
export function parsePrivateKey(pem: string): PrivateKey {
  if (isOpenSshPrivateKey(pem)) {
    throw badKey(
      "an OpenSSH private key cannot be read directly",
      "sign with it through ssh-keygen (`stele approve --key` does this for OpenSSH key files)",
    );
  }
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (label !== "PRIVATE KEY") {
    throw badKey(
      `expected a PKCS#8 \`PRIVATE KEY\` PEM, found ${label ? `\`${label}\`` : "no PEM block"}`,
      "use the `NAME.key` file `stele keygen` wrote, or an OpenSSH ed25519 key file",
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (cause) {
    throw badKey("malformed PKCS#8 private key", undefined, cause);
  }
  requireEd25519(key, "a signing key");
  const publicKey = toPublicKey(key);
  return { keyid: publicKey.keyid, key, publicKey };
}
