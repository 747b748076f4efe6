import { SteleError } from "../errors.js";
import { type Envelope, pae, signEnvelope, verifyEnvelope } from "./dsse.js";
import { isOpenSshPrivateKey, type PrivateKey, parsePrivateKey } from "./keys.js";
import type { Reviewer } from "./reviewers.js";
import { clip } from "./ssh-wire.js";
import {
  parseSshSignatureArmor,
  signWithSshKeygen,
  sshSignatureKey,
  verifySshSignature,
} from "./sshsig.js";
import { parseStrictJson } from "./strict-json.js";

/** The DSSE payload type of an approval: an in-toto Statement. */
export const APPROVAL_PAYLOAD_TYPE = "application/vnd.in-toto+json";
/** The in-toto Statement v1 `_type`. */
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
/** The predicate type that makes an in-toto Statement a Stele approval. */
export const APPROVAL_PREDICATE_TYPE = "https://stele.dev/approval/v1";

/** What an approval says: this reviewer approves this bundle digest for this environment. */
export interface Approval {
  /** `sha256:<hex>` of the bundle. */
  readonly digest: string;
  readonly env: string;
  readonly reviewer: string;
  /** RFC 3339. */
  readonly time: string;
  readonly justification?: string;
}

/** An approval as its in-toto Statement v1 spells it. */
export interface ApprovalStatement {
  readonly _type: typeof STATEMENT_TYPE;
  readonly subject: readonly [
    { readonly name: "bundle"; readonly digest: { readonly sha256: string } },
  ];
  readonly predicateType: typeof APPROVAL_PREDICATE_TYPE;
  readonly predicate: {
    readonly env: string;
    readonly reviewer: string;
    readonly time: string;
    readonly justification?: string;
  };
}

/** An approval whose signature by the reviewer it names verified. */
export interface VerifiedApproval {
  readonly approval: Approval;
  readonly statement: ApprovalStatement;
  /** The configured reviewer who signed; always the one the statement names. */
  readonly reviewer: string;
  readonly keyid: string;
}

/** What signs an approval: a PKCS#8 key, or an OpenSSH key file that ssh-keygen signs with. */
export type ApprovalSigner = PrivateKey | { readonly sshKeyFile: string };

const HEX64 = /^[0-9a-f]{64}$/;
const DIGEST = /^sha256:([0-9a-f]{64})$/;
// one line of printable text: no C0 control characters and no DEL
const NAME = /^[ -~\u0080-\uffff]{1,256}$/;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|([+-])(\d{2}):(\d{2}))$/;
const MAX_JUSTIFICATION = 4096;

/** Whether text is an RFC 3339 date-time (`T` and `Z` upper case) naming a real instant. */
export function isRfc3339(text: string): boolean {
  const m = RFC3339.exec(text);
  if (!m) return false;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m
    .slice(1, 7)
    .map(Number);
  const [offsetHour, offsetMinute] = [Number(m[8] ?? 0), Number(m[9] ?? 0)];
  // day 0 of the next month is the last day of this one
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour < 24 &&
    minute < 60 &&
    second <= 60 &&
    offsetHour < 24 &&
    offsetMinute < 60
  );
}

function badApproval(what: string): SteleError {
  return new SteleError("trust.bad_approval", `malformed approval: ${what}`, {
    hint: "make approvals with `stele approve BUNDLE --env ENV --key FILE`",
  });
}

function exactly(
  value: unknown,
  fields: readonly string[],
  optional: readonly string[],
  where: string,
) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badApproval(`${where} must be an object`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!fields.includes(key) && !optional.includes(key)) {
      throw badApproval(`unknown field \`${clip(key)}\` in ${where}`);
    }
  }
  for (const field of fields) {
    if (!(field in record)) throw badApproval(`missing field \`${field}\` in ${where}`);
  }
  return record;
}

function text(
  value: unknown,
  where: string,
  expected = "a non-empty line of text",
  isValid = (s: string) => NAME.test(s),
): string {
  if (typeof value !== "string" || !isValid(value)) {
    const found = typeof value === "string" ? `\`${clip(value)}\`` : typeof value;
    throw badApproval(`\`${where}\` must be ${expected}, found ${found}`);
  }
  return value;
}

/** Checks a value has exactly the approval Statement shape and returns the claims it makes. */
function toApproval(value: unknown): { statement: ApprovalStatement; approval: Approval } {
  // untrusted: until the caller has verified a signature over the bytes this came from
  const top = exactly(
    value,
    ["_type", "subject", "predicateType", "predicate"],
    [],
    "the statement",
  );
  if (top._type !== STATEMENT_TYPE) {
    throw badApproval(
      `expected \`_type\` \`${STATEMENT_TYPE}\`, found \`${clip(String(top._type))}\``,
    );
  }
  if (top.predicateType !== APPROVAL_PREDICATE_TYPE) {
    throw badApproval(
      `expected \`predicateType\` \`${APPROVAL_PREDICATE_TYPE}\`, found \`${clip(String(top.predicateType))}\``,
    );
  }
  const subjects = top.subject;
  if (!Array.isArray(subjects) || subjects.length !== 1) {
    throw badApproval("expected exactly one `subject`");
  }
  const subject = exactly(subjects[0], ["name", "digest"], [], "the subject");
  if (subject.name !== "bundle") throw badApproval("the subject's `name` must be `bundle`");
  const digests = exactly(subject.digest, ["sha256"], [], "the subject's `digest`");
  const hex = text(digests.sha256, "subject.digest.sha256", "64 lowercase hex digits", (s) =>
    HEX64.test(s),
  );
  const predicate = exactly(
    top.predicate,
    ["env", "reviewer", "time"],
    ["justification"],
    "the predicate",
  );
  const env = text(predicate.env, "predicate.env");
  const reviewer = text(predicate.reviewer, "predicate.reviewer");
  const time = text(predicate.time, "predicate.time", "an RFC 3339 time", isRfc3339);
  const justification = predicate.justification;
  if (
    justification !== undefined &&
    (typeof justification !== "string" ||
      justification.trim() === "" ||
      justification.length > MAX_JUSTIFICATION)
  ) {
    throw badApproval(
      `\`predicate.justification\` must be non-empty text of at most ${MAX_JUSTIFICATION} characters`,
    );
  }
  const claims = { env, reviewer, time, ...(justification !== undefined && { justification }) };
  return {
    statement: {
      _type: STATEMENT_TYPE,
      subject: [{ name: "bundle", digest: { sha256: hex } }],
      predicateType: APPROVAL_PREDICATE_TYPE,
      predicate: claims,
    },
    approval: { digest: `sha256:${hex}`, ...claims },
  };
}

/** The exact payload bytes of an approval; refuses claims that verification would refuse. */
function encodeApproval(approval: Approval): Buffer {
  const hex = DIGEST.exec(approval.digest)?.[1];
  if (hex === undefined) {
    throw badApproval(`expected a digest \`sha256:<64 hex>\`, found \`${clip(approval.digest)}\``);
  }
  const { env, reviewer, time, justification } = approval;
  const statement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: "bundle", digest: { sha256: hex } }],
    predicateType: APPROVAL_PREDICATE_TYPE,
    predicate: { env, reviewer, time, ...(justification !== undefined && { justification }) },
  };
  toApproval(statement); // invariant: never sign what verifyApproval would refuse
  return Buffer.from(JSON.stringify(statement), "utf8");
}

/** Picks the signer for a key file's text: OpenSSH key files go through ssh-keygen, PKCS#8 is read here. */
export function parseSigner(text: string, keyFile: string): ApprovalSigner {
  return isOpenSshPrivateKey(text) ? { sshKeyFile: keyFile } : parsePrivateKey(text);
}

/** Signs an approval of a bundle digest for an environment as a DSSE envelope. */
export async function createApproval(
  approval: Approval,
  signer: ApprovalSigner,
): Promise<Envelope> {
  const payload = encodeApproval(approval);
  if (!("sshKeyFile" in signer)) {
    return signEnvelope(APPROVAL_PAYLOAD_TYPE, payload, signer.key, signer.keyid);
  }
  const signed = pae(APPROVAL_PAYLOAD_TYPE, payload);
  const blob = parseSshSignatureArmor(await signWithSshKeygen(signed, signer.sshKeyFile));
  const key = sshSignatureKey(blob);
  verifySshSignature(blob, signed, key); // invariant: never hand out a signature that fails
  return {
    payloadType: APPROVAL_PAYLOAD_TYPE,
    payload: payload.toString("base64"),
    signatures: [{ keyid: key.keyid, sig: blob.toString("base64") }],
  };
}

/**
 * Verifies an approval envelope against the configured reviewers: the payload type, a valid
 * signature by a configured key, then the statement's exact shape, and that the signer is the
 * reviewer the statement names. Throws a `trust.*` error otherwise.
 */
export function verifyApproval(
  envelope: Envelope,
  reviewers: readonly Reviewer[],
): VerifiedApproval {
  if (envelope.payloadType !== APPROVAL_PAYLOAD_TYPE) {
    throw badApproval(
      `expected payload type \`${APPROVAL_PAYLOAD_TYPE}\`, found \`${clip(String(envelope.payloadType))}\``,
    );
  }
  const owner = new Map(reviewers.flatMap((r) => r.keys.map((k) => [k.keyid, r.name] as const)));
  const verified = verifyEnvelope(
    envelope,
    reviewers.flatMap((r) => r.keys),
  );
  // spec: DSSE "verify, then trust": the payload is parsed only now that a signature over it holds
  let json: string;
  try {
    json = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(verified.payload);
  } catch {
    throw badApproval("the statement is not UTF-8");
  }
  const { statement, approval } = toApproval(parseStrictJson(json, "the approval statement"));
  const key = verified.signedBy.find((k) => owner.get(k.keyid) === approval.reviewer);
  if (!key) {
    const signers = [...new Set(verified.signedBy.map((k) => `\`${owner.get(k.keyid)}\``))].join(
      ", ",
    );
    throw new SteleError(
      "trust.bad_approval",
      `approval names \`${clip(approval.reviewer)}\` but is signed by ${signers}`,
      { hint: "each reviewer signs their own approval with `stele approve`" },
    );
  }
  return { approval, statement, reviewer: approval.reviewer, keyid: key.keyid };
}
