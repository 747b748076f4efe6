// npm start: Stele's main job on the embedded default store. It copies the `api` example into a
// fresh git repository, checks and tests it, makes demo reviewer keys, builds the bundle,
// approves and releases it to staging, then serves it and prints a curl line to try.
// `--once` asks one decision and stops (the README test uses it).
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addReviewer, cliPath, repoRoot } from "../src/testing/index.js";

const once = process.argv.includes("--once");
const port = process.env.PORT ?? (once ? "0" : "8181");
const work = mkdtempSync(join(tmpdir(), "stele-demo-"));
const env = { ...process.env, STELE_STATE_DIR: join(work, ".state") };

function stele(args: readonly string[]): string {
  console.log(`\n$ stele ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd: work, encoding: "utf8", env });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) {
    console.error(`stele ${args[0]} exited ${r.status}`);
    process.exit(r.status ?? 1);
  }
  return r.stdout;
}

const git = (...args: string[]) => execFileSync("git", args, { cwd: work, stdio: "pipe" });

cpSync(join(repoRoot, "examples", "api"), work, { recursive: true });
git("init", "-q", "-b", "main");
git("config", "user.email", "demo@example.com");
git("config", "user.name", "Stele demo");
git("config", "commit.gpgsign", "false");
writeFileSync(join(work, ".gitignore"), "keys/*.key\n.stele/\n.state/\nbuild/\n");

stele(["check"]);
stele(["test"]);
stele(["keygen", "--name", "alice", "--out", "keys"]);
addReviewer(work, "alice");
git("add", "-A");
git("commit", "-qm", "api policies with a demo reviewer");
stele(["build", "-o", "build/api.bundle.json"]);
stele(["approve", "build/api.bundle.json", "--key", "keys/alice.key", "--env", "staging"]);
stele(["release", "build/api.bundle.json", "--env", "staging"]);
stele(["verify"]);

console.log(`\n$ stele serve --env staging --port ${port}`);
const server: ChildProcess = spawn(
  process.execPath,
  [cliPath, "serve", "--env", "staging", "--port", port],
  {
    cwd: work,
    env,
    stdio: ["ignore", "inherit", "pipe"],
  },
);
const request = {
  input: {
    env: "staging",
    action: "read",
    principal: { id: "ana", roles: ["reader"], department: "finance", clearance: 2, mfa: true },
    resource: { type: "report", id: "r-1", owner: "ben", department: "finance", classification: 1 },
  },
};
let buffered = "";
server.stderr?.on("data", async (chunk: Buffer) => {
  process.stderr.write(chunk);
  buffered += chunk.toString("utf8");
  const m = /"msg":"listening","url":"([^"]+)"/.exec(buffered);
  if (!m) return;
  buffered = "";
  const url = m[1] as string;
  console.log(
    `\nthe decision point runs; try it:\n\ncurl -s ${url}/v1/decide -H 'content-type: application/json' -d '${JSON.stringify(request)}'\n`,
  );
  console.log(`status: ${url}/v1/status   metrics: ${url}/metrics   the policy repo: ${work}`);
  if (once) {
    const res = await fetch(`${url}/v1/decide`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    console.log(JSON.stringify(await res.json(), null, 2));
    server.kill("SIGTERM");
  } else console.log("stop with Ctrl-C");
});
server.on("exit", (code) => process.exit(code ?? 0));
// stopped by Ctrl-C or by a signal from elsewhere: the decision point stops with it
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.on(signal, () => server.kill("SIGTERM"));
