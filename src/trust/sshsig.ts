import { spawn } from "node:child_process";
import { createHash, verify } from "node:crypto";
import { SteleError } from "../errors.js";
import { type PublicKey, parseSshPublicKeyBlob } from "./keys.js";
import { clip, decodeBase64, sshReader, sshString } from "./ssh-wire.js";

/** The SSHSIG namespace every Stele signature is made in, so no other use of the key can be replayed. */
export const SSHSIG_NAMESPACE = "stele";

// spec: openssh PROTOCOL.sshsig §2: the 6-byte magic preamble, version 1
const MAGIC = Buffer.from("SSHSIG", "ascii");
const VERSION = 1;
const HASHES = new Set(["sha256", "sha512"]);
const BEGIN = "-----BEGIN SSH SIGNATURE-----";
const END = "-----END SSH SIGNATURE-----";

/** An SSHSIG blob, parsed and not yet verified. */
interface SshSig {
  readonly publicKey: PublicKey;
  readonly namespace: string;
  readonly reserved: Buffer;
  readonly hashAlgorithm: string;
  readonly signature: Buffer;
}

function badSig(message: string): SteleError {
  return new SteleError("trust.bad_signature", message, {
    hint: `sign with \`ssh-keygen -Y sign -n ${SSHSIG_NAMESPACE} -f KEYFILE\` over the exact message`,
  });
}

/** Whether bytes begin with the SSHSIG magic preamble. */
export function isSshSig(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .subarray(0, MAGIC.length)
    .equals(MAGIC);
}

/** The blob inside an armored `-----BEGIN SSH SIGNATURE-----` block. */
export function parseSshSignatureArmor(text: string): Buffer {
  // untrusted: signature text from a file or another process
  const lines = text.trim().split(/\r?\n/);
  if (lines.length < 3 || lines[0] !== BEGIN || lines[lines.length - 1] !== END) {
    throw badSig(`malformed SSH signature: expected a \`${BEGIN}\` block`);
  }
  const blob = decodeBase64(lines.slice(1, -1).join(""));
  if (!blob) throw badSig("malformed SSH signature: its base64 is not canonical");
  return blob;
}

function parseSshSig(blob: Uint8Array): SshSig {
  // spec: PROTOCOL.sshsig §2: MAGIC ‖ uint32 version ‖ string publickey ‖ string namespace ‖
  // string reserved ‖ string hash_algorithm ‖ string signature
  const fail = (what: string) => badSig(`malformed SSH signature: ${what}`);
  if (!isSshSig(blob)) throw fail("no `SSHSIG` preamble");
  const wire = sshReader(blob.subarray(MAGIC.length), fail);
  const version = wire.uint32();
  if (version !== VERSION) throw fail(`expected version ${VERSION}, found ${version}`);
  const publicKey = parseSshPublicKeyBlob(wire.string());
  const namespace = wire.string().toString("utf8");
  const reserved = wire.string();
  const hashAlgorithm = wire.text();
  const sigBlob = wire.string();
  wire.end();
  // spec: RFC 8709 §6: string "ssh-ed25519" ‖ string signature (64 bytes)
  const inner = sshReader(sigBlob, fail);
  const sigType = inner.text();
  if (sigType !== "ssh-ed25519")
    throw fail(`expected an \`ssh-ed25519\` signature, found \`${clip(sigType)}\``);
  const signature = inner.string();
  inner.end();
  if (signature.length !== 64)
    throw fail(`an Ed25519 signature is 64 bytes, found ${signature.length}`);
  return { publicKey, namespace, reserved, hashAlgorithm, signature };
}

/** The public key an SSHSIG blob claims to be by; a claim only, until it verifies. */
export function sshSignatureKey(blob: Uint8Array): PublicKey {
  return parseSshSig(blob).publicKey;
}

/**
 * Verifies an SSHSIG (armored or raw blob) over `message`: it must be made in the `stele`
 * namespace by exactly `key`; throws `trust.bad_signature` otherwise.
 */
export function verifySshSignature(
  signature: string | Uint8Array,
  message: Uint8Array,
  key: PublicKey,
): void {
  const sig = parseSshSig(
    typeof signature === "string" ? parseSshSignatureArmor(signature) : signature,
  );
  if (sig.namespace !== SSHSIG_NAMESPACE) {
    throw badSig(
      `SSH signature namespace must be \`${SSHSIG_NAMESPACE}\`, found \`${clip(sig.namespace)}\``,
    );
  }
  // the embedded key is only a claim: it must be the very key the caller trusts
  if (!sig.publicKey.raw.equals(key.raw)) {
    throw badSig(`SSH signature is by \`${sig.publicKey.keyid}\`, expected \`${key.keyid}\``);
  }
  if (!HASHES.has(sig.hashAlgorithm)) {
    throw badSig(
      `SSH signature hash must be \`sha256\` or \`sha512\`, found \`${sig.hashAlgorithm}\``,
    );
  }
  const signed = Buffer.concat([
    MAGIC,
    sshString(sig.namespace),
    sshString(sig.reserved),
    sshString(sig.hashAlgorithm),
    sshString(createHash(sig.hashAlgorithm).update(message).digest()),
  ]);
  if (!verify(null, signed, key.key, sig.signature)) {
    throw badSig(`SSH signature by \`${key.keyid}\` does not verify`);
  }
}

/**
 * Signs `message` with an OpenSSH key file by running `ssh-keygen -Y sign -n stele`, returning
 * the armored signature; a missing ssh-keygen or a refused key is `trust.bad_key`.
 */
export function signWithSshKeygen(message: Uint8Array, keyFile: string): Promise<string> {
  const fail = (why: string, cause?: unknown) =>
    new SteleError("trust.bad_key", `cannot sign with \`${keyFile}\`: ${why}`, {
      hint: "give an unencrypted OpenSSH ed25519 key file (or one loaded in ssh-agent), or a PKCS#8 key from `stele keygen`",
      cause,
    });
  return new Promise((resolve, reject) => {
    const child = spawn("ssh-keygen", ["-Y", "sign", "-n", SSHSIG_NAMESPACE, "-f", keyFile], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (cause) => reject(fail(`ssh-keygen did not run (${cause.message})`, cause)));
    // a key ssh-keygen rejects closes stdin early; the exit status reports that, not EPIPE
    child.stdin.on("error", () => {});
    child.on("close", (code) => {
      const text = Buffer.concat(out).toString("utf8");
      if (code !== 0) {
        const why = Buffer.concat(err).toString("utf8").trim().split(/\r?\n/).pop() ?? "";
        reject(fail(`ssh-keygen exited with ${code}${why ? `: ${clip(why)}` : ""}`));
      } else if (!text.includes(BEGIN)) {
        reject(fail("ssh-keygen printed no signature"));
      } else {
        resolve(text.slice(text.indexOf(BEGIN)));
      }
    });
    child.stdin.end(message);
  });
}
