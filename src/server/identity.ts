import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { formatVerifierKey } from "../ledger/index.js";

/** A decision point's own identity: its key (signs its decision log and heartbeats) and name. */
export interface PdpIdentity {
  /** `pdp-<env>-<16 hex of the key>`: stable across restarts with the same key. */
  readonly name: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Verifier key text for its checkpoints. */
  readonly vkey: string;
}

/** Loads the PDP's key from `path`, making it (mode 0600) on first start. */
export async function pdpIdentity(path: string, env: string): Promise<PdpIdentity> {
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch {
    const { privateKey } = generateKeyPairSync("ed25519");
    pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    await mkdir(dirname(path), { recursive: true });
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(pem);
      await handle.close();
    } catch {
      pem = await readFile(path, "utf8"); // another process made it first
    }
  }
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const name = `pdp-${env}-${keyTag(publicKey)}`;
  return {
    name,
    privateKey,
    publicKey,
    vkey: formatVerifierKey(pdpKeyName(name), publicKey),
  };
}

/** The name a decision point's key signs under (its decision log's checkpoints). */
export function pdpKeyName(name: string): string {
  return `stele.dev/decisions/${name}`;
}

// what a decision point's name ends with: the first 16 hex digits of its public key's SHA-256
function keyTag(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: "der", type: "spki" });
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}

/** Whether `name` has a decision point's name's form (`pdp-ENV-TAG`, TAG 16 hex digits). */
export function isPdpName(name: string): boolean {
  return /^pdp-.+-[0-9a-f]{16}$/.test(name);
}

/** Whether a decision point's name (`pdp-ENV-TAG`) is one of a decision point for `env`. */
export function isNameForEnv(name: string, env: string): boolean {
  return /^[0-9a-f]{16}$/.test(name.startsWith(`pdp-${env}-`) ? name.slice(env.length + 5) : "");
}

/** Whether a decision point's name (`pdp-ENV-TAG`) was made from this public key. */
export function isNameOf(name: string, publicKey: KeyObject): boolean {
  return name.endsWith(`-${keyTag(publicKey)}`);
}
