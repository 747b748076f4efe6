import { type Decision, type DecisionRequest, decide } from "../engine/index.js";
import { SteleError } from "../errors.js";
import { parseVerifierKey } from "../ledger/index.js";
import { type Store, type StoredCheckpoint, storedBundle } from "../store/index.js";
import { type LoggedDecision, logKeyDoc } from "./decision-log.js";
import { checkLog } from "./decision-log-format.js";
import { isNameOf } from "./identity.js";
import { type DecisionResponse, readDecisionRequest } from "./wire.js";

/** One decision log's verification. */
export interface LogReport {
  readonly log: string;
  readonly ok: boolean;
  readonly entries: number;
  readonly checkpoints: number;
  /** Entries written after the last checkpoint (a PDP stopped mid-batch). */
  readonly uncovered: number;
  /**
   * Entries under a checkpoint whose signer found them in the store without a checkpoint and did
   * not vouch for them (a decision point stopped before it signed them, or someone else's).
   */
  readonly unvouched?: number;
  readonly problem?: { readonly index?: number; readonly code: string; readonly message: string };
}

/**
 * Verifies every decision log in the store: each entry parses and names a bundle, every
 * checkpoint is signed by the PDP's key and commits to exactly these entries, and each extends
 * the one before. An edited, deleted, reordered or inserted decision fails.
 */
export async function verifyDecisionLogs(store: Store): Promise<LogReport[]> {
  const reports: LogReport[] = [];
  for (const log of await store.logs()) reports.push(await verifyLog(store, log));
  return reports;
}

async function verifyLog(store: Store, log: string): Promise<LogReport> {
  let entries: Buffer[] = [];
  let checkpoints = 0;
  let covered = 0;
  const fail = (e: unknown, index?: number): LogReport => {
    if (!(e instanceof SteleError)) throw e;
    return {
      log,
      ok: false,
      entries: entries.length,
      checkpoints,
      uncovered: entries.length - covered,
      problem: {
        ...(index !== undefined && { index }),
        code: e.code,
        message: index !== undefined ? `decision ${index}: ${e.message}` : e.message,
      },
    };
  };
  // the checkpoints before the entries: a decision point appending meanwhile adds entries a
  // checkpoint read first never claims, never the other way round
  let stored: StoredCheckpoint[];
  try {
    stored = await store.logCheckpoints(log);
    entries = await store.readLog(log);
  } catch (e) {
    return fail(e);
  }
  for (const [i, bytes] of entries.entries()) {
    try {
      readEntry(bytes);
    } catch (e) {
      return fail(e, i);
    }
  }
  const vkey = (await store.readDoc(logKeyDoc(log)))?.toString("utf8");
  if (!vkey)
    return fail(
      new SteleError("ledger.bad_checkpoint", `decision log \`${log}\` has no verifier key`),
    );
  let unvouched = 0;
  try {
    // the key is the one the log's name was made from (identity.ts): a key put in its place
    // would need the log renamed too
    if (!isNameOf(log, parseVerifierKey(vkey).publicKey))
      throw new SteleError(
        "ledger.bad_checkpoint",
        `the verifier key stored for decision log \`${log}\` is not the key its name was made from`,
        { hint: "someone replaced decision-logs/<log>.vkey in the store" },
      );
    ({ checkpoints, covered, unvouched } = checkLog(log, entries, stored, vkey));
  } catch (e) {
    return fail(e);
  }
  if (entries.length > 0 && checkpoints === 0)
    return fail(
      new SteleError("ledger.bad_checkpoint", "decisions were logged but never checkpointed"),
    );
  return {
    log,
    ok: true,
    entries: entries.length,
    checkpoints,
    uncovered: entries.length - covered,
    unvouched,
  };
}

function readEntry(bytes: Uint8Array): LoggedDecision & { readonly asked: DecisionRequest } {
  // untrusted: log files anyone with disk access could have edited
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new SteleError("ledger.tampered", "a logged decision is not JSON");
  }
  const e = value as Partial<LoggedDecision> | null;
  if (
    typeof e !== "object" ||
    e === null ||
    typeof e.id !== "string" ||
    typeof e.time !== "string" ||
    typeof e.bundle !== "string" ||
    !isAnswer(e.decision)
  )
    throw new SteleError(
      "ledger.tampered",
      "a logged decision lacks its id, time, bundle or decision",
    );
  // the request as logged; entries written before `request` existed carry its fields at the top
  let asked: DecisionRequest;
  try {
    asked = readDecisionRequest(
      e.request !== undefined
        ? e.request
        : {
            input: e.input,
            ...(e.policies !== undefined && { policies: e.policies }),
            ...(e.subject !== undefined && { subject: e.subject }),
          },
    );
  } catch (cause) {
    throw new SteleError(
      "ledger.tampered",
      `a logged decision's request is not one the decision point takes: ${(cause as Error).message}`,
    );
  }
  // a line's decision carries the answer's own fields; its id, time, env, version and bundle are
  // the line's. Lines written before carry them in the decision too: where they say otherwise
  // than the line, one of the two was changed
  const d = e.decision as unknown as Record<string, unknown>;
  const line: Record<string, unknown> = {};
  for (const field of ["bundle", "id", "time", "env", "version"] as const) {
    const [mine, its] = [e[field], d[field]];
    if (mine !== undefined && its !== undefined && mine !== its)
      throw new SteleError(
        "ledger.tampered",
        `a logged decision's ${field} is not its line's: \`${String(its)}\` against \`${String(mine)}\``,
      );
    line[field] = mine ?? its;
  }
  const decision = { ...d, ...line } as unknown as DecisionResponse;
  return { ...(e as LoggedDecision), decision, asked };
}

// a logged answer as replay compares it: a verdict, and policies each with its effect, the rules
// that matched and the exceptions used
function isAnswer(d: unknown): d is Decision {
  const a = d as Partial<Decision> | null;
  return (
    typeof a === "object" &&
    a !== null &&
    !Array.isArray(a) &&
    typeof a.decision === "string" &&
    Array.isArray(a.policies) &&
    a.policies.every(
      (p) =>
        typeof p === "object" &&
        p !== null &&
        typeof p.policy === "string" &&
        typeof p.effect === "string" &&
        Array.isArray(p.matched) &&
        Array.isArray(p.exceptions) &&
        p.exceptions.every((x: unknown) => typeof x === "object" && x !== null),
    )
  );
}

/** A logged decision re-run on the exact bundle that made it, at the time it was made. */
export interface Replay {
  readonly id: string;
  readonly log: string;
  readonly index: number;
  readonly logged: LoggedDecision;
  readonly replayed: Decision;
  /** Whether the replay gave the same decision, per-policy effects and matched rules. */
  readonly same: boolean;
}

/** Finds a decision by id in the store's logs and re-evaluates it on its bundle. */
export async function replayDecision(store: Store, id: string): Promise<Replay> {
  for (const log of await store.logs()) {
    const entries = await store.readLog(log);
    for (const [index, bytes] of entries.entries()) {
      if (!Buffer.from(bytes).includes(id)) continue;
      const { asked, ...logged } = readEntry(bytes);
      if (logged.id !== id) continue;
      const bundle = await storedBundle(store, logged.bundle);
      const replayed = decide(bundle.set, asked, {
        now: Date.parse(logged.time),
        bundle: logged.bundle,
      });
      return { id, log, index, logged, replayed, same: sameDecision(logged.decision, replayed) };
    }
  }
  throw new SteleError("store.not_found", `no logged decision has id \`${id}\``, {
    hint: "decision ids are in every /v1/decide response (`id`)",
  });
}

function sameDecision(a: Decision, b: Decision): boolean {
  const shape = (d: Decision) =>
    JSON.stringify({
      decision: d.decision,
      policies: d.policies.map((p) => [
        p.policy,
        p.effect,
        p.matched,
        p.exceptions.map((e) => e.name),
      ]),
    });
  return shape(a) === shape(b);
}
