// `stele serve` as a child process on 127.0.0.1:0, and the plain HTTP the decision point tests use
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { cliPath, tempDir } from "../src/testing/index.js";
import type { Run } from "./run.js";

// every decision point still running is killed when the test process exits, whatever happened
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

const stateDir = tempDir("stele-pdp-");
let count = 0;

/** A fresh `--state` path for a new decision point. */
export function freshState(): string {
  return join(stateDir, `pdp-${++count}.json`);
}

/** How to start a decision point. */
export interface PdpOptions {
  readonly env?: string;
  /** `--state` file (default: a fresh one, so a new PDP identity). */
  readonly state?: string;
  readonly poll?: string;
  readonly verify?: string;
  readonly store?: string;
  /** More `stele serve` flags. */
  readonly args?: readonly string[];
  /** Exactly these arguments after `stele` (`--state` must still be one of them), nothing else. */
  readonly argv?: readonly string[];
}

/** An HTTP answer, its body parsed as JSON when it is JSON. */
export interface Answer {
  readonly status: number;
  readonly type: string;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary response JSON
  readonly json: any;
}

/** A running `stele serve`. */
export interface Pdp {
  readonly url: string;
  readonly state: string;
  readonly child: ChildProcess;
  /** Every JSON log line written so far. */
  logs(): Record<string, unknown>[];
  get(path: string): Promise<Answer>;
  post(path: string, body: unknown, type?: string): Promise<Answer>;
  // biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary status JSON
  status(): Promise<any>;
  /** SIGTERM, then SIGKILL if it has not exited within 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `stele serve` in `dir` and resolves once it logs that it listens (at most 20 s). */
export async function startPdp(dir: string, options: PdpOptions = {}): Promise<Pdp> {
  const state = options.state ?? freshState();
  const args = options.argv
    ? [cliPath, ...options.argv]
    : [
        cliPath,
        "serve",
        "--env",
        options.env ?? "staging",
        "--port",
        "0",
        "--store",
        options.store ?? "file:.stele",
        "--state",
        state,
        "--poll-interval",
        options.poll ?? "200ms",
        "--verify-interval",
        options.verify ?? "200ms",
        ...(options.args ?? []),
      ];
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", STELE_STATE_DIR: stateDir },
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  let stderr = "";
  const lines: Record<string, unknown>[] = [];
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    const start = stderr.lastIndexOf("\n") + 1;
    stderr += chunk;
    for (const line of stderr.slice(start).split("\n").slice(0, -1)) {
      try {
        lines.push(JSON.parse(line));
      } catch {
        // not a log line (e.g. the human "serving …" line)
      }
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail("did not log `listening` within 20 s"), 20_000);
    const poll = setInterval(() => {
      const listening = lines.find((l) => l.msg === "listening");
      if (typeof listening?.url === "string") {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(listening.url);
      }
    }, 20);
    void exited.then((code) => fail(`exited ${code} before listening`));
    function fail(why: string) {
      clearTimeout(timer);
      clearInterval(poll);
      child.kill("SIGKILL");
      reject(new Error(`stele serve ${why}\n${stderr}`));
    }
  });
  const request = async (path: string, init?: RequestInit): Promise<Answer> => {
    const res = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const type = res.headers.get("content-type") ?? "";
    return { status: res.status, type, text, json: type.includes("json") ? JSON.parse(text) : {} };
  };
  return {
    url,
    state,
    child,
    logs: () => lines,
    get: (path) => request(path),
    post: (path, body, type = "application/json") =>
      request(path, {
        method: "POST",
        headers: { "content-type": type },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    status: async () => (await request("/v1/status")).json,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGCONT"); // in case a test left it stopped
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls `check` every 50 ms until it returns a value other than undefined or false. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs the built CLI without blocking the event loop (so load can run beside it). */
export function steleAsync(cwd: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      {
        cwd,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1", STELE_STATE_DIR: stateDir },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === "number" ? error.code : null) : 0,
          stdout,
          stderr,
        }),
    );
  });
}
