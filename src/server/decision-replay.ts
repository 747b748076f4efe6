// A logged decision re-run on the exact bundle that made it (`stele decisions replay ID`), and
// whether its log proves it.
import { type Decision, decide } from "../engine/index.js";
import { SteleError } from "../errors.js";
import { type Store, storedBundle } from "../store/index.js";
import { logKey, type OnProgress, readEntry, telling, untrusted } from "./decision-audit.js";
import type { LoggedDecision } from "./decision-log.js";
import { checkStoredLog } from "./decision-log-format.js";
import { isNameForEnv } from "./identity.js";

/** A logged decision re-run on the exact bundle that made it, at the time it was made. */
export interface Replay {
  readonly id: string;
  readonly log: string;
  readonly index: number;
  readonly logged: LoggedDecision;
  readonly replayed: Decision;
  /** Whether the replay gave the same decision, per-policy effects and matched rules. */
  readonly same: boolean;
  /**
   * Whether the logged decision is the one the decision point wrote: a checkpoint it signed
   * vouches for it, and the log verifies up to that checkpoint.
   */
  readonly proven: boolean;
  /** Why it is not proven. */
  readonly problem?: { readonly code: string; readonly message: string };
}

/** What `replayDecision` also does. */
export interface ReplayOptions {
  readonly onProgress?: OnProgress;
  /** The decision points (names) whose logs are trusted: a decision in another's is not proven. */
  readonly trust?: readonly string[];
}

/**
 * Finds a decision by id in the store's logs, re-evaluates it on its bundle, and checks that
 * its log proves it: the only decision logged with that id, in a log of a decision point of its
 * env, covered by a checkpoint of that log's key that vouches for it, the log verifying up to it.
 * Every log is read, a run at a time: a copy of a decision in another log (anyone may start a
 * log with a key of their own) makes neither copy proven.
 */
export async function replayDecision(
  store: Store,
  id: string,
  { onProgress, trust }: ReplayOptions = {},
): Promise<Replay> {
  const places: Place[] = [];
  const unreadable: string[] = [];
  for (const log of await store.logs()) {
    const total = onProgress ? await store.logSize(log).catch(() => 0) : 0;
    try {
      // what it finds goes in as it finds it: a log that fails half way keeps its finds
      await findEntries(
        store,
        log,
        id,
        places,
        telling(onProgress, (read) => ({ kind: "find", log, id, read, total })),
      );
    } catch (e) {
      if (!(e instanceof SteleError)) throw e;
      unreadable.push(`${log}: ${e.message}`);
    }
  }
  const found = places.find((p) => p.entry !== undefined);
  if (!found?.entry)
    throw new SteleError(
      "store.not_found",
      places.length > 0
        ? `the decision logged with id \`${id}\` is not a decision: ${places[0]?.log} #${places[0]?.index}`
        : `no logged decision has id \`${id}\``,
      {
        hint:
          unreadable.length > 0
            ? `some logs could not be read: ${unreadable.join("; ")}`
            : "decision ids are in every /v1/decide response (`id`)",
      },
    );
  const { log, index } = found;
  const { asked, ...logged } = found.entry;
  const bundle = await storedBundle(store, logged.bundle);
  const replayed = decide(bundle.set, asked, {
    now: Date.parse(logged.time),
    bundle: logged.bundle,
  });
  const problem = await whyUnproven(
    store,
    { id, log, index, env: logged.env },
    trust,
    places,
    unreadable,
    onProgress,
  );
  return {
    id,
    log,
    index,
    logged,
    replayed,
    same: sameDecision(logged.decision, replayed),
    proven: problem === undefined,
    ...(problem && { problem: { code: problem.code, message: problem.message } }),
  };
}

// why the decision `found` (one of `places`, every place its id is logged) is not proven by its
// log, or undefined when it is
async function whyUnproven(
  store: Store,
  found: {
    readonly id: string;
    readonly log: string;
    readonly index: number;
    readonly env: string;
  },
  trust: readonly string[] | undefined,
  places: readonly Place[],
  unreadable: readonly string[],
  onProgress: OnProgress | undefined,
): Promise<SteleError | undefined> {
  if (unreadable.length > 0)
    return new SteleError(
      "store.corrupt",
      `not every log could be read, and any of them may hold it too: ${unreadable.join("; ")}`,
      { hint: "run `stele decisions verify`" },
    );
  if (places.length > 1)
    return new SteleError(
      "ledger.tampered",
      `the id is logged ${places.length} times (${places.map((p) => `${p.log} #${p.index}`).join(", ")}): a copy proves nothing`,
      { hint: "run `stele decisions verify`; every log's key is its own decision point's" },
    );
  const { log, index, env } = found;
  if (!isNameForEnv(log, env))
    return new SteleError(
      "ledger.tampered",
      `it says env \`${env}\`, and its log \`${log}\` is not a decision point's of that env`,
    );
  const stranger = untrusted(log, trust);
  if (stranger) return stranger;
  return unproven(
    store,
    log,
    index,
    telling(onProgress, (read) => ({
      kind: "check",
      log,
      id: found.id,
      read,
      total: index + 1,
    })),
  );
}

// where a decision with some id is logged: its entry, or none when the line holding the id is
// not a logged decision
interface Place {
  readonly log: string;
  readonly index: number;
  readonly entry: ReturnType<typeof readEntry> | undefined;
}

// every place in a log where a decision with this id is logged, added to `places`
async function findEntries(
  store: Store,
  log: string,
  id: string,
  places: Place[],
  tell: (index: number) => void,
): Promise<void> {
  let index = 0;
  for await (const run of store.scanLog(log)) {
    for (const bytes of run) {
      tell(index);
      if (bytes.includes(id)) {
        let entry: Place["entry"];
        try {
          entry = readEntry(bytes);
        } catch (e) {
          if (!(e instanceof SteleError)) throw e;
        }
        if (entry === undefined || entry.id === id) places.push({ log, index, entry });
      }
      index++;
    }
  }
}

// why the log does not prove its decision at `index`, if it does not: the log is checked up to
// the first checkpoint past it, which must vouch for it
async function unproven(
  store: Store,
  log: string,
  index: number,
  tell: (index: number) => void,
): Promise<SteleError | undefined> {
  let vouched = false;
  try {
    const checked = await checkStoredLog(store, log, await logKey(store, log), {
      entry: (_, i) => tell(i),
      enough: (covered, v) => {
        vouched = v;
        return covered > index;
      },
    });
    if (checked.problem) return checked.problem.error;
    if (checked.covered <= index)
      return new SteleError(
        "ledger.bad_checkpoint",
        "no checkpoint covers it yet: it was logged after the last one",
        {
          hint: "a running decision point signs its batches within a second; one that stopped before it could leaves them unsigned",
        },
      );
  } catch (e) {
    if (e instanceof SteleError) return e;
    throw e;
  }
  if (!vouched)
    return new SteleError(
      "ledger.bad_checkpoint",
      "its checkpoint does not vouch for it: the decision point found it in the store without a checkpoint when it started again",
      { hint: "it cannot tell such decisions from ones written behind its back" },
    );
  return undefined;
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
