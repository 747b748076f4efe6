import { canonicalJson, type Digest, digestOf, isDigest } from "../bundle/index.js";
import { SteleError } from "../errors.js";

/** The class a release record gives its change (DESIGN promise 5); `initial` for an env's first. */
export type ReleaseClass = "initial" | "weakening" | "strengthening" | "equivalent";

/** One change as the record keeps it. */
export interface RecordedChange {
  readonly class: "weakening" | "strengthening" | "neutral";
  readonly subject: string;
  readonly description: string;
}

/** A release: the act that makes a bundle what an environment runs (DESIGN promise 8). */
export interface ReleaseRecord {
  readonly type: "stele.release/v1";
  readonly env: string;
  /** Per environment, strictly increasing (DESIGN promise 6). */
  readonly version: number;
  readonly bundle: Digest;
  /** The digest the environment ran before, or null for its first release. */
  readonly previous: Digest | null;
  /** Digests of the approval envelopes that made the quorum, each also a ledger entry. */
  readonly approvals: readonly Digest[];
  readonly class: ReleaseClass;
  readonly changes: readonly RecordedChange[];
  readonly justification: string | null;
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
  readonly promotedFrom: string | null;
  /** RFC 3339. */
  readonly time: string;
  readonly releasedBy: string;
}

/** An approval as the ledger keeps it: the signed DSSE envelope, verbatim. */
export interface ApprovalEntry {
  readonly type: "stele.approval/v1";
  /** untrusted: verified against the config in force whenever it is counted */
  readonly envelope: unknown;
}

/** Any ledger entry. */
export type Entry = ReleaseRecord | ApprovalEntry;

/** The exact bytes of an entry, the data its Merkle leaf hashes. */
export function encodeEntry(entry: Entry): Buffer {
  return Buffer.from(canonicalJson(entry), "utf8");
}

/** The digest an approval is referred to by: of its envelope's canonical JSON. */
export function approvalDigest(envelope: unknown): Digest {
  return digestOf(canonicalJson(envelope));
}

const RELEASE_FIELDS = [
  "type",
  "env",
  "version",
  "bundle",
  "previous",
  "approvals",
  "class",
  "changes",
  "justification",
  "git",
  "promotedFrom",
  "time",
  "releasedBy",
].sort();

/**
 * Parses one ledger entry strictly: canonical bytes, a known type, exactly its fields. An
 * approval envelope replayed as a release record, or a record with an extra field, is refused.
 */
export function parseEntry(bytes: Uint8Array, index: number): Entry {
  // untrusted: ledger entries are files anyone with disk access could have edited
  const bad = (what: string) =>
    new SteleError("ledger.tampered", `ledger entry ${index} is malformed: ${what}`, {
      hint: "the ledger was edited by hand; restore the store from a copy",
    });
  const text = Buffer.from(bytes).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  if (!isRecord(value)) throw bad("not an object");
  if (canonicalJson(value) !== text) throw bad("not in canonical form");
  if (value.type === "stele.approval/v1") {
    if (Object.keys(value).sort().join() !== "envelope,type") throw bad("unexpected fields");
    return { type: "stele.approval/v1", envelope: value.envelope };
  }
  if (value.type !== "stele.release/v1") throw bad(`unknown type \`${String(value.type)}\``);
  if (Object.keys(value).sort().join() !== RELEASE_FIELDS.join()) throw bad("unexpected fields");
  const v = value;
  const str = (x: unknown) => typeof x === "string";
  const digest = (x: unknown) => typeof x === "string" && isDigest(x);
  if (!str(v.env) || !str(v.time) || !str(v.releasedBy))
    throw bad("env, time and releasedBy must be strings");
  if (!Number.isSafeInteger(v.version) || (v.version as number) < 1)
    throw bad("version must be a positive integer");
  if (!digest(v.bundle)) throw bad("bundle must be a digest");
  if (v.previous !== null && !digest(v.previous)) throw bad("previous must be a digest or null");
  if (!Array.isArray(v.approvals) || !v.approvals.every(digest))
    throw bad("approvals must be digests");
  if (!["initial", "weakening", "strengthening", "equivalent"].includes(v.class as string))
    throw bad("unknown class");
  if (!Array.isArray(v.changes) || !v.changes.every(isChange)) throw bad("changes are malformed");
  if (v.justification !== null && !str(v.justification))
    throw bad("justification must be a string or null");
  if (v.promotedFrom !== null && !str(v.promotedFrom))
    throw bad("promotedFrom must be a string or null");
  if (v.git !== null && !(isRecord(v.git) && str(v.git.commit) && typeof v.git.dirty === "boolean"))
    throw bad("git must be {commit, dirty} or null");
  return value as unknown as ReleaseRecord;
}

function isChange(x: unknown): boolean {
  return (
    isRecord(x) &&
    Object.keys(x).length === 3 &&
    ["weakening", "strengthening", "neutral"].includes(x.class as string) &&
    typeof x.subject === "string" &&
    typeof x.description === "string"
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
