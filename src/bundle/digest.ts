import { createHash } from "node:crypto";

/** A content digest as Stele writes it everywhere: `sha256:<64 lowercase hex>`. */
export type Digest = `sha256:${string}`;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The `sha256:<hex>` digest of some bytes. */
export function digestOf(bytes: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Whether a string is a well-formed digest. */
export function isDigest(text: string): text is Digest {
  return DIGEST.test(text);
}
