// DESIGN promise 7 under attack: what runs is what was released. `stele drift` compares the
// ledger with every enforcement point (live `/v1/status` and signed heartbeats) and the working
// tree with the released source, and exits 4 on any difference: a stale, silent, tampered or
// impostor decision point, or an edited policy file.
import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { tempDir } from "../../src/testing/index.js";
import { makeRepo, strengthen } from "../fixture.js";
import { type Pdp, startPdp, steleAsync, until } from "../pdp.js";

const repo = makeRepo();
const v1 = repo.build("v1.json");
repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
repo.ok("release", "v1.json", "--env", "staging");

const pdps: Pdp[] = [];
const servers: Server[] = [];
after(async () => {
  await Promise.all(pdps.map((p) => p.stop()));
  for (const s of servers) s.close();
});

async function serve(options: Parameters<typeof startPdp>[1] = {}) {
  const pdp = await startPdp(repo.dir, options);
  pdps.push(pdp);
  return pdp;
}

const serving = (pdp: Pdp, version: number) =>
  until(`the decision point to serve v${version}`, async () => {
    const s = await pdp.status();
    return s.version === version && s;
  });

interface PdpDrift {
  pdp: string;
  url: string | null;
  status: string;
  version: number | null;
  bundle: string | null;
  detail: string;
}

// without blocking this process: the fake decision points below answer from it
// biome-ignore lint/suspicious/noExplicitAny: assertions read the whole --json report
async function drift(...args: string[]): Promise<{ code: number | null; report: any }> {
  const r = await steleAsync(repo.dir, ["drift", "--json", ...args]);
  assert.ok(r.code === 0 || r.code === 4, `stele drift exited ${r.code}\n${r.stdout}${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) };
}

function entry(report: { envs: { pdps: PdpDrift[] }[] }, url: string): PdpDrift {
  const found = report.envs.flatMap((e) => e.pdps).find((p) => p.url === url);
  assert.ok(found, `no entry for ${url} in ${JSON.stringify(report)}`);
  return found;
}

// a plain HTTP server on 127.0.0.1 answering `/v1/status` with what the test says
async function fakePdp(status: unknown): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(status));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let a: Pdp;

test("a live decision point, its heartbeat and the working tree that match the ledger: exit 0", async () => {
  a = await serve();
  const status = await serving(a, 1);
  const { code, report } = await drift("--pdp", a.url);
  assert.equal(code, 0);
  assert.deepEqual(report, {
    drift: false,
    envs: [
      {
        env: "staging",
        version: 1,
        bundle: v1,
        pdps: [
          {
            pdp: status.pdp,
            url: a.url,
            status: "in-sync",
            version: 1,
            bundle: v1,
            detail: "runs v1",
          },
        ],
      },
    ],
    // run in the repository, the working tree is compared too (DESIGN: `stele drift` compares
    // "the working tree with the released source")
    source: { env: "staging", bundle: v1, files: [] },
  });
  // by signed heartbeat alone, and with the source tree
  assert.equal((await drift()).code, 0);
  const withSource = await drift(".", "--pdp", a.url);
  assert.equal(withSource.code, 0);
  assert.deepEqual(withSource.report.source, { env: "staging", bundle: v1, files: [] });
  const human = repo.run("drift", ".", "--pdp", a.url);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /^staging: ledger v1 sha256:[0-9a-f]{64}$/m);
  assert.match(human.stdout, /^ {2}in-sync {4}pdp-staging-[0-9a-f]{16} \(http:.*\): runs v1$/m);
  assert.match(human.stdout, /no drift\n?$/);
});

test("an environment nothing knows is refused, not reported as free of drift", async () => {
  const r = repo.run("drift", "--env", "prdo", "--json");
  assert.equal(r.code, 1, r.stdout);
  const error = JSON.parse(r.stderr).error;
  assert.equal(error.code, "release.unknown_env");
  assert.match(error.message, /no environment `prdo`/);
  assert.match(error.hint, /known environments: .*staging/);
  // an environment the released config declares, with nothing released to it yet, is fine
  assert.equal(repo.run("drift", "--env", "prod").code, 0);
});

test("a decision point nobody answers at is silent drift: exit 4", async () => {
  const closed = await fakePdp({});
  const server = servers.pop();
  await new Promise((resolve) => server?.close(resolve));
  const { code, report } = await drift("--pdp", a.url, "--pdp", closed);
  assert.equal(code, 4);
  assert.equal(report.drift, true);
  const silent = entry(report, closed);
  assert.equal(silent.status, "silent");
  assert.match(silent.detail, /^no answer/);
  assert.equal(entry(report, a.url).status, "in-sync");
  assert.match(repo.run("drift", "--pdp", closed).stdout, /silent .*\n[\s\S]*drift found\n?$/);
  // even where the ledger has nothing yet, a decision point that does not answer is reported
  const prod = await drift("--env", "prod", "--pdp", closed);
  assert.equal(prod.code, 4);
  assert.deepEqual(
    prod.report.envs.map((e: { env: string; pdps: PdpDrift[] }) => [e.env, e.pdps[0]?.status]),
    [["prod", "silent"]],
  );
});

test("a decision point running a digest never released to its environment is drift: exit 4", async () => {
  const rogue = await fakePdp({
    env: "staging",
    pdp: "pdp-staging-rogue",
    state: "ok",
    version: 1,
    bundle: `sha256:${"0".repeat(64)}`,
  });
  const { code, report } = await drift("--pdp", a.url, "--pdp", rogue);
  assert.equal(code, 4);
  const impostor = entry(report, rogue);
  assert.equal(impostor.status, "unreleased");
  assert.equal(impostor.detail, `runs sha256:${"0".repeat(64)} v1, never released to \`staging\``);
  assert.equal(entry(report, a.url).status, "in-sync");
});

test("a working tree edited since the release is source drift: exit 4", async () => {
  const policy = join(repo.dir, "policies", "db-guardrails.yaml");
  const original = readFileSync(policy, "utf8");
  writeFileSync(policy, original.replace("in ['DROP', 'TRUNCATE']", "in ['DROP']"));
  writeFileSync(join(repo.dir, "policies", "extra.yaml"), original.replace(/db-guardrails/g, "x"));
  try {
    const { code, report } = await drift(".", "--pdp", a.url);
    assert.equal(code, 4);
    assert.deepEqual(report.source, {
      env: "staging",
      bundle: v1,
      files: [
        { path: "policies/db-guardrails.yaml", change: "modified" },
        { path: "policies/extra.yaml", change: "added" },
      ],
    });
    assert.equal(entry(report, a.url).status, "in-sync");
    assert.match(repo.run("drift", ".").stdout, /^ {2}modified {2}policies\/db-guardrails\.yaml$/m);
    // DESIGN: `stele drift` compares the working tree with no directory named, in the repository
    const bare = repo.run("drift", "--pdp", a.url);
    assert.equal(bare.code, 4, bare.stdout);
    assert.match(bare.stdout, /^ {2}added {5}policies\/extra\.yaml$/m);
    // and several decision points after one --pdp are each asked
    const both = await drift("--pdp", a.url, "http://127.0.0.1:9");
    assert.equal(entry(both.report, a.url).status, "in-sync");
    assert.equal(entry(both.report, "http://127.0.0.1:9").status, "silent");
  } finally {
    writeFileSync(policy, original);
    rmSync(join(repo.dir, "policies", "extra.yaml"));
  }
});

test("a decision point that has not picked up the latest release is stale drift: exit 4", async () => {
  repo.ok("drift", "--pdp", a.url);
  // a decision point that looks for new releases once an hour
  const b = await serve({ poll: "1h" });
  await serving(b, 1);
  assert.equal((await drift("--pdp", a.url, "--pdp", b.url)).code, 0);
  repo.edit("policies/db-guardrails.yaml", strengthen);
  repo.commit("the audit table is append-only");
  const v2 = repo.build("v2.json");
  repo.ok("approve", "v2.json", "--key", repo.key("alice"), "--env", "staging");
  repo.ok("release", "v2.json", "--env", "staging");
  await serving(a, 2);

  const { code, report } = await drift("--pdp", a.url, "--pdp", b.url);
  assert.equal(code, 4);
  assert.deepEqual([report.envs[0].version, report.envs[0].bundle], [2, v2]);
  const stale = entry(report, b.url);
  assert.deepEqual([stale.status, stale.version, stale.bundle], ["stale", 1, v1]);
  assert.equal(stale.detail, "runs v1, the ledger has v2");
  assert.equal(entry(report, a.url).status, "in-sync");
  // its heartbeat says the same without asking it
  assert.equal((await drift()).code, 4);

  // restarted with the same state (the same identity), it catches up, and drift clears
  assert.equal(await b.stop(), 0);
  const again = await serve({ poll: "1h", state: b.state });
  await serving(again, 2);
  assert.equal((await drift("--pdp", a.url, "--pdp", again.url)).code, 0);
  assert.equal((await drift()).code, 0);
});

test("a decision point stopped on purpose is listed as stopped, no drift; one killed without a word is silent", async () => {
  const c = await serve();
  const { pdp, version } = await serving(c, (await a.status()).version);
  assert.equal((await drift()).code, 0);
  // its last heartbeat, written as it stops, says so: a Deployment's pods come and go, and
  // each that left must not be drift for ever after
  assert.equal(await c.stop(), 0);
  const { code, report } = await drift();
  assert.equal(code, 0, JSON.stringify(report));
  const gone = report.envs[0].pdps.find((p: PdpDrift) => p.pdp === pdp);
  assert.deepEqual([gone.status, gone.url, gone.version], ["stopped", null, version]);
  assert.match(gone.detail, new RegExp(`^stopped \\d+s ago, running v${version}$`));
  assert.match(repo.run("drift").stdout, new RegExp(`^ {2}stopped {4}${pdp}: stopped`, "m"));
  // started again and failing to (its port taken), it is no longer a stop on purpose
  const taken = createServer();
  servers.push(taken);
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const port = String((taken.address() as AddressInfo).port);
  const failed = await steleAsync(repo.dir, [
    "serve",
    "--env",
    "staging",
    "--port",
    port,
    "--state",
    c.state,
  ]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /server\.cannot_listen|cannot listen/);
  const stuck = await drift();
  assert.equal(stuck.code, 4);
  const down = stuck.report.envs[0].pdps.find((p: PdpDrift) => p.pdp === pdp);
  assert.deepEqual([down.status, down.detail], ["stale", "serves no release"]);
  // started again with the same identity, it is itself again
  const back = await serve({ state: c.state });
  await serving(back, version);
  const again = (await drift()).report.envs[0].pdps.find((p: PdpDrift) => p.pdp === pdp);
  assert.equal(again.status, "in-sync");
  // killed, it writes nothing more: asked, it is silent
  back.child.kill("SIGKILL");
  await new Promise((resolve) => back.child.once("exit", resolve));
  const killed = await drift("--pdp", back.url);
  assert.equal(killed.code, 4);
  const answers = killed.report.envs.flatMap((e: { pdps: PdpDrift[] }) => e.pdps);
  assert.ok(
    answers.some((p: PdpDrift) => p.url === back.url && p.status === "silent"),
    JSON.stringify(answers),
  );
});

test("asked about one environment, a decision point given by URL that serves another is drift", async () => {
  // `a` serves staging; whoever runs this believes it is a prod decision point
  const { code, report } = await drift("--env", "prod", "--pdp", a.url);
  assert.equal(code, 4);
  assert.deepEqual(
    report.envs.map((e: { env: string }) => e.env),
    ["prod"],
  );
  const wrong = entry(report, a.url);
  assert.equal(wrong.status, "unreleased");
  assert.equal(wrong.detail, "serves `staging`, not `prod`");
  // asked about its own, it is in sync
  assert.equal((await drift("--env", "staging", "--pdp", a.url)).code, 0);
});

test("a ledger that cannot be read is an error, never an empty ledger with nothing to drift from", () => {
  const copy = join(tempDir("stele-drift-"), "store");
  cpSync(join(repo.dir, ".stele"), copy, { recursive: true });
  rmSync(join(copy, "ledger"), { recursive: true });
  writeFileSync(join(copy, "ledger"), "not a folder");
  const r = repo.run("drift", "--store", `file:${copy}`, "--json");
  assert.equal(r.code, 1, r.stdout);
  const error = JSON.parse(r.stderr).error;
  assert.equal(error.code, "store.unavailable");
  assert.match(error.message, /cannot read `.*ledger/);
});

test("a decision point that reports tampering with what it runs is drift: exit 4", async () => {
  const digest = (await a.status()).bundle as string;
  const hex = digest.slice("sha256:".length);
  const object = join(repo.dir, ".stele", "objects", "sha256", hex.slice(0, 2), hex.slice(2));
  const bytes = readFileSync(object);
  writeFileSync(object, Buffer.concat([bytes, Buffer.from("\n")]));
  try {
    await until(
      "the tampering to be reported",
      async () => (await a.status()).state === "tampered",
    );
    const { code, report } = await drift("--pdp", a.url);
    assert.equal(code, 4);
    const tampered = entry(report, a.url);
    assert.deepEqual([tampered.status, tampered.bundle], ["tampered", digest]);
    assert.equal(tampered.detail, "the decision point reports tampering");
    // the released sources cannot be read back either: reported, not a failed command
    assert.equal(report.source.problem.code, "store.corrupt");
    // and by its signed heartbeat alone
    const beats = await until("a heartbeat that says so", async () => {
      const r = await drift();
      const mine = r.report.envs[0].pdps.find((p: PdpDrift) => p.url === a.url);
      return mine?.status === "tampered" && r;
    });
    assert.equal(beats.code, 4);
  } finally {
    writeFileSync(object, bytes);
  }
});
