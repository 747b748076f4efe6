import type { Decision, DecisionRequest } from "../engine/index.js";
import { SteleError } from "../errors.js";

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
