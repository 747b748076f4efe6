import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SteleError } from "../errors.js";
import type { Store } from "../store/index.js";
import { createApp } from "./app.js";
import { DecisionLog } from "./decision-log.js";
import { unstop, writeHeartbeat } from "./heartbeat.js";
import { createHttpServer } from "./http.js";
import { pdpIdentity } from "./identity.js";
import { Loader } from "./loader.js";
import { Runtime } from "./runtime.js";
import { logWitnessFile, stateFile } from "./state.js";

/** How to run a decision point. */
export interface ServeOptions {
  readonly env: string;
  readonly store: Store;
  readonly host?: string;
  readonly port?: number;
  /** Where the PDP remembers its version floor and pinned ledger key (outside the store). */
  readonly statePath: string;
  /**
   * A checkpoint note of the store's ledger, verified elsewhere (`stele verify --witness`):
   * held to from the first start, so a new decision point cannot be handed a ledger rolled back
   * or rewritten below it.
   */
  readonly witness?: string | (() => Promise<string>);
  readonly pollIntervalMs?: number;
  readonly verifyIntervalMs?: number;
  /** Past this age of its ledger view the PDP is `stale`. */
  readonly maxStalenessMs?: number;
  readonly failClosedWhenStale?: boolean;
  readonly maxBodyBytes?: number;
  /** Log every decision (default true); `decisionLogSample` logs a fraction, counting the rest. */
  readonly decisionLog?: boolean;
  readonly decisionLogSample?: number;
  /**
   * How often the decision log writes a batch (default 250 ms): what a crash can lose, against
   * what each batch costs (a file or transaction, its fsync, a signed checkpoint).
   */
  readonly decisionLogIntervalMs?: number;
  /** Structured log lines (JSON); default: standard error. */
  readonly log?: (line: Record<string, unknown>) => void;
}

/** A running decision point. */
export interface Server {
  readonly url: string;
  readonly runtime: Runtime;
  close(): Promise<void>;
}

/**
 * Starts a decision point: loads and verifies the environment's release, serves decisions on
 * 127.0.0.1 unless told otherwise, polls the ledger for new releases, re-verifies what it runs,
 * and tracks freshness. Nothing here can change policy but a verified release.
 */
export async function startServer(options: ServeOptions): Promise<Server> {
  const log =
    options.log ??
    ((line) =>
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`));
  const runtime = new Runtime(options.env);
  const maxStaleness = options.maxStalenessMs ?? 5 * 60_000;
  const identity = await pdpIdentity(`${options.statePath}.key`, options.env);
  // from here on, a start that fails is not a stop on purpose
  await unstop(options.store, identity, options.env).catch(() => undefined);
  const witness = typeof options.witness === "function" ? await options.witness() : options.witness;
  const loader = new Loader(options.store, runtime, stateFile(options.statePath), {
    ...(witness !== undefined && { witness }),
    // the same freshness for what runs as for the view of the ledger
    maxUnverifiedMs: maxStaleness,
  });
  let decisionLog: DecisionLog | undefined;
  // what a heartbeat says of the decision log: its last checkpoint the store took
  const logWord = () =>
    decisionLog && { log: decisionLog.name, checkpoint: decisionLog.checkpoint };
  const http = createApp(runtime, {
    ...(options.maxBodyBytes !== undefined && { maxBodyBytes: options.maxBodyBytes }),
    onDecision: (response, request, decision, requestBody) =>
      decisionLog?.record(response, request, decision, requestBody),
    ...(options.failClosedWhenStale !== undefined && {
      failClosedWhenStale: options.failClosedWhenStale,
    }),
    status: () => ({
      lastVerified:
        runtime.lastVerified !== undefined ? new Date(runtime.lastVerified).toISOString() : null,
      ledgerAgeSeconds:
        runtime.lastLedgerRead !== undefined ? (Date.now() - runtime.lastLedgerRead) / 1000 : null,
      maxStalenessSeconds: maxStaleness / 1000,
      checkpoint: runtime.active?.checkpoint ?? null,
      pdp: identity.name,
      decisionLog: decisionLog
        ? {
            log: decisionLog.name,
            size: decisionLog.size,
            pending: decisionLog.pending,
            sampledOut: decisionLog.sampledOut,
            checkpoint: decisionLog.checkpoint ?? null,
            problem: decisionLog.problem
              ? { code: decisionLog.problem.code, message: decisionLog.problem.message }
              : null,
          }
        : null,
    }),
  });
  const metrics = http.metrics;
  if (options.decisionLog !== false) {
    const opening = Date.now();
    decisionLog = await DecisionLog.open(options.store, identity.name, identity, metrics, {
      maxRequestBytes: http.maxBodyBytes,
      ...(options.decisionLogSample !== undefined && { sample: options.decisionLogSample }),
      witness: logWitnessFile(options.statePath),
      ...(options.decisionLogIntervalMs !== undefined && {
        flushIntervalMs: options.decisionLogIntervalMs,
      }),
    });
    log({
      level: "info",
      msg: `decision log ${identity.name}: ${decisionLog.size} decisions, tree from its ${decisionLog.openedFrom} in ${Date.now() - opening} ms`,
      env: options.env,
    });
  }
  let url: string | null = null;
  let closing = false;
  // heartbeats are written one after another, in the order they are made: a slow write under
  // way as it stops cannot land after the last heartbeat and bring a stopped decision point back
  let beats: Promise<void> = Promise.resolve();
  const beat = (at: string | null, stopped = false): Promise<void> => {
    beats = beats.then(() =>
      writeHeartbeat(options.store, identity, runtime, at, logWord(), stopped).catch((e) =>
        log({ level: "warn", msg: "cannot write heartbeat", error: String(e) }),
      ),
    );
    return beats;
  };

  let clockWarned = false;
  // said once: the decision log stopped because the store lost what it signed
  let logProblemSaid = false;
  const refresh = async () => {
    const problem = decisionLog?.problem;
    if (problem && !logProblemSaid) {
      logProblemSaid = true;
      log({
        level: "error",
        msg: `the decision log stopped writing: ${problem.message}`,
        code: problem.code,
        hint: problem.hint,
      });
    }
    const event = await loader.refresh();
    if (event.outcome !== "unchanged")
      log({
        level: event.outcome === "loaded" ? "info" : "warn",
        msg: event.message,
        outcome: event.outcome,
        code: event.code,
        env: options.env,
      });
    if (event.outcome === "refused" || event.outcome === "tampered")
      metrics.verificationFailures.inc({ reason: event.code ?? event.outcome });
    // releases are stamped by other machines' clocks: a minute of skew is not worth a warning
    const behind = runtime.clockBehindMs > CLOCK_TOLERANCE_MS;
    if (behind !== clockWarned) {
      clockWarned = behind;
      log({
        level: behind ? "warn" : "info",
        msg: behind
          ? `the clock is ${Math.round(runtime.clockBehindMs / 1000)} s earlier than the latest time this decision point trusted; decisions use that time until the clock catches up`
          : "the clock caught up with the latest time this decision point trusted",
        env: options.env,
      });
    }
    // none before it listens (one whose port is taken writes no heartbeat), nor once it closes
    if (url !== null && !closing) await beat(url);
  };
  const reverify = async () => {
    const event = await loader.reverify();
    if (event.outcome === "unavailable")
      log({
        level: "warn",
        msg: `cannot re-verify what runs now (tried again in a moment): ${event.message}`,
        outcome: "unavailable",
        code: event.code,
        env: options.env,
      });
    if (event.outcome === "tampered") {
      log({
        level: "error",
        msg: event.message,
        outcome: "tampered",
        code: event.code,
        env: options.env,
      });
      metrics.verificationFailures.inc({ reason: event.code ?? "tampered" });
    }
  };
  const freshness = () => {
    const age =
      runtime.lastLedgerRead === undefined
        ? Number.POSITIVE_INFINITY
        : Date.now() - runtime.lastLedgerRead;
    if (runtime.active && runtime.health !== "tampered" && age > maxStaleness)
      runtime.health = "stale";
  };

  const tasks: Periodic[] = [];
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 8181;
  const server: HttpServer = createHttpServer(http);
  // whether an error came from binding the address (the rest of start-up throws its own)
  let listening = false;
  try {
    await refresh();
    tasks.push(
      every(options.pollIntervalMs ?? 5_000, refresh, log),
      every(options.verifyIntervalMs ?? 30_000, reverify, log),
      every(1_000, async () => freshness(), log),
    );
    listening = true;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    // nothing it started keeps running in a program that embeds it and goes on
    await Promise.all(tasks.map((t) => t.stop()));
    await decisionLog?.close().catch(() => undefined);
    if (e instanceof SteleError || !listening) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new SteleError("server.cannot_listen", `cannot listen on ${host}:${port} (${code})`, {
      hint:
        code === "EADDRINUSE"
          ? "another process has that port: stop it, or choose another with --port"
          : "choose another --host or --port",
    });
  }
  const address = server.address() as AddressInfo;
  url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
  await beat(url);
  log({
    level: "info",
    msg: "listening",
    url,
    env: options.env,
    ready: runtime.active !== undefined,
  });
  const bound = url;
  return {
    url: bound,
    runtime,
    async close() {
      // no periodic task writes a heartbeat after the last one; one under way gets a moment to
      // finish (a store that never answers does not hold the close up)
      closing = true;
      await Promise.all(tasks.map((t) => t.stop()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await decisionLog?.close();
      // a last heartbeat says it stopped (`stele drift` lists it, as no drift), with no URL (it
      // no longer answers), and names the last checkpoint it signed: decisions removed from the
      // log's end while it is down show in `stele decisions verify`, not only at its next start
      await beat(null, true);
    },
  };
}

const CLOCK_TOLERANCE_MS = 60_000;

// how long closing waits for a periodic task under way
const STOP_WAIT_MS = 2_000;

/** A periodic task; `stop` ends it, once a run under way has finished or a moment has passed. */
interface Periodic {
  stop(): Promise<void>;
}

// a periodic task that never overlaps itself and never crashes the process
function every(
  ms: number,
  task: () => Promise<void>,
  log: (line: Record<string, unknown>) => void,
): Periodic {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch((e) =>
        log({
          level: "error",
          msg: "internal error in a periodic task",
          error: e instanceof Error ? (e.stack ?? String(e)) : String(e),
        }),
      )
      .finally(() => {
        running = undefined;
      });
  }, ms);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      if (running === undefined) return;
      let waited: NodeJS.Timeout | undefined;
      await Promise.race([
        running,
        new Promise<void>((resolve) => {
          waited = setTimeout(resolve, STOP_WAIT_MS);
        }),
      ]);
      clearTimeout(waited);
    },
  };
}
