// npm run bench:log: what the decision log costs per decision, without HTTP in the way. The
// decide route is called in-process at a fixed rate, alternately with the decision log off and
// on, and each round reads the CPU time of this process's threads from /proc (Linux): the request
// thread's, and all of them (the log's worker, the file system's threads, the collector). The
// HTTP bench (bench:server) cannot resolve microseconds on a shared machine; this can.
// Correctness first: every decision logged is written, and the log verifies.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { compile, readSources } from "../src/language/index.js";
import { createApp } from "../src/server/app.js";
import { verifyDecisionLogs } from "../src/server/decision-audit.js";
import { DecisionLog } from "../src/server/decision-log.js";
import { pdpIdentity } from "../src/server/identity.js";
import { createMetrics } from "../src/server/metrics.js";
import { Runtime } from "../src/server/runtime.js";
import { openStore, readLog } from "../src/store/index.js";
import { repoRoot } from "../src/testing/index.js";
import { makeInputs } from "./api-workload.js";
import { cpuTimes } from "./cpu.js";

const RATE = 20_000; // decisions a second, fewer than one request thread serves over HTTP here
const TICK_MS = 10;
const ROUND_SECONDS = 4;
const ROUNDS = 3; // per mode, alternating

// CPU time (µs) of the request thread, and of the whole process (checked to be Linux below)
const cpu = () => cpuTimes() ?? { main: 0, all: 0 };

// the median time (µs) of copying 1 MiB out of a SharedArrayBuffer into ordinary memory, with
// source and target at the same offset modulo 8, and one apart
function sharedCopy(): { alike: number; unlike: number } {
  const shared = new Uint8Array(new SharedArrayBuffer(1024 * 1024 + 16)).fill(1);
  const out = new Uint8Array(1024 * 1024 + 16);
  const time = (shift: number) => {
    const runs: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t = process.hrtime.bigint();
      out.set(shared.subarray(8, 8 + 1024 * 1024), 8 + shift);
      runs.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    return runs.sort((a, b) => a - b)[10] ?? 0;
  };
  return { alike: time(0), unlike: time(1) };
}

async function main(): Promise<void> {
  if (process.platform !== "linux") {
    console.log("bench:log reads thread CPU times from /proc: Linux only; skipped");
    return;
  }
  const compiled = compile(await readSources(join(repoRoot, "examples", "api")), {
    now: Date.now(),
  });
  if (!compiled.ok) throw new Error("examples/api does not compile");
  const runtime = new Runtime("bench");
  runtime.activate({
    env: "bench",
    version: 1,
    digest: `sha256:${"b".repeat(64)}`,
    set: compiled.set,
    bytes: Buffer.from(""),
    treeSize: 1,
    checkpoint: "",
    verifiedAt: Date.now(),
  });
  const dir = mkdtempSync(join(tmpdir(), "stele-bench-log-"));
  const store = await openStore(`file:${join(dir, "store")}`);
  const identity = await pdpIdentity(join(dir, "pdp.key"), "bench");
  const log = await DecisionLog.open(store, identity.name, identity, createMetrics(runtime));
  const apps = {
    off: createApp(runtime),
    on: createApp(runtime, { onDecision: (r, q, d, b) => log.record(r, q, d, b) }),
  };
  const bodies = makeInputs(400, 11).map((input) => Buffer.from(JSON.stringify({ input })));
  const query = new URLSearchParams();
  let next = 0;
  const round = async (mode: keyof typeof apps, seconds: number) => {
    const app = apps[mode];
    const perTick = (RATE * TICK_MS) / 1000;
    const n = Math.round((seconds * 1000) / TICK_MS) * perTick;
    const before = cpu();
    for (let done = 0; done < n; done += perTick) {
      for (let i = 0; i < perTick; i++) {
        const bytes = bodies[next++ % bodies.length] as Buffer;
        const reply = app.post({
          path: "/v1/decide",
          contentType: "application/json",
          body: bytes.toString("utf8"),
          bytes,
          query,
        });
        if (reply?.status !== 200) throw new Error(`decide answered ${reply?.status}`);
      }
      await sleep(TICK_MS);
    }
    const after = cpu();
    return { main: (after.main - before.main) / n, all: (after.all - before.all) / n, n };
  };
  try {
    await round("off", 1);
    await round("on", 1);
    type Cost = { main: number; all: number };
    const results: { off: Cost[]; on: Cost[] } = { off: [], on: [] };
    let logged = 0;
    for (let r = 0; r < ROUNDS; r++) {
      results.off.push(await round("off", ROUND_SECONDS));
      const on = await round("on", ROUND_SECONDS);
      logged += on.n;
      results.on.push(on);
    }
    await log.flush();
    // correctness: every decision of the warm-up and the rounds is in the log, which verifies
    const {
      logs: [report],
    } = await verifyDecisionLogs(store);
    const expected = logged + RATE;
    if (!report?.ok || report.entries !== expected)
      throw new Error(
        `the log holds ${report?.entries} decisions (expected ${expected}): ${report?.problem?.message ?? ""}`,
      );
    console.log(`correctness: ${report.entries} decisions logged, and the log verifies`);
    let bytes = 0;
    for (const line of await readLog(store, identity.name)) bytes += line.length + 1;
    console.log(`a logged decision: ${(bytes / report.entries).toFixed(0)} bytes on average`);
    const copy = sharedCopy();
    console.log(
      `copying 1 MiB out of shared memory: ${copy.alike.toFixed(0)} µs where source and target lie alike against 8-byte words, ${copy.unlike.toFixed(0)} µs where they do not (why the queue lays lines out against words)`,
    );
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const off = {
      main: median(results.off.map((x) => x.main)),
      all: median(results.off.map((x) => x.all)),
    };
    const on = {
      main: median(results.on.map((x) => x.main)),
      all: median(results.on.map((x) => x.all)),
    };
    console.log(
      `${RATE} decisions/s in-process, ${ROUNDS} rounds of ${ROUND_SECONDS} s each way (medians; CPU clock ticks are 10 ms)`,
    );
    console.log(
      `log off: ${off.main.toFixed(1)} µs of the request thread per decision, ${off.all.toFixed(1)} µs of all threads`,
    );
    console.log(
      `log on:  ${on.main.toFixed(1)} µs of the request thread per decision, ${on.all.toFixed(1)} µs of all threads`,
    );
    console.log(
      `the decision log costs ${(on.main - off.main).toFixed(1)} µs of the request thread and ${(on.all - off.all).toFixed(1)} µs of all threads per decision (${((on.all / off.all - 1) * 100).toFixed(0)}% more CPU)`,
    );
  } finally {
    await log.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
