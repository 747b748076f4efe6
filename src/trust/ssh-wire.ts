import type { SteleError } from "../errors.js";

// spec: RFC 4251 §5: uint32 is big-endian; string is a uint32 length then that many bytes

/** A strict reader of the SSH wire format: every read is bounds-checked and nothing may trail. */
export interface SshReader {
  uint32(): number;
  string(): Buffer;
  /** A string that must be ASCII text. */
  text(): string;
  /** Fails unless every byte has been read. */
  end(): void;
}

/** Reads `bytes` as SSH wire data, throwing `fail(what)` on anything short, long or malformed. */
export function sshReader(bytes: Uint8Array, fail: (what: string) => SteleError): SshReader {
  // untrusted: blobs arrive inside keys and signatures that have not been verified
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const uint32 = (): number => {
    if (buf.length - at < 4) throw fail("truncated length");
    const n = buf.readUInt32BE(at);
    at += 4;
    return n;
  };
  const string = (): Buffer => {
    const n = uint32();
    if (n > buf.length - at) throw fail("a length runs past the end");
    const out = buf.subarray(at, at + n);
    at += n;
    return out;
  };
  return {
    uint32,
    string,
    text: () => {
      const s = string();
      for (const c of s) if (c < 0x20 || c > 0x7e) throw fail("a name is not printable ASCII");
      return s.toString("latin1");
    },
    end: () => {
      if (at !== buf.length) throw fail(`${buf.length - at} trailing bytes`);
    },
  };
}

/** SSH wire encoding of a string: its uint32 length, then its bytes. */
export function sshString(value: string | Uint8Array): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard padded base64, or returns undefined unless it is in canonical form. */
export function decodeBase64(text: string): Buffer | undefined {
  // invariant: canonical means re-encoding gives the same text, so one value has one spelling
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}

/** Untrusted text cut to a length fit for a one-line error message, control characters shown as `?`. */
export function clip(text: string): string {
  let line = "";
  for (const c of text.slice(0, 49)) {
    const code = c.charCodeAt(0);
    line += code < 0x20 || code === 0x7f ? "?" : c;
  }
  return text.length > 48 ? `${line.slice(0, 48)}…` : line;
}
