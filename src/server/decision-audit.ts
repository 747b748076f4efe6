import type { Decision, DecisionRequest } from "../engine/index.js";
import { SteleError } from "../errors.js";
import { parseVerifierKey } from "../ledger/index.js";
import type { Store } from "../store/index.js";
import type { LoggedDecision } from "./decision-log.js";
import {
  checkStoredLog,
  frontierDoc,
  logKeyDoc,
  logOfDoc,
  readFrontierDoc,
  storedAt,
  verifyLogCheckpoint,
} from "./decision-log-format.js";
import { type Heartbeat, heartbeatDoc, pdpOfHeartbeatDoc, readHeartbeat } from "./heartbeat.js";
import { isNameOf, isPdpName } from "./identity.js";
import { fetchJson } from "./status-client.js";
import { type DecisionResponse, readDecisionRequest, readStatus, type StatusRead } from "./wire.js";

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
  /**
   * Whether its decision point's heartbeat names a checkpoint the store holds: without one,
   * decisions removed from the log's end (with their checkpoints) would not show here.
   */
  readonly heartbeat?: boolean;
  readonly problem?: { readonly index?: number; readonly code: string; readonly message: string };
}

/**
 * How far a long read of a decision log has got: of every decision of the log, checked
 * (`verify`); of the log, for the decision with `id` (`find`); of the log up to that decision,
 * checked (`check`).
 */
export type AuditProgress = (
  | { readonly kind: "verify" }
  | { readonly kind: "find" | "check"; readonly id: string }
) & {
  readonly log: string;
  /** Decisions read so far, of the log's `total`. */
  readonly read: number;
  readonly total: number;
};

/** Told how far a long read has got, every few thousand decisions. */
export type OnProgress = (p: AuditProgress) => void;

// how often (in decisions read) progress is told
const PROGRESS_EVERY = 8_192;

/** An entry callback that tells progress every few thousand decisions, as `at` words it. */
export function telling(
  onProgress: OnProgress | undefined,
  at: (read: number) => AuditProgress,
): (index: number) => void {
  if (!onProgress) return () => undefined;
  return (index) => {
    if (index % PROGRESS_EVERY === 0) onProgress(at(index));
  };
}

/** The decision logs' verification: every log's, and each asked decision point's. */
export interface DecisionLogsReport {
  /** Every log verifies, and the store holds what every asked decision point signed. */
  readonly ok: boolean;
  readonly logs: readonly LogReport[];
  /** With `pdps`: each decision point's last checkpoint held against the store. */
  readonly pdps?: readonly PdpLogReport[];
}

/** What `verifyDecisionLogs` also does. */
export interface VerifyLogsOptions {
  /**
   * Running decision points (base URLs) whose last checkpoints the store must hold: decisions
   * removed from a log's end, with their checkpoints, show only against them.
   */
  readonly pdps?: readonly string[];
  readonly onProgress?: OnProgress;
  /** How a decision point's `/v1/status` is read (tests); over HTTP within 3 s by default. */
  readonly fetchStatus?: (url: string) => Promise<unknown>;
  /**
   * The decision points (names) whose logs are trusted: a log of any other fails, however well
   * it verifies under its own key (anyone who can write to the store can start one).
   */
  readonly trust?: readonly string[];
}

/**
 * Verifies every decision log in the store: each entry parses and names a bundle, every
 * checkpoint is signed by the PDP's key and commits to exactly these entries, and each extends
 * the one before; and the store holds the checkpoints its decision point's heartbeat and saved
 * frontier name, and the last one each decision point in `pdps` says it signed. An edited,
 * deleted, reordered or inserted decision fails, and so do decisions removed from the end with
 * their checkpoints (even a whole log) while that heartbeat or frontier is there, or while a
 * decision point asked remembers them. With `trust`, a log of any other decision point that
 * holds anything fails, and so does a trusted one the store has no trace of. Each log is read a
 * run at a time.
 */
export async function verifyDecisionLogs(
  store: Store,
  { pdps: urls = [], onProgress, fetchStatus = fetchJson, trust }: VerifyLogsOptions = {},
): Promise<DecisionLogsReport> {
  // the decision points first: each says only a checkpoint the store has taken, so the store,
  // read after, holds it unless it lost it
  const pdps = urls.length > 0 ? await checkPdpLogs(store, urls, fetchStatus) : undefined;
  const logs: LogReport[] = [];
  const known = await knownLogs(store);
  for (const log of known) {
    const report = await verifyOneLog(store, log, onProgress);
    // a log that holds nothing claims nothing (a decision point that could not listen leaves its
    // key): only one with decisions or checkpoints must be a trusted decision point's
    const claims = report.entries > 0 || report.checkpoints > 0;
    const stranger = report.ok && claims ? untrusted(log, trust) : undefined;
    logs.push(stranger ? failed(report, stranger) : report);
  }
  // a decision point trusted whose log the store has no trace of: removed whole (its entries,
  // checkpoints, key, frontier and heartbeat), or never opened here
  for (const log of trust ?? [])
    if (!known.includes(log))
      logs.push({
        log,
        ok: false,
        entries: 0,
        checkpoints: 0,
        uncovered: 0,
        problem: {
          code: "ledger.tampered",
          message:
            "the store has no trace of this trusted decision point's log: removed whole, or it never logged a decision here",
        },
      });
  const ok = logs.every((l) => l.ok) && (pdps ?? []).every((p) => p.ok);
  return { ok, logs, ...(pdps && { pdps }) };
}

// `report` failed for `why` (its code and message, not the rest of an error)
const failed = <R extends object>(report: R, why: { code: string; message: string }) => ({
  ...report,
  ok: false as const,
  problem: { code: why.code, message: why.message },
});

// every log the store keeps a trace of: its entries or checkpoints, its verifier key (written
// when its decision point first opens it), the frontier it saves, or its decision point's
// heartbeat naming it. A log whose every decision was removed, checkpoints and all, is still held
// to what is left of it. Names come from the store's own document names (safe to print); a
// heartbeat speaks only for its own decision point's log
async function knownLogs(store: Store): Promise<string[]> {
  const logs = new Set(await store.logs());
  for (const doc of await store.listDocs("decision-logs")) {
    const log = logOfDoc(doc);
    if (log !== undefined) logs.add(log);
  }
  for (const doc of await store.listDocs("heartbeats")) {
    try {
      const beat = await readHeartbeat(store, doc);
      if (beat?.decisionLog && beat.decisionLog.log === beat.pdp) logs.add(beat.pdp);
    } catch {
      // one that does not verify is evidence too: its log is checked, and the heartbeat's
      // problem reported with it
      const pdp = pdpOfHeartbeatDoc(doc);
      if (pdp !== undefined && isPdpName(pdp)) logs.add(pdp);
    }
  }
  return [...logs].sort();
}

/** Why a log is not a trusted decision point's, when a list of them (`trust`) is given. */
export function untrusted(
  log: string,
  trust: readonly string[] | undefined,
): SteleError | undefined {
  if (trust === undefined || trust.includes(log)) return undefined;
  return new SteleError(
    "server.untrusted_pdp",
    `\`${log}\` is not a decision point you trust: its log proves only its own key's word`,
    {
      hint: "a decision point's name is `pdp` in its /v1/status and its heartbeat; name each of yours with --trust-pdp",
    },
  );
}

// one log, and the checkpoints its decision point's heartbeat and saved frontier name
async function verifyOneLog(
  store: Store,
  log: string,
  onProgress: OnProgress | undefined,
): Promise<LogReport> {
  // its decision point's heartbeat first: it names a checkpoint the store took before it was
  // written
  let beat: Heartbeat | SteleError | undefined;
  try {
    beat = await readHeartbeat(store, heartbeatDoc(log));
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    beat = e;
  }
  const saved = await savedCheckpoint(store, log);
  const report = await verifyLog(store, log, onProgress);
  if (!report.ok) return report;
  const named = beat instanceof SteleError ? undefined : beat?.decisionLog;
  const held =
    beat instanceof SteleError
      ? beat
      : named?.log === log
        ? await holds(store, log, named.checkpoint, "its decision point's heartbeat says it")
        : undefined;
  // the frontier it saves beside its log (about once a second) names a checkpoint too
  const kept =
    held instanceof SteleError || saved === undefined
      ? undefined
      : saved instanceof SteleError
        ? saved
        : await holds(store, log, saved, "the frontier it saved says it");
  const problem = held instanceof SteleError ? held : kept instanceof SteleError ? kept : undefined;
  return problem ? failed(report, problem) : { ...report, heartbeat: held !== undefined };
}

// the checkpoint of the frontier a decision point saved beside its log, if it saved one
async function savedCheckpoint(
  store: Store,
  log: string,
): Promise<string | SteleError | undefined> {
  let bytes: Buffer | undefined;
  try {
    bytes = await store.readDoc(frontierDoc(log));
  } catch (e) {
    // a name no document may have (PostgreSQL lists names as stored): that log's problem
    if (e instanceof SteleError) return e;
    throw e;
  }
  if (!bytes) return undefined;
  const doc = readFrontierDoc(bytes);
  if (doc) return doc.checkpoint;
  return new SteleError(
    "ledger.tampered",
    `the frontier saved beside decision log \`${log}\` is not one its decision point wrote`,
  );
}

async function verifyLog(store: Store, log: string, onProgress?: OnProgress): Promise<LogReport> {
  const fail = (
    e: SteleError,
    at: { entries: number; checkpoints: number; covered: number },
    index?: number,
  ): LogReport => ({
    log,
    ok: false,
    entries: at.entries,
    checkpoints: at.checkpoints,
    uncovered: at.entries - at.covered,
    problem: {
      ...(index !== undefined && { index }),
      code: e.code,
      message: index !== undefined ? `decision ${index}: ${e.message}` : e.message,
    },
  });
  let vkey: string;
  try {
    vkey = await logKey(store, log);
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    const entries = await store.logSize(log).catch(() => 0);
    return fail(e, { entries, checkpoints: 0, covered: 0 });
  }
  // read and checked a run at a time: every entry parses and names a bundle, and every
  // checkpoint commits to the entries under it. The checkpoints are those stored when the check
  // began: a decision point appending meanwhile adds entries past them (uncovered), never a
  // checkpoint without its entries
  const total = await store.logSize(log).catch(() => 0);
  const tell = telling(onProgress, (read) => ({ kind: "verify", log, read, total }));
  const checked = await checkStoredLog(store, log, vkey, {
    entry: (bytes, index) => {
      tell(index);
      readEntry(bytes);
    },
  });
  // the check stops at its first problem; the report still says how many decisions the log holds
  if (checked.problem) {
    const entries = await store.logSize(log).catch(() => checked.entries);
    return fail(checked.problem.error, { ...checked, entries }, checked.problem.index);
  }
  if (checked.entries > 0 && checked.checkpoints === 0)
    return fail(
      new SteleError("ledger.bad_checkpoint", "decisions were logged but never checkpointed"),
      checked,
    );
  return {
    log,
    ok: true,
    entries: checked.entries,
    checkpoints: checked.checkpoints,
    uncovered: checked.entries - checked.covered,
    unvouched: checked.unvouched,
  };
}

/** A live decision point's word on its decision log, held against the store. */
export interface PdpLogReport {
  readonly url: string;
  readonly ok: boolean;
  /** Its log, and the decisions its last checkpoint (as its /v1/status says) covers. */
  readonly log?: string;
  readonly size?: number;
  readonly problem?: { readonly code: string; readonly message: string };
}

// asks each decision point for the last checkpoint of its decision log (`/v1/status`), and
// checks that the store holds that very checkpoint, signed by the log's key, and the decisions
// under it. Decisions removed from the end of a log, with their checkpoints, leave a log that
// verifies on its own: only someone who saw a later checkpoint can tell, and the decision point
// did
function checkPdpLogs(
  store: Store,
  urls: readonly string[],
  fetchStatus: (url: string) => Promise<unknown>,
): Promise<PdpLogReport[]> {
  return Promise.all(urls.map((url) => checkPdpLog(store, url.replace(/\/+$/, ""), fetchStatus)));
}

async function checkPdpLog(
  store: Store,
  url: string,
  fetchStatus: (url: string) => Promise<unknown>,
): Promise<PdpLogReport> {
  let said: StatusRead["decisionLog"];
  try {
    const status = readStatus(await fetchStatus(`${url}/v1/status`));
    // a decision point's status names it, and its log is its own
    if (status.pdp === undefined || !isPdpName(status.pdp))
      throw new SteleError("server.bad_status", "it names no decision point (`pdp`)");
    if (status.decisionLog && status.decisionLog.log !== status.pdp)
      throw new SteleError("server.bad_status", "its decision log is not its own");
    said = status.decisionLog;
  } catch (e) {
    const message = `cannot read its /v1/status: ${e instanceof Error ? e.message : String(e)}`;
    const code = e instanceof SteleError ? e.code : "server.unreachable";
    return failed({ url }, { code, message });
  }
  // its decision log off, or nothing signed yet: nothing to hold the store to
  if (said === undefined) return { url, ok: true };
  const log = said.log;
  // it stopped writing: the store lost what it signed, and its decisions are being dropped
  if (said.problem)
    return failed(
      { url, log },
      {
        code: said.problem.code,
        message: `its decision log stopped writing: ${said.problem.message}`,
      },
    );
  if (said.checkpoint === undefined) return { url, ok: true, log, size: 0 };
  const held = await holds(store, log, said.checkpoint, "the decision point has");
  return held instanceof SteleError
    ? failed({ url, log }, held)
    : { url, ok: true, log, size: held };
}

// whether the store holds a checkpoint a decision point signed (`note`; `who` says who says so),
// and the decisions under it: their number, or what is wrong
async function holds(
  store: Store,
  log: string,
  note: string,
  who: string,
): Promise<number | SteleError> {
  try {
    const vkey = await logKey(store, log);
    // in the format before batches too (a decision point that has not written since upgrading)
    let size: number;
    try {
      size = verifyLogCheckpoint(note, vkey, log).checkpoint.size;
    } catch (e) {
      // say whose word it was: the heartbeat's, the saved frontier's, the decision point's
      if (!(e instanceof SteleError)) throw e;
      throw new SteleError(e.code, `${who} signed a checkpoint that does not verify: ${e.message}`);
    }
    const { stored, held } = await storedAt(store, log, size);
    if (!stored || held < size)
      return new SteleError(
        "ledger.tampered",
        `${who} signed ${size} decisions; the store holds ${held}${stored ? "" : " and no checkpoint for them"}: decisions were removed from the log's end`,
        {
          hint: "restore the store from a backup; the decision point's own checkpoint says what it held",
        },
      );
    if (stored.note !== note)
      return new SteleError(
        "ledger.fork",
        `the store holds another checkpoint for ${size} decisions than its decision point signed`,
        { hint: "two writers share this log, or the store's copy was replaced" },
      );
    return size;
  } catch (e) {
    if (e instanceof SteleError) return e;
    throw e;
  }
}

/** The verifier key of a decision log's checkpoints: the one its name was made from. */
export async function logKey(store: Store, log: string): Promise<string> {
  const vkey = (await store.readDoc(logKeyDoc(log)))?.toString("utf8");
  if (!vkey)
    throw new SteleError("ledger.bad_checkpoint", `decision log \`${log}\` has no verifier key`);
  // the key is the one the log's name was made from (identity.ts): a key put in its place
  // would need the log renamed too
  if (!isNameOf(log, parseVerifierKey(vkey).publicKey))
    throw new SteleError(
      "ledger.bad_checkpoint",
      `the verifier key stored for decision log \`${log}\` is not the key its name was made from`,
      { hint: "someone replaced decision-logs/<log>.vkey in the store" },
    );
  return vkey;
}

/** A logged decision read from its line, untrusted: `ledger.tampered` unless it is one. */
export function readEntry(bytes: Uint8Array): LoggedDecision & { readonly asked: DecisionRequest } {
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
