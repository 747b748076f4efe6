// npm run bench:server: `POST /v1/decide` of `stele serve` (decision log on, the api example
// released as in scripts/demo.ts) under load from wrk on loopback, against two baselines in the
// same run: a Cerbos PDP with equivalent policies (bench/cerbos/) and a bare node:http server
// answering the hand-written JS (bench/minimal-server.ts, the limit for Node). Correctness first
// (every server agrees with `handwritten` on a sample), then interleaved rounds of fixed duration
// and connections; medians of req/s, p50 and p99, printed with ratios from this same run.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { addReviewer, cliPath, git, repoRoot, tempDir, tempGitRepo } from "../src/testing/index.js";
import { type ApiDecision, type ApiRequest, handwritten, makeInputs } from "./api-workload.js";
import { cpuTimes } from "./cpu.js";

const ROUNDS = 5; // per target, interleaved: a median of five holds on a shared machine
const ROUND_SECONDS = 5;
const WARMUP_SECONDS = 2; // one unmeasured round per target first (JIT, connection pools)
const CONNECTIONS = 16;
const THREADS = 2;
const BODIES = 400; // distinct request bodies wrk cycles through
const CHECKED = 500; // inputs whose decisions are compared with `handwritten` before the load
const DEADLINE_MS = 170_000; // the whole run, setup included

// --- child processes: every one is killed at the end, on error and on exit ----------------------

const children = new Set<ChildProcess>();

// temporary folders (src/testing's tempDir) go when the process exits
function cleanup(): void {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
}
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

/** A child whose standard output and error are drained and their last 8 KB kept. */
interface Child {
  readonly process: ChildProcess;
  readonly output: () => string;
  /** Resolves with the first match of `pattern` in the output; rejects on exit or timeout. */
  readonly waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpExecArray>;
}

function start(
  name: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Child {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let tail = "";
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-8192);
    for (const w of waiters) w();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  let exited: string | undefined;
  child.on("error", (e) => {
    exited = String(e);
    for (const w of waiters) w();
  });
  child.on("exit", (code, signal) => {
    children.delete(child);
    exited = `exited with ${signal ?? code}`;
    for (const w of waiters) w();
  });
  const waitFor = (pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${name}: no ${pattern} after ${timeoutMs} ms:\n${tail}`));
      }, timeoutMs);
      const check = () => {
        const m = pattern.exec(tail);
        if (m || exited) {
          waiters.delete(check);
          clearTimeout(timer);
          if (m) resolve(m);
          else reject(new Error(`${name} ${exited}:\n${tail}`));
        }
      };
      waiters.add(check);
      check();
    });
  return { process: child, output: () => tail, waitFor };
}

/** SIGTERM, then SIGKILL after `graceMs`. */
async function stop(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

// --- the three servers ------------------------------------------------------------------------

/** A server under test: where to POST, the body for an input, and how to read its decision. */
interface Target {
  readonly name: string;
  readonly child: Child;
  readonly origin: string;
  readonly path: string;
  readonly body: (input: ApiRequest, i: number) => string;
  /** The decision and, where the server says which rules matched, those. */
  readonly read: (response: unknown, input: ApiRequest) => Partial<ApiDecision>;
}

const steleBody = (input: ApiRequest) => JSON.stringify({ input });

/** The api example released to `staging` in a fresh git repository, the scripts/demo.ts way. */
function releaseApiExample(): { work: string; env: NodeJS.ProcessEnv } {
  const work = tempGitRepo("stele-bench-server-");
  const env = { ...process.env, STELE_STATE_DIR: join(work, ".state") };
  const stele = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cliPath, ...args], { cwd: work, encoding: "utf8", env });
    if (r.status !== 0)
      throw new Error(`stele ${args.join(" ")} exited ${r.status}:\n${r.stdout}${r.stderr}`);
  };
  cpSync(join(repoRoot, "examples", "api"), work, { recursive: true });
  writeFileSync(join(work, ".gitignore"), "keys/*.key\n.stele/\n.state/\nbuild/\n");
  stele("keygen", "--name", "alice", "--out", "keys");
  addReviewer(work, "alice");
  git(work, "add", "-A");
  git(work, "commit", "-qm", "api policies with a bench reviewer");
  stele("build", "-o", "build/api.bundle.json");
  stele("approve", "build/api.bundle.json", "--key", "keys/alice.key", "--env", "staging");
  stele("release", "build/api.bundle.json", "--env", "staging");
  return { work, env };
}

/** A decision point on the released api example; `nolog` turns its decision log off. */
async function startStele(
  released: { work: string; env: NodeJS.ProcessEnv },
  nolog = false,
): Promise<Target> {
  const { work, env } = released;
  // the decision log is on by default; nothing here turns it off
  const server = start(
    "stele serve",
    process.execPath,
    [
      cliPath,
      "serve",
      "--env",
      "staging",
      "--port",
      "0",
      ...(nolog
        ? ["--decision-log-sample", "0", "--state", join(work, ".state", "nolog.json")]
        : []),
    ],
    { cwd: work, env },
  );
  const m = await server.waitFor(/"msg":"listening","url":"([^"]+)"/, 15_000);
  return {
    name: nolog ? "nolog" : "stele",
    child: server,
    origin: m[1] as string,
    path: "/v1/decide",
    body: steleBody,
    read: (response) => {
      const r = response as { decision?: ApiDecision["decision"]; policies?: { matched: [] }[] };
      return {
        ...(r.decision !== undefined && { decision: r.decision }),
        matched: (r.policies ?? []).flatMap((p) => p.matched),
      };
    },
  };
}

async function startMinimal(): Promise<Target> {
  const child = start("minimal server", process.execPath, [
    join(repoRoot, "dist", "bench", "minimal-server.js"),
  ]);
  const m = await child.waitFor(/listening (\d+)/, 10_000);
  return {
    name: "minimal",
    child,
    origin: `http://127.0.0.1:${m[1]}`,
    path: "/v1/decide",
    body: steleBody,
    read: (response) => response as ApiDecision,
  };
}

/**
 * The Cerbos release the baseline runs. It is not a dependency of Stele: its npm package ships one
 * binary per platform as optional dependencies, and a lockfile naming them all would make `npm ci`
 * fail wherever a registry mirror carries only this platform's. The bench installs it on first use
 * into `.cache/cerbos/` (git-ignored), from the npm registry like every other package.
 */
const CERBOS_VERSION = "0.51.0";

function cerbosBinary(): string {
  const pkg = `@cerbos/cerbos-${process.platform}-${process.arch}`;
  const prefix = join(repoRoot, ".cache", "cerbos");
  const resolve = (): string | undefined => {
    try {
      return createRequire(join(prefix, "package.json")).resolve(pkg);
    } catch {
      return undefined;
    }
  };
  const found = resolve();
  if (found !== undefined) return found;
  console.log(`installing cerbos@${CERBOS_VERSION} into ${prefix} (first run only)…`);
  const r = spawnSync(
    "npm",
    [
      "install",
      "--prefix",
      prefix,
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      `cerbos@${CERBOS_VERSION}`,
    ],
    { stdio: "inherit" },
  );
  const installed = resolve();
  if (r.status !== 0 || installed === undefined) {
    throw new Error(
      `cannot install the Cerbos binary (${pkg}@${CERBOS_VERSION}) into ${prefix}: ` +
        `run \`npm install --prefix .cache/cerbos cerbos@${CERBOS_VERSION}\` and look at its output`,
    );
  }
  return installed;
}

/** Cerbos's check request for one input: roles plus `user`, the rest as attributes. */
function cerbosBody(input: ApiRequest, i: number): string {
  const { principal: p, resource: r } = input;
  return JSON.stringify({
    requestId: `bench-${i}`,
    principal: {
      id: p.id,
      roles: ["user", ...p.roles],
      attr: { department: p.department, clearance: p.clearance, mfa: p.mfa },
    },
    resources: [
      {
        actions: [input.action],
        resource: {
          kind: "api_resource",
          id: r.id,
          attr: {
            env: input.env,
            type: r.type,
            owner: r.owner,
            department: r.department,
            classification: r.classification,
            ...(r.tags !== undefined && { tags: r.tags }),
          },
        },
      },
    ],
  });
}

async function startCerbos(): Promise<Target> {
  const binary = cerbosBinary();
  const dir = tempDir("stele-bench-cerbos-");
  const policies = join(dir, "policies");
  cpSync(join(repoRoot, "bench", "cerbos"), policies, { recursive: true });
  const [http, grpc] = [await freePort(), await freePort()];
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      "server:",
      `  httpListenAddr: "127.0.0.1:${http}"`,
      `  grpcListenAddr: "127.0.0.1:${grpc}"`,
      "storage:",
      "  driver: disk",
      "  disk:",
      `    directory: ${JSON.stringify(policies)}`,
      "    watchForChanges: false",
      "audit:",
      "  enabled: false",
      "telemetry:",
      "  disabled: true",
      "",
    ].join("\n"),
  );
  const child = start("cerbos", binary, ["server", `--config=${config}`, "--log-level=warn"], {
    env: { ...process.env, CERBOS_NO_TELEMETRY: "1" },
  });
  const origin = `http://127.0.0.1:${http}`;
  for (let waited = 0; ; waited += 100) {
    if (child.process.exitCode !== null) throw new Error(`cerbos exited:\n${child.output()}`);
    const ok = await fetch(`${origin}/_cerbos/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (waited > 15_000) throw new Error(`cerbos not healthy after 15 s:\n${child.output()}`);
    await sleep(100);
  }
  return {
    name: "cerbos",
    child,
    origin,
    path: "/api/check/resources",
    body: cerbosBody,
    read: (response, input) => {
      const r = response as { results?: { actions?: Record<string, string> }[] };
      const effect = r.results?.[0]?.actions?.[input.action];
      return { decision: effect === "EFFECT_ALLOW" ? "allow" : "deny" };
    },
  };
}

// --- correctness: every server agrees with `handwritten` on a sample ----------------------------

async function checkAgreement(target: Target, inputs: readonly ApiRequest[]): Promise<void> {
  const disagreements: string[] = [];
  let allow = 0;
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const i = next++;
      const input = inputs[i] as ApiRequest;
      const res = await fetch(target.origin + target.path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: target.body(input, i),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${target.name} answered ${res.status}: ${text}`);
      const got = target.read(JSON.parse(text), input);
      const want = handwritten(input);
      if (want.decision === "allow") allow++;
      const same =
        got.decision === want.decision &&
        (got.matched === undefined || got.matched.join() === want.matched.join());
      if (!same)
        disagreements.push(
          `  ${JSON.stringify(input)}\n    want ${JSON.stringify(want)}\n    got  ${JSON.stringify(got)}`,
        );
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const agree = inputs.length - disagreements.length;
  const what = target.name === "cerbos" ? "decision" : "decision and matched rules";
  console.log(
    `correctness: ${target.name.padEnd(7)} agrees with handwritten on ${agree}/${inputs.length} inputs (${what}; ${allow} allow, ${inputs.length - allow} deny)`,
  );
  if (disagreements.length > 0)
    throw new Error(
      `${target.name} disagrees with handwritten on ${disagreements.length} inputs, e.g.:\n${disagreements.slice(0, 5).join("\n")}`,
    );
}

// --- load: wrk with a Lua script cycling through pre-generated bodies ---------------------------

/** A wrk script POSTing `bodies` round-robin and printing one machine-readable result line. */
function wrkScript(path: string, bodies: readonly string[]): string {
  for (const b of bodies) if (b.includes("]==]")) throw new Error("body cannot be a Lua string");
  return `-- generated by bench/server.ts
local bodies = {
${bodies.map((b) => `  [==[${b}]==],`).join("\n")}
}
local reqs = {}
local n = 0
local i = 0

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for k, b in ipairs(bodies) do reqs[k] = wrk.format("POST", "${path}", headers, b) end
  n = #reqs
end

function request()
  i = i % n + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT {\\"requests\\":%d,\\"durationUs\\":%d,\\"p50Us\\":%d,\\"p99Us\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
`;
}

interface Round {
  readonly requests: number;
  /** CPU µs per request: the server's request thread, and all its threads (Linux). */
  cpu?: { main: number; all: number };
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: Record<string, number>;
}

async function wrk(target: Target, script: string, seconds: number): Promise<Round> {
  const child = start("wrk", "wrk", [
    `-t${THREADS}`,
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    "--latency",
    "-s",
    script,
    target.origin + target.path,
  ]);
  const m = await child.waitFor(/WRK_RESULT (\{.*\})/, (seconds + 15) * 1000);
  await new Promise<void>((resolve) => {
    if (child.process.exitCode !== null || child.process.signalCode !== null) resolve();
    else child.process.once("exit", () => resolve());
  });
  const r = JSON.parse(m[1] as string) as Record<string, number>;
  const requests = r.requests ?? 0;
  const errors: Record<string, number> = {};
  for (const k of ["connect", "read", "write", "status", "timeout"])
    if ((r[k] ?? 0) > 0) errors[k === "status" ? "non-2xx" : k] = r[k] ?? 0;
  return {
    requests,
    rps: requests / ((r.durationUs ?? 1) / 1e6),
    p50Ms: (r.p50Us ?? 0) / 1000,
    p99Ms: (r.p99Us ?? 0) / 1000,
    errors,
  };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");

async function steleLogStatus(stele: Target): Promise<string> {
  const status = (await (await fetch(`${stele.origin}/v1/status`)).json()) as {
    decisionLog?: { size: number; pending: number; sampledOut: number } | null;
  };
  const metrics = await (await fetch(`${stele.origin}/metrics`)).text();
  const dropped = /^stele_decision_log_dropped_total(?:\{[^}]*\})? (\S+)$/m.exec(metrics)?.[1];
  const log = status.decisionLog;
  return log
    ? `${log.size} decisions written, ${log.pending} pending, ${dropped ?? "?"} dropped, ${log.sampledOut} sampled out`
    : "off (unexpected)";
}

async function main(): Promise<void> {
  if (spawnSync("wrk", ["--version"]).error) {
    console.error("bench:server needs wrk on the PATH; install wrk: apt-get install wrk");
    process.exit(1);
  }
  if (!existsSync(cliPath)) throw new Error(`no built CLI at ${cliPath}: run npm run build`);
  const deadline = setTimeout(() => {
    console.error(`bench:server: still running after ${DEADLINE_MS / 1000} s; stopping`);
    process.exit(2);
  }, DEADLINE_MS);
  deadline.unref();
  const began = Date.now();
  console.log(
    `load average before: ${load()} (${availableParallelism()} CPUs; shared machine: absolute numbers drift, ratios less so)`,
  );

  const released = releaseApiExample();
  const targets = [
    await startStele(released),
    await startMinimal(),
    await startCerbos(),
    await startStele(released, true),
  ];
  const [stele, minimal, cerbos, nolog] = targets as [Target, Target, Target, Target];
  console.log(
    `servers: stele ${stele.origin} (decision log on), minimal ${minimal.origin}, cerbos ${cerbos.origin}, nolog ${nolog.origin} (stele, decision log off)`,
  );
  console.log("  (stele and minimal run one JS thread; cerbos, in Go, may use every CPU)");

  const sample = makeInputs(CHECKED, 2) as ApiRequest[];
  for (const t of targets) await checkAgreement(t, sample);

  const inputs = makeInputs(BODIES, 1) as ApiRequest[];
  const dir = tempDir("stele-bench-wrk-");
  const scripts = new Map<Target, string>();
  for (const t of targets) {
    const file = join(dir, `${t.name}.lua`);
    writeFileSync(file, wrkScript(t.path, inputs.map(t.body)));
    scripts.set(t, file);
  }

  console.log(
    `\nwrk: ${THREADS} threads, ${CONNECTIONS} connections, ${BODIES} bodies round-robin; ${WARMUP_SECONDS} s warm-up each, then ${ROUNDS} interleaved rounds of ${ROUND_SECONDS} s`,
  );
  for (const t of targets) await wrk(t, scripts.get(t) as string, WARMUP_SECONDS);
  const rounds = new Map<Target, Round[]>(targets.map((t) => [t, []]));
  let failures = 0;
  // stele between the minimal server and itself with its log off, so that those two ratios are
  // of neighbouring runs (other work on a shared machine drifts over seconds); the order turns
  // round every round, so that neither runs always just after stele, its log still writing
  const order = [minimal, stele, nolog, cerbos];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const t of round % 2 === 1 ? order : [...order].reverse()) {
      const before = cpuTimes(t.child.process.pid);
      const r = await wrk(t, scripts.get(t) as string, ROUND_SECONDS);
      const after = cpuTimes(t.child.process.pid);
      if (before && after && r.requests > 0)
        r.cpu = {
          main: (after.main - before.main) / r.requests,
          all: (after.all - before.all) / r.requests,
        };
      rounds.get(t)?.push(r);
      const errors = Object.entries(r.errors);
      if (errors.length > 0) failures++;
      console.log(
        `  round ${round} ${t.name.padEnd(7)} ${r.rps.toFixed(0).padStart(6)} req/s   p50 ${r.p50Ms.toFixed(2)} ms   p99 ${r.p99Ms.toFixed(2)} ms   ${r.requests} requests${r.cpu && t !== cerbos ? `   CPU ${r.cpu.main.toFixed(1)} µs/request (request thread), ${r.cpu.all.toFixed(1)} (all)` : ""}${errors.length > 0 ? `   ERRORS ${errors.map(([k, v]) => `${k} ${v}`).join(", ")}` : ""}`,
      );
    }
  }

  console.log(`\nload average after: ${load()}`);
  console.log(`stele decision log: ${await steleLogStatus(stele)}`);
  const med = (t: Target, k: "rps" | "p50Ms" | "p99Ms") =>
    median((rounds.get(t) ?? []).map((r) => r[k]));
  console.log(`\nmedians of ${ROUNDS} rounds:`);
  for (const t of targets)
    console.log(
      `  ${t.name.padEnd(8)} ${med(t, "rps").toFixed(0).padStart(6)} req/s   p50 ${med(t, "p50Ms").toFixed(2)} ms   p99 ${med(t, "p99Ms").toFixed(2)} ms`,
    );
  const steleP99 = med(stele, "p99Ms");
  // the median of each round's ratio: a round's runs are neighbours (above)
  const ratio = (other: Target) => {
    const theirs = rounds.get(other) ?? [];
    return median((rounds.get(stele) ?? []).map((r, i) => r.rps / (theirs[i]?.rps ?? Number.NaN)));
  };
  console.log(`ratios, medians of the ${ROUNDS} rounds' own:`);
  console.log(`stele / minimal: ${ratio(minimal).toFixed(2)}x req/s   (target >= 0.60x)`);
  console.log(`stele / cerbos:  ${ratio(cerbos).toFixed(2)}x req/s`);
  console.log(
    `decision log cost: ${((1 - ratio(nolog)) * 100).toFixed(0)}% of throughput (stele vs nolog; target <= 10%)`,
  );
  // what the log costs in CPU, which on a shared machine moves less than throughput: the median
  // of each round's difference per request, stele against itself with its log off
  const cpuCost = (k: "main" | "all") => {
    const off = rounds.get(nolog) ?? [];
    return median(
      (rounds.get(stele) ?? []).flatMap((r, i) => {
        const theirs = off[i]?.cpu?.[k];
        return r.cpu && theirs !== undefined ? [r.cpu[k] - theirs] : [];
      }),
    );
  };
  const offMain = median((rounds.get(nolog) ?? []).flatMap((r) => (r.cpu ? [r.cpu.main] : [])));
  if (offMain > 0)
    console.log(
      `decision log CPU: ${cpuCost("main").toFixed(1)} µs a request of the request thread (${((cpuCost("main") / offMain) * 100).toFixed(0)}% more; it bounds throughput), ${cpuCost("all").toFixed(1)} µs of all threads`,
    );
  console.log(
    `stele p99 ${steleP99.toFixed(2)} ms: ${steleP99 <= 2 ? "within" : "over"} the 2 ms target (at ${CONNECTIONS} connections)`,
  );
  if (failures > 0) console.log(`${failures} rounds had socket errors or non-2xx answers (above)`);
  console.log(`total ${((Date.now() - began) / 1000).toFixed(0)} s`);

  clearTimeout(deadline);
  await Promise.all(targets.map((t) => stop(t.child.process)));
}

try {
  await main();
} finally {
  cleanup();
}
