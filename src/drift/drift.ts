import { digestOf } from "../bundle/index.js";
import { SteleError } from "../errors.js";
import { type LedgerView, latestRelease } from "../ledger/index.js";
import { fetchJson, type Heartbeat, readHeartbeats, readStatus } from "../server/index.js";
import { declaredEnvs, readView, type Store, storedBundle } from "../store/index.js";

/**
 * How an enforcement point stands against the ledger (DESIGN promise 7). `stopped` (it said so
 * in its last heartbeat, and serves nothing) is the one besides `in-sync` that is no drift.
 */
export type PdpStatus = "in-sync" | "stale" | "unreleased" | "tampered" | "silent" | "stopped";

/** Whether an enforcement point in this state is drift. */
export function isDrift(status: PdpStatus): boolean {
  return status !== "in-sync" && status !== "stopped";
}

/** One enforcement point, by heartbeat and/or live status. */
export interface PdpDrift {
  readonly pdp: string;
  readonly url: string | null;
  readonly status: PdpStatus;
  readonly version: number | null;
  readonly bundle: string | null;
  readonly detail: string;
}

/** One environment: what the ledger says runs, and what each enforcement point runs. */
export interface EnvDrift {
  readonly env: string;
  readonly version: number | null;
  readonly bundle: string | null;
  readonly pdps: readonly PdpDrift[];
}

/** A source file that differs from what was released. */
export interface SourceDrift {
  readonly path: string;
  readonly change: "modified" | "added" | "removed";
}

/** The whole drift report; `drift` is true when anything differs. */
export interface DriftReport {
  readonly drift: boolean;
  readonly envs: readonly EnvDrift[];
  readonly source?: {
    readonly env: string;
    readonly bundle: string;
    readonly files: readonly SourceDrift[];
    /** Why the released sources could not be read (the bundle tampered with in the store). */
    readonly problem?: { readonly code: string; readonly message: string };
  };
}

/** What to compare. */
export interface DriftOptions {
  readonly env?: string | undefined;
  /** Live decision points to ask for `/v1/status`. */
  readonly pdpUrls?: readonly string[];
  /** A heartbeat older than this (and no live answer) is `silent`. */
  readonly silentAfterMs?: number;
  readonly now?: number;
  /** A policy tree's sources (path → text), compared with the env's released bundle. */
  readonly sources?: ReadonlyMap<string, string>;
  /** How to fetch a live status (default: global fetch with a timeout). */
  readonly fetchStatus?: (url: string) => Promise<unknown>;
}

/**
 * Compares every environment's latest release in the ledger with the heartbeats in the store and
 * the live status of the given decision points, and (given sources) the working tree with the
 * released bundle's sources. Drift is a result, not an error.
 */
export async function detectDrift(store: Store, options: DriftOptions = {}): Promise<DriftReport> {
  const view = await readView(store);
  const now = options.now ?? Date.now();
  const silentAfter = options.silentAfterMs ?? 60_000;
  const beats = await readHeartbeats(store);
  // each address asked once (`…:8181` and `…:8181/` are one)
  const urls = [...new Set((options.pdpUrls ?? []).map((u) => u.replace(/\/+$/, "")))];
  const live = await Promise.all(urls.map((url) => liveStatus(url, options.fetchStatus)));
  const envNames = new Set<string>([
    ...view.releases.map((r) => r.record.env),
    ...beats.map((b) => b.env),
    ...live.flatMap((l) => (l.env ? [l.env] : [])),
  ]);
  if (
    options.env !== undefined &&
    !envNames.has(options.env) &&
    !live.some((l) => l.env === undefined) &&
    !(await declaredEnvs(store, view))?.includes(options.env)
  )
    throw new SteleError(
      "release.unknown_env",
      `no environment \`${options.env}\` in the ledger, the released configs, the heartbeats or the decision points asked`,
      { hint: `known environments: ${[...envNames].sort().join(", ") || "none yet"}` },
    );
  // the env asked about is reported even with nothing released to it and nothing serving it
  if (options.env !== undefined) envNames.add(options.env);
  const envs: EnvDrift[] = [];
  for (const env of [...envNames].sort()) {
    if (options.env !== undefined && env !== options.env) continue;
    const latest = latestRelease(view, env)?.record;
    const pdps: PdpDrift[] = [];
    for (const b of beats.filter((x) => x.env === env)) {
      // its live answer is one that names it: every decision point may listen at one address
      // (127.0.0.1:8181 behind a port-forward), so an answer there, or none, says nothing of
      // the others that once listened there
      const liveOne = live.find((l) => l.ok && l.pdp === b.pdp);
      pdps.push(classify(view, env, b, liveOne, now, silentAfter));
    }
    // those that answered, under their own env, each once (one that did not is placed below)
    for (const l of live)
      if (l.ok && l.env === env && !pdps.some((p) => p.pdp === (l.pdp ?? l.url)))
        pdps.push(classifyLive(view, env, l));
    // asked about this env, a decision point given by URL that serves another is not one of
    // its own: it enforces none of this env's releases, whatever it runs
    if (env === options.env)
      for (const l of live.filter((x) => x.ok && x.env !== undefined && x.env !== env))
        pdps.push({
          pdp: l.pdp ?? l.url,
          url: l.url,
          version: l.version ?? null,
          bundle: l.bundle ?? null,
          status: "unreleased",
          detail: `serves \`${l.env}\`, not \`${env}\``,
        });
    envs.push({ env, version: latest?.version ?? null, bundle: latest?.bundle ?? null, pdps });
  }
  // a PDP given by URL that did not answer belongs to no environment: report it where asked,
  // and never drop it, even when that environment has nothing in the ledger yet
  for (const l of live.filter((x) => x.env === undefined)) {
    let target = envs.find((e) => e.env === options.env) ?? envs[0];
    if (!target) {
      target = { env: options.env ?? "unknown", version: null, bundle: null, pdps: [] };
      envs.push(target);
    }
    (target.pdps as PdpDrift[]).push(classifyLive(view, target.env, l));
  }
  let source: DriftReport["source"];
  if (options.sources)
    // the tree against the env named, else the one released to last (where work goes first)
    source = await sourceDrift(
      store,
      view,
      options.sources,
      options.env ?? view.releases.at(-1)?.record.env ?? envs[0]?.env,
    );
  const drift =
    envs.some((e) => e.pdps.some((p) => isDrift(p.status))) ||
    (source?.files.length ?? 0) > 0 ||
    source?.problem !== undefined;
  return { drift, envs, ...(source && { source }) };
}

interface Live {
  readonly url: string;
  readonly ok: boolean;
  readonly pdp?: string;
  readonly env?: string;
  readonly version?: number | null;
  readonly bundle?: string | null;
  readonly state?: string;
  readonly error?: string;
}

async function liveStatus(
  url: string,
  fetchStatus?: (url: string) => Promise<unknown>,
): Promise<Live> {
  const base = url.replace(/\/+$/, "");
  try {
    const said = readStatus(await (fetchStatus ?? fetchJson)(`${base}/v1/status`), {
      log: false,
    });
    return { url: base, ok: true, ...said };
  } catch (e) {
    return { url: base, ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

function classify(
  view: LedgerView,
  env: string,
  b: Heartbeat,
  l: Live | undefined,
  now: number,
  silentAfter: number,
): PdpDrift {
  if (l?.ok) return classifyLive(view, env, { ...l, pdp: b.pdp });
  const age = now - Date.parse(b.time);
  const base = { pdp: b.pdp, url: b.url, version: b.version, bundle: b.bundle };
  if (b.stopped === true)
    return {
      ...base,
      status: "stopped",
      detail: `stopped ${ago(age)}${b.version === null ? "" : `, running v${b.version}`}`,
    };
  if (age > silentAfter) return { ...base, status: "silent", detail: `last heartbeat ${ago(age)}` };
  return { ...base, ...judge(view, env, b.bundle, b.version, b.state) };
}

// how long ago, in the largest whole unit: "40s ago", "3m ago", "2h ago", "5d ago"
function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 2 * 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 2 * 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function classifyLive(view: LedgerView, env: string, l: Live): PdpDrift {
  const base = {
    pdp: l.pdp ?? l.url,
    url: l.url,
    version: l.version ?? null,
    bundle: l.bundle ?? null,
  };
  if (!l.ok) return { ...base, status: "silent", detail: `no answer: ${l.error}` };
  return { ...base, ...judge(view, env, l.bundle ?? null, l.version ?? null, l.state ?? "ok") };
}

function judge(
  view: LedgerView,
  env: string,
  bundle: string | null,
  version: number | null,
  state: string,
): { status: PdpStatus; detail: string } {
  const latest = latestRelease(view, env)?.record;
  if (state === "tampered")
    return { status: "tampered", detail: "the decision point reports tampering" };
  if (bundle === null) return { status: "stale", detail: "serves no release" };
  const released = view.releases.find(
    (r) => r.record.env === env && r.record.bundle === bundle && r.record.version === version,
  );
  if (!released)
    return {
      status: "unreleased",
      detail: `runs ${bundle} v${version}, never released to \`${env}\``,
    };
  if (latest && (latest.bundle !== bundle || latest.version !== version))
    return { status: "stale", detail: `runs v${version}, the ledger has v${latest.version}` };
  if (state === "stale")
    return { status: "stale", detail: "its view of the ledger is older than its freshness limit" };
  // it runs the latest release, but refuses what it now reads of the ledger: it cannot follow it
  if (state === "refusing")
    return {
      status: "stale",
      detail: "it refuses the ledger it reads (see its /v1/status reason)",
    };
  return { status: "in-sync", detail: `runs v${version}` };
}

async function sourceDrift(
  store: Store,
  view: LedgerView,
  sources: ReadonlyMap<string, string>,
  env: string | undefined,
): Promise<DriftReport["source"]> {
  if (env === undefined) return undefined;
  const latest = latestRelease(view, env)?.record;
  if (!latest) return undefined;
  let bundle: Awaited<ReturnType<typeof storedBundle>>;
  try {
    bundle = await storedBundle(store, latest.bundle);
  } catch (e) {
    // a released bundle the store no longer holds intact is drift too, not a failed comparison
    if (!(e instanceof SteleError)) throw e;
    return { env, bundle: latest.bundle, files: [], problem: { code: e.code, message: e.message } };
  }
  const released = new Map(bundle.doc.sources.map((s) => [s.path, s.digest]));
  const files: SourceDrift[] = [];
  for (const [path, text] of sources) {
    const d = released.get(path);
    if (d === undefined) files.push({ path, change: "added" });
    else if (d !== digestOf(text)) files.push({ path, change: "modified" });
  }
  for (const path of released.keys())
    if (!sources.has(path)) files.push({ path, change: "removed" });
  files.sort((a, b) => a.path.localeCompare(b.path));
  return { env, bundle: latest.bundle, files };
}
