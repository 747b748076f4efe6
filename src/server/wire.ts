import type { Decision, DecisionRequest } from "../engine/index.js";
import { SteleError } from "../errors.js";
import type { Health } from "./runtime.js";

/** What a decision response adds to the engine's decision: where it came from. */
export interface DecisionResponse extends Decision {
  readonly id: string;
  /** The decision point's clock when it decided (RFC 3339); exceptions expired against it. */
  readonly time: string;
  readonly env: string;
  readonly version: number;
}

const REQUEST_FIELDS = new Set(["policies", "subject", "input"]);

/**
 * Reads a decide request body strictly. Unknown fields are refused, `now` above all: the
 * decision point judges by its own clock, so an expired exception can never come back to life.
 */
export function readDecisionRequest(body: unknown, where = "request"): DecisionRequest {
  // untrusted: the HTTP body
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw bad(`${where} must be a JSON object with \`input\``);
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (key === "now" || key === "time")
      throw bad(
        `${where} may not set \`${key}\``,
        "the decision point always judges by its own clock",
      );
    if (!REQUEST_FIELDS.has(key))
      throw bad(
        `unknown field \`${key}\` in ${where}`,
        "a request has `input` and optionally `policies` or `subject`",
      );
  }
  if (!("input" in fields)) throw bad(`${where} has no \`input\``);
  const { policies, subject } = fields;
  if (
    policies !== undefined &&
    !(Array.isArray(policies) && policies.every((p) => typeof p === "string"))
  )
    throw bad("`policies` must be a list of policy names");
  if (subject !== undefined && typeof subject !== "string") throw bad("`subject` must be a string");
  return {
    input: fields.input,
    ...(policies !== undefined && { policies: policies as string[] }),
    ...(subject !== undefined && { subject }),
  };
}

function bad(message: string, hint?: string): SteleError {
  return new SteleError("server.bad_request", message, { hint });
}

/** `GET /v1/status`: what a decision point says of itself, and of what it runs. */
export interface Status {
  readonly env: string;
  readonly state: Health;
  readonly ready: boolean;
  readonly version: number | null;
  readonly bundle: string | null;
  readonly treeSize: number | null;
  readonly verifiedAt: string | null;
  readonly lastCheck: string | null;
  readonly reason: string | null;
  readonly clock: { readonly behindSeconds: number; readonly trustedTime: string | null };
  /**
   * Whether it runs what the ledger says its env runs, as far as it can tell: `stele drift`'s
   * words for a decision point (`unreleased` and `silent` only others can see).
   */
  readonly drift: { readonly status: "in-sync" | "stale" | "tampered"; readonly detail: string };
}

/** What `stele serve` adds to the status: its ledger view, its name, its decision log. */
export interface ServeStatus {
  readonly lastVerified: string | null;
  readonly ledgerAgeSeconds: number | null;
  readonly maxStalenessSeconds: number;
  /** The ledger checkpoint the running release was verified under. */
  readonly checkpoint: string | null;
  readonly pdp: string;
  /** Null when the decision log is off. */
  readonly decisionLog: DecisionLogStatus | null;
}

/** The decision log's part of `/v1/status`. */
export interface DecisionLogStatus {
  readonly log: string;
  /** Decisions written. */
  readonly size: number;
  readonly pending: number;
  readonly sampledOut: number;
  /**
   * The last checkpoint it signed that the store took: `stele decisions verify --pdp` holds the
   * store to it (decisions removed from the log's end show).
   */
  readonly checkpoint: string | null;
  /** Why it stopped writing: the store lost what it signed (new decisions dropped, counted). */
  readonly problem: { readonly code: string; readonly message: string } | null;
}

/**
 * What `stele drift` and `stele decisions verify --pdp` take from a decision point's status
 * (untrusted JSON from over the network): a top-level field of another type than `Status` and
 * `ServeStatus` say is missing; a decision log's part that is not a `DecisionLogStatus` is
 * refused (readStatus).
 */
export interface StatusRead {
  readonly pdp?: string;
  readonly env?: string;
  readonly state?: string;
  readonly version: number | null;
  readonly bundle: string | null;
  /**
   * Its decision log, that log's last checkpoint (absent when it has signed none yet), and why it
   * stopped writing, if it did; absent when it logs no decisions.
   */
  readonly decisionLog?: {
    readonly log: string;
    readonly checkpoint?: string;
    readonly problem?: { readonly code: string; readonly message: string };
  };
}

/**
 * Reads a decision point's `/v1/status` answer; throws when it is not a JSON object, or, unless
 * `log` is false (a reader that does not look at the decision log: drift), when its decision
 * log's part is not what `DecisionLogStatus` says (a checkpoint or a problem that is neither one
 * nor null: a reader holding the store to it must not take it for none).
 */
export function readStatus(body: unknown, { log = true } = {}): StatusRead {
  if (!isObject(body)) throw badStatus("it is not a JSON object");
  const { pdp, env, state, version, bundle } = body;
  const decisionLog = log ? body.decisionLog : undefined;
  return {
    ...(typeof pdp === "string" && { pdp }),
    ...(typeof env === "string" && { env }),
    ...(typeof state === "string" && { state }),
    version: typeof version === "number" ? version : null,
    bundle: typeof bundle === "string" ? bundle : null,
    ...(decisionLog !== null &&
      decisionLog !== undefined && { decisionLog: readLogStatus(decisionLog) }),
  };
}

// the decision log's part of a status (`DecisionLogStatus`), strictly
function readLogStatus(said: unknown): NonNullable<StatusRead["decisionLog"]> {
  if (!isObject(said) || typeof said.log !== "string")
    throw badStatus("its `decisionLog` names no log");
  const { log, checkpoint, problem } = said;
  if (checkpoint !== null && checkpoint !== undefined && typeof checkpoint !== "string")
    throw badStatus("its `decisionLog.checkpoint` is neither a checkpoint nor null");
  if (problem === null || problem === undefined)
    return { log, ...(typeof checkpoint === "string" && { checkpoint }) };
  if (!isObject(problem) || typeof problem.code !== "string")
    throw badStatus("its `decisionLog.problem` is neither a problem nor null");
  const message = typeof problem.message === "string" ? problem.message : "";
  return {
    log,
    ...(typeof checkpoint === "string" && { checkpoint }),
    problem: { code: problem.code, message },
  };
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);

const badStatus = (why: string) =>
  new SteleError("server.bad_status", `its /v1/status is not a decision point's: ${why}`);
