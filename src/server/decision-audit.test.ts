// A decision log larger than what `stele decisions verify` and a decision point opening it may
// hold: both read it a run at a time. The log is made here as a decision point lays it out (a
// batch a leaf, a signed checkpoint after each), each is run in a child process whose peak memory
// (VmHWM, Linux) is read at exit, then the log is doubled and each is run again: the peak must
// not grow with the log.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { openStore } from "../store/index.js";
import { cliPath, repoRoot, tempDir } from "../testing/index.js";
import { type AuditProgress, verifyDecisionLogs } from "./decision-audit.js";
import { frontierDoc } from "./decision-log.js";
import { pdpIdentity } from "./identity.js";
import { signedLog } from "./testing.js";

const BATCHES = 16; // added at a time: the log is checked at 16 batches, then at 32
const PER_BATCH = 8_000;

// a logged decision of about 800 bytes, as a decision point writes one
function line(i: number): string {
  const id = `00000000-0000-4000-8000-${i.toString().padStart(12, "0")}`;
  return JSON.stringify({
    id,
    time: "2026-11-29T12:00:00.000Z",
    env: "big",
    version: 1,
    bundle: `sha256:${"b".repeat(64)}`,
    request: { input: { label: `q${i}`, note: "n".repeat(540) } },
    decision: { decision: "deny", policies: [], warnings: [], exceptions: [], errors: [] },
  });
}

// a store holding one decision log, made BATCHES batches at a time; its folder, the key file,
// and how to add more
async function largeLog(): Promise<{
  dir: string;
  keyFile: string;
  name: string;
  grow: (batches?: number) => Promise<{ entries: number; bytes: number }>;
}> {
  const dir = tempDir("stele-large-log-");
  const keyFile = join(dir, "pdp.key");
  const identity = await pdpIdentity(keyFile, "big");
  const store = await openStore(`file:${join(dir, "store")}`);
  const log = await signedLog(store, identity);
  let bytes = 0;
  const grow = async (batches = BATCHES) => {
    for (let b = 0; b < batches; b++) {
      const lines: string[] = [];
      for (let i = log.entries; i < log.entries + PER_BATCH; i++) lines.push(line(i));
      await log.append(lines);
      bytes += Buffer.byteLength(lines.join("\n")) + 1;
    }
    return { entries: log.entries, bytes };
  };
  return { dir, keyFile, name: identity.name, grow };
}

// what a child process printed, and its peak resident memory in bytes (VmHWM, read at exit)
function peak(args: readonly string[]): {
  code: number | null;
  stdout: string;
  stderr: string;
  peak: number;
} {
  const preload = join(tempDir("stele-peak-"), "peak.cjs");
  writeFileSync(
    preload,
    `process.on("exit", () => { const fs = require("node:fs"); const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8")); fs.writeSync(2, "\\npeak " + (m ? m[1] : "?") + "\\n"); });\n`,
  );
  const r = spawnSync(process.execPath, ["--require", preload, ...args], {
    encoding: "utf8",
    timeout: 120_000,
  });
  // the process's own (a worker thread reports the same process's too)
  const kb = /\npeak (\d+)\n/.exec(r.stderr)?.[1];
  assert.ok(kb, `no peak memory reported: ${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, peak: Number(kb) * 1024 };
}

// a decision point opening the log: the script, run in a child process
const openScript = (storeDir: string, keyFile: string) => `
import { openStore } from ${JSON.stringify(join(repoRoot, "dist/src/store/index.js"))};
import { DecisionLog } from ${JSON.stringify(join(repoRoot, "dist/src/server/decision-log.js"))};
import { pdpIdentity } from ${JSON.stringify(join(repoRoot, "dist/src/server/identity.js"))};
import { createMetrics } from ${JSON.stringify(join(repoRoot, "dist/src/server/metrics.js"))};
import { Runtime } from ${JSON.stringify(join(repoRoot, "dist/src/server/runtime.js"))};
const store = await openStore(${JSON.stringify(`file:${storeDir}`)});
const identity = await pdpIdentity(${JSON.stringify(keyFile)}, "big");
const log = await DecisionLog.open(store, identity.name, identity, createMetrics(new Runtime("big")));
console.log(JSON.stringify({ size: log.size, openedFrom: log.openedFrom }));
await log.close();
await store.close();
`;

test("a decision log larger than memory allows is verified, and opened by its decision point, a run at a time", {
  skip: process.platform !== "linux" && "skipped: reads peak memory from /proc (Linux)",
}, async () => {
  const log = await largeLog();
  const store = join(log.dir, "store");
  const verify = () => peak([cliPath, "decisions", "verify", "--json", "--store", `file:${store}`]);
  // a script file, not --eval: the log's worker thread would inherit --input-type
  const script = join(log.dir, "open.mjs");
  writeFileSync(script, openScript(store, log.keyFile));
  const open = () => {
    const r = peak([script]);
    // without a saved frontier (it writes none unless it wrote a batch), the next open reads
    // the whole log again
    rmSync(join(store, "docs", frontierDoc(log.name)), { force: true });
    return r;
  };
  // a peak varies with when the collector ran: the lower of two
  const lower = <T extends { peak: number }>(a: T, b: T) => (a.peak <= b.peak ? a : b);
  const runs = async () => {
    const { entries, bytes } = await log.grow();
    const verified = lower(verify(), verify());
    assert.equal(verified.code, 0, verified.stdout.slice(0, 2000) + verified.stderr);
    const [report] = JSON.parse(verified.stdout).logs;
    assert.deepEqual(
      [report.ok, report.entries, report.checkpoints, report.uncovered],
      [true, entries, entries / PER_BATCH, 0],
    );
    const opened = lower(open(), open());
    assert.equal(opened.code, 0, opened.stdout + opened.stderr);
    // no saved frontier: the whole log is read and checked again
    assert.deepEqual(JSON.parse(opened.stdout), { size: entries, openedFrom: "stored entries" });
    return { verify: verified.peak, open: opened.peak, bytes };
  };
  const half = await runs();
  const whole = await runs();
  // the log doubled; each run's peak memory did not grow with it (a run that held the log would
  // need at least the added bytes more; one that reads a run at a time keeps only what the
  // collector has not freed yet, however long the log)
  const added = whole.bytes - half.bytes;
  for (const what of ["verify", "open"] as const) {
    const grew = whole[what] - half[what];
    assert.ok(
      grew < added / 2,
      `${what}'s peak memory grew by ${(grew / 2 ** 20).toFixed(0)} MiB when the log grew by ${(added / 2 ** 20).toFixed(0)} MiB`,
    );
  }
});

test("verify tells its progress every few thousand decisions, of the log's total", async () => {
  const log = await largeLog();
  await log.grow(3);
  const store = await openStore(`file:${join(log.dir, "store")}`);
  const told: AuditProgress[] = [];
  const {
    logs: [report],
  } = await verifyDecisionLogs(store, { onProgress: (p) => told.push(p) });
  await store.close();
  assert.equal(report?.ok, true);
  assert.deepEqual(
    told.map((p) => [p.kind, p.log, p.read, p.total]),
    [0, 8_192, 16_384].map((read) => ["verify", log.name, read, 3 * PER_BATCH]),
  );
});
