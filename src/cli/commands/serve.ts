import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { SteleError } from "../../errors.js";
import { readCheckpointNote } from "../../ledger/index.js";
import { startServer } from "../../server/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, stringOpt, usageError } from "../command.js";
import { readTextFile } from "../files.js";

/** `stele serve --env ENV`: run the decision point until stopped. */
export const serve: Command<{ url: string }> = {
  summary: "run the decision point for an environment (only verified releases)",
  usage:
    "--env ENV [--port N] [--host H] [--poll-interval 5s] [--verify-interval 30s] [--max-staleness 5m] [--fail-closed-when-stale] [--decision-log-sample F] [--decision-log-interval 250ms] [--state FILE] [--witness FILE]",
  options: {
    env: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    "poll-interval": { type: "string" },
    "verify-interval": { type: "string" },
    "max-staleness": { type: "string" },
    "fail-closed-when-stale": { type: "boolean", default: false },
    "decision-log-sample": { type: "string" },
    "decision-log-interval": { type: "string" },
    state: { type: "string" },
    witness: { type: "string" },
  },
  help: {
    env: "the environment whose releases to serve",
    port: "port to listen on (default 8181; 0 picks a free one)",
    host: "address to bind (default 127.0.0.1)",
    "poll-interval": "how often to look for a new release (default 5s)",
    "verify-interval": "how often to re-verify the running bundle (default 30s)",
    "max-staleness": "how old the ledger view may get before status says stale (default 5m)",
    "fail-closed-when-stale": "deny every request while stale",
    "decision-log-sample":
      "fraction of decisions written to the decision log, 0–1 (default 1); the rest are counted in status",
    "decision-log-interval":
      "how often the decision log writes a batch, 10ms–1m (default 250ms): at most this much is lost in a crash; each batch costs a file, its fsync and a signed checkpoint",
    state:
      "where to keep the version floor and pinned ledger key (default: ~/.local/state/stele/pdp-…)",
    witness:
      "a checkpoint of the ledger verified elsewhere (what `stele verify --witness FILE` writes): held to from the first start, so a new decision point is never handed a ledger rolled back or rewritten below it",
  },
  async run(args, io) {
    const env = stringOpt(args, "env");
    if (!env) throw usageError("--env is required", "e.g. `stele serve --env prod`");
    const port = Number(stringOpt(args, "port") ?? "8181");
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw usageError(`--port must be 0–65535`);
    const sampleText = stringOpt(args, "decision-log-sample");
    const sample = sampleText === undefined ? undefined : Number(sampleText);
    if (sample !== undefined && !(sampleText !== "" && sample >= 0 && sample <= 1))
      throw usageError(
        `--decision-log-sample must be a number from 0 to 1, found \`${sampleText}\``,
        "e.g. 0.1 logs one decision in ten",
      );
    const intervalText = stringOpt(args, "decision-log-interval");
    const interval = intervalText === undefined ? undefined : duration(intervalText);
    if (interval !== undefined && !(interval >= 10 && interval <= 60_000))
      throw usageError(
        `--decision-log-interval must be from 10ms to 1m, found \`${intervalText}\``,
        "e.g. 100ms loses less in a crash, 1s costs less under load",
      );
    const witnessPath = stringOpt(args, "witness");
    // everything else checked before the store is opened; a decision point that refuses to start
    // closes it (a PostgreSQL pool's idle connections would keep the process alive)
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer({
        env,
        store,
        port,
        host: stringOpt(args, "host") ?? "127.0.0.1",
        statePath: stringOpt(args, "state") ?? defaultState(env, store.url),
        pollIntervalMs: duration(stringOpt(args, "poll-interval") ?? "5s"),
        verifyIntervalMs: duration(stringOpt(args, "verify-interval") ?? "30s"),
        maxStalenessMs: duration(stringOpt(args, "max-staleness") ?? "5m"),
        failClosedWhenStale: args.values["fail-closed-when-stale"] === true,
        ...(sample !== undefined && { decisionLogSample: sample }),
        ...(interval !== undefined && { decisionLogIntervalMs: interval }),
        // read once the decision point's own `stopped` heartbeat is gone: a bad witness is a
        // start that failed, which `stele drift` must see
        ...(witnessPath !== undefined && { witness: () => readWitness(witnessPath) }),
      });
    } catch (e) {
      await store.close();
      throw e;
    }
    if (!io.json) io.err(`stele: serving ${env} on ${server.url}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await server.close();
    await store.close();
    return { url: server.url };
  },
  exit: () => Exit.ok,
  human: () => "",
};

// the --witness file: a signed checkpoint (its signature is checked against the store's key
// once the store is read); anything else is refused before the decision point starts
async function readWitness(path: string): Promise<string> {
  const how = "write one with `stele verify --witness FILE` where the store is trusted";
  const note = await readTextFile(path, "the witness ", how);
  try {
    readCheckpointNote(note);
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    throw new SteleError(
      e.code,
      `the witness \`${path}\` is not a signed checkpoint: ${e.message}`,
      {
        hint: how,
        cause: e,
      },
    );
  }
  return note;
}

/** `5s`, `250ms`, `2m`, `1h` in milliseconds. */
export function duration(text: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (!m) throw usageError(`bad duration \`${text}\``, "use e.g. 500ms, 5s, 2m or 1h");
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * unit;
}

function defaultState(env: string, store: string): string {
  const base =
    process.env.STELE_STATE_DIR ??
    join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "stele");
  const id = createHash("sha256").update(`${process.cwd()}\n${store}`).digest("hex").slice(0, 16);
  return join(base, `pdp-${env}-${id}.json`);
}
