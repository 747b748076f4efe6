/** Where a problem is, as people read it: 1-based line and column. */
export interface Position {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** What kind of failure a code is; decides HTTP status and how the CLI words it. */
export type Kind = "invalid" | "refused" | "tampered" | "unavailable" | "internal";

/** Every stable error code, one row each. Codes are API: rename never, add freely. */
export const CODES = {
  // language: reading and checking policy sources
  "language.io": "invalid",
  "language.yaml_syntax": "invalid",
  "language.yaml_duplicate_key": "invalid",
  "language.yaml_alias": "invalid",
  "language.schema": "invalid",
  "language.unknown_field": "invalid",
  "language.missing_field": "invalid",
  "language.wrong_type": "invalid",
  "language.bad_value": "invalid",
  "language.duplicate_name": "invalid",
  "language.unknown_kind": "invalid",
  "language.unknown_reference": "invalid",
  "language.input_schema": "invalid",
  "language.cel_syntax": "invalid",
  "language.cel_type": "invalid",
  "language.cel_unsupported": "invalid",
  "language.cel_limit": "invalid",
  "language.exception_expiry": "invalid",
  "language.exception_expired": "invalid",
  "language.too_large": "invalid",
  // engine: deciding
  "engine.eval_error": "invalid",
  "engine.unknown_policy": "invalid",
  "engine.unknown_subject": "invalid",
  "engine.no_policies": "invalid",
  "engine.input_too_large": "invalid",
  "engine.input_too_deep": "invalid",
  "engine.bad_input": "invalid",
  "engine.test_failed": "invalid",
  // bundle: build, bytes, load
  "bundle.check_failed": "invalid",
  "bundle.tests_failed": "invalid",
  "bundle.malformed": "tampered",
  "bundle.not_canonical": "tampered",
  "bundle.digest_mismatch": "tampered",
  "bundle.source_mismatch": "tampered",
  "bundle.plan_mismatch": "tampered",
  "bundle.unsupported_format": "invalid",
  "bundle.not_found": "invalid",
  // trust: keys, envelopes, approvals, quorums
  "trust.bad_key": "invalid",
  "trust.bad_signature": "tampered",
  "trust.bad_envelope": "tampered",
  "trust.duplicate_key_json": "tampered",
  "trust.bad_approval": "tampered",
  "trust.unknown_reviewer": "refused",
  "trust.quorum_not_met": "refused",
  "trust.config_change_not_approved": "refused",
  // ledger: merkle log, checkpoints, proofs
  "ledger.bad_proof": "tampered",
  "ledger.bad_checkpoint": "tampered",
  "ledger.bad_signature": "tampered",
  "ledger.rollback": "refused",
  "ledger.fork": "tampered",
  "ledger.tampered": "tampered",
  "ledger.bad_note": "tampered",
  "ledger.bad_key": "invalid",
  "ledger.out_of_range": "invalid",
  // store
  "store.conflict": "refused",
  "store.not_found": "invalid",
  "store.corrupt": "tampered",
  "store.bad_url": "invalid",
  "store.unavailable": "unavailable",
  // release gates
  "release.dirty_tree": "refused",
  "release.version_not_newer": "refused",
  "release.not_promoted": "refused",
  "release.weakening_quorum_not_met": "refused",
  "release.justification_required": "refused",
  "release.unknown_env": "invalid",
  "release.already_running": "refused",
  "release.nothing_to_promote": "refused",
  "release.bad_config": "refused",
  // server
  "server.body_too_large": "invalid",
  "server.bad_request": "invalid",
  "server.no_route": "invalid",
  "server.method_not_allowed": "invalid",
  "server.unsupported_media_type": "invalid",
  "server.not_ready": "unavailable",
  "server.stale": "unavailable",
  "server.bad_admission_review": "invalid",
  "server.unreachable": "unavailable",
  "server.bad_status": "invalid",
  "server.untrusted_pdp": "refused",
  "server.cannot_listen": "unavailable",
  // cli
  "cli.usage": "invalid",
  "cli.io": "invalid",
  internal: "internal",
} as const satisfies Record<string, Kind>;

/** A stable error code: `module.snake_reason`. */
export type Code = keyof typeof CODES;

const STATUS: Record<Kind, number> = {
  invalid: 400,
  refused: 409,
  tampered: 503,
  unavailable: 503,
  internal: 500,
};

/** The JSON shape of an error everywhere: `--json`, HTTP bodies, decision logs. */
export interface ErrorJson {
  code: Code;
  message: string;
  position?: Position;
  hint?: string;
}

/** The one error type Stele throws on purpose. */
export class SteleError extends Error {
  override readonly name = "SteleError";
  readonly code: Code;
  readonly position: Position | undefined;
  /** How to do it properly; shown on its own line after the message. */
  readonly hint: string | undefined;

  constructor(
    code: Code,
    message: string,
    options: { position?: Position | undefined; hint?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.position = options.position;
    this.hint = options.hint;
  }

  get kind(): Kind {
    return CODES[this.code];
  }

  get status(): number {
    return STATUS[this.kind];
  }

  /** The shape printed by `--json` and returned by the HTTP API. */
  toJSON(): ErrorJson {
    return {
      code: this.code,
      message: this.message,
      ...(this.position && { position: this.position }),
      ...(this.hint !== undefined && { hint: this.hint }),
    };
  }
}

/** `file:line:col: message`, the form editors and CI annotate. */
export function formatError(err: SteleError): string {
  const at = err.position ? `${err.position.file}:${err.position.line}:${err.position.col}: ` : "";
  return `${at}${err.message}${err.hint ? `\n  hint: ${err.hint}` : ""}`;
}
