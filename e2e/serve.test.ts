// the decision point as a black box: `stele serve` in a temp git repo, real HTTP on 127.0.0.1,
// real files in its embedded store (DESIGN promises 3, 6 and 8; "HTTP (the decision point)")
import assert from "node:assert/strict";
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Loader, Runtime, stateFile } from "../src/server/index.js";
import { openStore } from "../src/store/index.js";
import { addReviewer, git, repoRoot, tempDir, tempGitRepo } from "../src/testing/index.js";
import { makeRepo, strengthen } from "./fixture.js";
import { type Pdp, startPdp, steleAsync, until } from "./pdp.js";
import { stele } from "./run.js";

const repo = makeRepo();
const store = join(repo.dir, ".stele");
const copies = tempDir("stele-serve-");
const v1 = repo.build("v1.json");
repo.edit("policies/db-guardrails.yaml", strengthen);
repo.commit("the audit table is append-only");
const v2 = repo.build("v2.json");
repo.edit("policies/db-guardrails.yaml", (t) => t.replace("append-only", "append only"));
repo.commit("reworded");
const v3 = repo.build("v3.json");

const pdps: Pdp[] = [];
after(async () => {
  await Promise.all(pdps.map((p) => p.stop()));
});

async function serve(options: Parameters<typeof startPdp>[1] = {}, dir = repo.dir) {
  const pdp = await startPdp(dir, options);
  pdps.push(pdp);
  return pdp;
}

function release(bundle: string, where = "file:.stele") {
  repo.ok("approve", bundle, "--key", repo.key("alice"), "--env", "staging", "--store", where);
  return JSON.parse(repo.ok("release", bundle, "--env", "staging", "--store", where, "--json"));
}

// v1 allows a read of the audit table; from v2 on, `no-alter-in-prod` denies it
const audit = {
  env: "prod",
  principal: { id: "bob", roles: [] },
  statement: { kind: "SELECT", table: "audit", hasWhere: true, rowsEstimate: 1 },
};
const drop = {
  env: "prod",
  principal: { id: "bob", roles: [] },
  statement: { kind: "DROP", table: "orders", hasWhere: false, rowsEstimate: 0 },
};

const serving = (pdp: Pdp, version: number) =>
  until(`the decision point to serve v${version}`, async () => {
    const s = await pdp.status();
    return s.version === version && s;
  });

// copies of the parts of the store a decision point never writes: ledger, bundles, ledger key
function snapshot(name: string): string {
  const to = join(copies, name, ".stele");
  for (const part of ["ledger", "objects", join("docs", "ledger")])
    cpSync(join(store, part), join(to, part), { recursive: true });
  return to;
}

// swaps the live ledger for another folder's (each rename is atomic); returns the one swapped out
function swapLedger(from: string): string {
  const aside = join(copies, `ledger-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  const incoming = `${aside}-in`;
  cpSync(join(from, "ledger"), incoming, { recursive: true });
  renameSync(join(store, "ledger"), aside);
  renameSync(incoming, join(store, "ledger"));
  return aside;
}

function restoreLedger(aside: string): void {
  rmSync(join(store, "ledger"), { recursive: true });
  renameSync(aside, join(store, "ledger"));
}

function objectPath(digest: string): string {
  const hex = digest.slice("sha256:".length);
  return join(store, "objects", "sha256", hex.slice(0, 2), hex.slice(2));
}

// one sample of a Prometheus text exposition, by name and exact label set (undefined if absent)
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function metrics(pdp: Pdp): Promise<string> {
  return (await pdp.get("/metrics")).text;
}

test("before any release the decision point is not ready and denies; after one it decides", async () => {
  const pdp = await serve();
  const ready = await pdp.get("/readyz");
  assert.equal(ready.status, 503);
  assert.equal(ready.json.ready, false);
  const early = await pdp.post("/v1/decide", { input: audit });
  assert.equal(early.status, 503);
  assert.equal(early.json.decision, "deny");
  assert.deepEqual(
    early.json.errors.map((e: { code: string }) => e.code),
    ["server.not_ready"],
  );
  const review = await pdp.post("/v1/admission", admissionReview("u-0", {}));
  assert.equal(review.json.response.allowed, false);
  assert.equal((await pdp.status()).ready, false);

  release("v1.json");
  // one started for an env the released config does not have (a mistyped --env) says so
  const typo = await serve({ env: "stagign" });
  const why = await until("the typo to be named", async () => {
    const r = await typo.get("/readyz");
    return (
      /no environment `stagign` in the released config \(staging, prod\): check --env/.test(
        r.json.reason,
      ) && r
    );
  });
  assert.equal(why.status, 503);
  await typo.stop();
  await until("/readyz to say ready", async () => (await pdp.get("/readyz")).status === 200);
  const denied = await pdp.post("/v1/decide", { input: drop });
  assert.equal(denied.status, 200);
  assert.equal(denied.json.decision, "deny");
  assert.deepEqual(denied.json.policies[0].matched, ["no-drop-in-prod"]);
  assert.equal(denied.json.policies[0].policy, "db-guardrails");
  assert.match(denied.json.id, /^[0-9a-f-]{36}$/);
  assert.equal(denied.json.env, "staging");
  assert.equal(denied.json.version, 1);
  assert.equal(denied.json.bundle, v1);
  const allowed = await pdp.post("/v1/decide", { policies: ["db-guardrails"], input: audit });
  assert.equal(allowed.json.decision, "allow");
  assert.deepEqual(allowed.json.policies[0].matched, []);
  const status = await pdp.status();
  assert.equal(status.state, "ok");
  assert.equal(status.env, "staging");
  assert.equal(status.bundle, v1);
  // DESIGN: the status says its drift, in `stele drift`'s words
  assert.equal(status.drift.status, "in-sync");
  assert.match(status.drift.detail, /runs v1/);
  await pdp.stop();
  snapshot("v1");
});

test("a new release is picked up while serving, and no request fails or mixes versions", async () => {
  const pdp = await serve();
  await serving(pdp, 1);
  const failures: string[] = [];
  const seen: { version: number; bundle: string; decision: string; matched: string[] }[] = [];
  let swappedAt: number | undefined;
  const deadline = Date.now() + 30_000;
  const worker = async () => {
    let last = 0;
    while (Date.now() < deadline && (swappedAt === undefined || Date.now() < swappedAt + 1_500)) {
      try {
        const r = await pdp.post("/v1/decide", { input: audit });
        if (r.status !== 200) failures.push(`HTTP ${r.status}: ${r.text}`);
        const d = r.json;
        seen.push({
          version: d.version,
          bundle: d.bundle,
          decision: d.decision,
          matched: d.policies[0]?.matched,
        });
        if (d.version < last) failures.push(`went back from v${last} to v${d.version}`);
        last = d.version;
        if (d.version === 2) swappedAt ??= Date.now();
      } catch (e) {
        failures.push(String(e));
      }
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, worker));
  await until("some traffic on v1", () => seen.length >= 50);
  const approved = await steleAsync(repo.dir, [
    ...["approve", "v2.json", "--key", repo.key("alice"), "--env", "staging"],
  ]);
  assert.equal(approved.code, 0, approved.stderr);
  const released = await steleAsync(repo.dir, ["release", "v2.json", "--env", "staging"]);
  assert.equal(released.code, 0, released.stderr);
  await load;

  assert.deepEqual(failures, []);
  assert.ok(swappedAt !== undefined, "the new release was never served");
  const ledger = JSON.parse(repo.ok("log", "--json")).releases as {
    version: number;
    bundle: string;
  }[];
  assert.deepEqual(
    ledger.map((r) => [r.version, r.bundle]),
    [
      [1, v1],
      [2, v2],
    ],
  );
  // every answer is one release's, whole: its version, its digest, and that version's verdict
  const shapes = new Set(seen.map((s) => JSON.stringify(s)));
  assert.deepEqual([...shapes].sort(), [
    JSON.stringify({ version: 1, bundle: v1, decision: "allow", matched: [] }),
    JSON.stringify({ version: 2, bundle: v2, decision: "deny", matched: ["no-alter-in-prod"] }),
  ]);
  await pdp.stop();
});

test("a store rolled back under a running decision point is refused; the last verified release keeps serving", async () => {
  const pdp = await serve();
  await serving(pdp, 2);
  const live = swapLedger(join(copies, "v1", ".stele"));
  try {
    const status = await until("the rollback to be refused", async () => {
      const s = await pdp.status();
      return s.state === "refusing" && s;
    });
    assert.equal(
      status.reason,
      "ledger.rollback: checkpoint tree size `2` is older than `4` already seen",
    );
    assert.equal(status.drift.status, "stale");
    assert.match(status.drift.detail, /runs v2; it refused .*ledger\.rollback/);
    assert.equal(status.version, 2);
    assert.equal(status.bundle, v2);
    const d = await pdp.post("/v1/decide", { input: audit });
    assert.equal(d.json.version, 2);
    assert.equal(d.json.decision, "deny");
    assert.ok((sample(await metrics(pdp), failures("ledger.rollback")) ?? 0) >= 1);
    assert.equal((await pdp.get("/readyz")).status, 200);
  } finally {
    restoreLedger(live);
  }
  const recovered = await until("the decision point to recover", async () => {
    const s = await pdp.status();
    return s.state === "ok" && s;
  });
  assert.deepEqual([recovered.reason, recovered.version], [null, 2]);
  await pdp.stop();
});

test("a ledger emptied under a running decision point is refused as a rollback, not read as fresh", async () => {
  const pdp = await serve();
  await serving(pdp, 2);
  const empty = join(copies, "empty", ".stele");
  mkdirSync(join(empty, "ledger"), { recursive: true });
  const live = swapLedger(empty);
  try {
    const status = await until("the empty ledger to be refused", async () => {
      const s = await pdp.status();
      return s.state === "refusing" && s;
    });
    assert.equal(
      status.reason,
      "ledger.rollback: the store has no signed checkpoint, but this decision point already trusted one",
    );
    assert.deepEqual([status.version, status.bundle], [2, v2]);
    assert.equal((await pdp.post("/v1/decide", { input: audit })).json.version, 2);
  } finally {
    restoreLedger(live);
  }
  await until("the decision point to recover", async () => (await pdp.status()).state === "ok");
  await pdp.stop();
});

test("a decision point whose state remembers a higher version refuses to start on an older one", async () => {
  const state = join(copies, "remembers-v5.json");
  writeFileSync(state, JSON.stringify({ highestVersion: 5 }));
  const pdp = await serve({ state });
  const status = await until("the release to be refused", async () => {
    const s = await pdp.status();
    return s.state === "refusing" && s;
  });
  assert.equal(
    status.reason,
    "ledger.rollback: the ledger's latest `staging` release is v2, but this decision point already ran v5",
  );
  assert.equal(status.version, null);
  const ready = await pdp.get("/readyz");
  assert.equal(ready.status, 503);
  assert.match(ready.json.reason, /already ran v5/);
  const d = await pdp.post("/v1/decide", { input: audit });
  assert.equal(d.json.decision, "deny");
  assert.equal(d.json.errors[0].code, "server.not_ready");
  assert.ok((sample(await metrics(pdp), failures("ledger.rollback")) ?? 0) >= 1);
  await pdp.stop();
});

test("a clock earlier than the time the decision point last trusted is reported, and never judged by", async () => {
  const state = join(copies, "trusted-tomorrow.json");
  const tomorrow = Date.now() + 86_400_000;
  writeFileSync(state, JSON.stringify({ trustedTime: tomorrow }));
  const pdp = await serve({ state });
  const status = await until("the release to load", async () => {
    const s = await pdp.status();
    return s.ready && s;
  });
  assert.ok(status.clock.behindSeconds > 86_000, JSON.stringify(status.clock));
  assert.equal(status.clock.trustedTime, new Date(tomorrow).toISOString());
  assert.ok(
    pdp.logs().some((l) => l.level === "warn" && /the clock is \d+ s earlier/.test(String(l.msg))),
    "a warning is logged",
  );
  // decisions are stamped, and exceptions expire, by the trusted time: the clock cannot go back
  const d = await pdp.post("/v1/decide", { input: audit });
  assert.ok(Date.parse(d.json.time) >= tomorrow, d.json.time);
  assert.ok((sample(await metrics(pdp), "stele_clock_behind_seconds") ?? 0) > 86_000);
  await pdp.stop();
  // remembered across restarts
  assert.ok(JSON.parse(readFileSync(state, "utf8")).trustedTime >= tomorrow);
});

test("a clock behind the releases' times is reported, yet decisions keep its own time: a release's time is never judged by", async () => {
  const day = 86_400_000;
  const state = stateFile(join(copies, "behind-the-releases.json"));
  const shared = await openStore(`file:${store}`);
  try {
    // a decision point whose clock reads a day earlier than the machines that released
    const runtime = new Runtime("staging");
    const yesterday = Date.now() - day;
    const loaded = await new Loader(shared, runtime, state, { clock: () => yesterday }).refresh();
    assert.equal(loaded.outcome, "loaded", loaded.message);
    assert.ok(runtime.clockBehindMs > day - 600_000, String(runtime.clockBehindMs));
    // what it judges by is its own reading, not a release's time from another clock
    assert.equal(runtime.trustedTime, yesterday);
    assert.equal((await state.read()).trustedTime, yesterday);
    // its own readings are remembered: turned back further still, it keeps the latest of them
    const again = new Runtime("staging");
    await new Loader(shared, again, state, { clock: () => yesterday - day }).refresh();
    assert.equal(again.trustedTime, yesterday);
    assert.ok(again.clockBehindMs >= 2 * day - 600_000);
  } finally {
    await shared.close();
  }
});

test("a forked ledger under a running decision point is refused; the last verified release keeps serving", async () => {
  // another history from the same store and key: v1, then v3 where the live ledger has v2
  const fork = join(copies, "fork", ".stele");
  cpSync(join(copies, "v1", ".stele"), fork, { recursive: true });
  release("v3.json", `file:${fork}`);
  const pdp = await serve();
  await serving(pdp, 2);
  cpSync(join(fork, "objects"), join(store, "objects"), { recursive: true, force: false });
  const live = swapLedger(fork);
  try {
    const status = await until("the fork to be refused", async () => {
      const s = await pdp.status();
      return s.reason !== null && s;
    });
    assert.equal(status.state, "tampered");
    assert.equal(status.reason, "ledger.fork: two different root hashes for tree size `4`");
    assert.equal(status.drift.status, "tampered");
    assert.equal(status.version, 2);
    assert.equal(status.bundle, v2);
    const d = await pdp.post("/v1/decide", { input: audit });
    assert.equal(d.json.version, 2);
    assert.equal(d.json.bundle, v2);
    assert.ok((sample(await metrics(pdp), failures("ledger.fork")) ?? 0) >= 1);
  } finally {
    restoreLedger(live);
  }
  await pdp.stop();
});

test("a new release whose bundle was tampered in the store is refused; the last verified one keeps serving", async () => {
  const pdp = await serve();
  await serving(pdp, 2);
  // freeze the decision point so that it cannot poll between the release and the tampering
  pdp.child.kill("SIGSTOP");
  let bytes: Buffer;
  try {
    release("v3.json");
    bytes = readFileSync(objectPath(v3));
    writeFileSync(objectPath(v3), bytes.toString("utf8").replace("append only", "append-only"));
  } finally {
    pdp.child.kill("SIGCONT");
  }
  const status = await until("the tampered release to be refused", async () => {
    const s = await pdp.status();
    return s.reason !== null && s;
  });
  assert.equal(status.state, "tampered");
  assert.match(status.reason, /^store\.corrupt: stored object sha256:[0-9a-f]{64} does not match/);
  assert.equal(status.version, 2);
  const d = await pdp.post("/v1/decide", { input: audit });
  assert.deepEqual([d.json.version, d.json.bundle, d.json.decision], [2, v2, "deny"]);
  assert.ok((sample(await metrics(pdp), failures("store.corrupt")) ?? 0) >= 1);

  // once the store holds the released bytes again, the release verifies and is served
  writeFileSync(objectPath(v3), bytes);
  const recovered = await serving(pdp, 3);
  assert.deepEqual([recovered.state, recovered.reason, recovered.bundle], ["ok", null, v3]);
  await pdp.stop();
});

test("a running bundle tampered in the store is reported while decisions keep coming from the verified one", async () => {
  const pdp = await serve();
  await serving(pdp, 3);
  assert.equal((await pdp.status()).state, "ok");
  const bytes = readFileSync(objectPath(v3));
  writeFileSync(objectPath(v3), Buffer.concat([bytes, Buffer.from(" ")]));
  try {
    const status = await until("the tampering to be seen", async () => {
      const s = await pdp.status();
      return s.state === "tampered" && s;
    });
    assert.match(
      status.reason,
      /^store\.corrupt: stored object sha256:[0-9a-f]{64} does not match/,
    );
    assert.deepEqual([status.version, status.bundle], [3, v3]);
    const text = await metrics(pdp);
    assert.ok((sample(text, failures("store.corrupt")) ?? 0) >= 1);
    assert.equal(sample(text, "stele_health", '{state="tampered"}'), 1);
    const d = await pdp.post("/v1/decide", { input: drop });
    assert.deepEqual([d.json.version, d.json.bundle, d.json.decision], [3, v3, "deny"]);
    assert.deepEqual(d.json.policies[0].matched, ["no-drop-in-prod"]);
  } finally {
    writeFileSync(objectPath(v3), bytes);
  }
  await pdp.stop();
});

test("a stored bundle that cannot be read is no tampering, but not waited on for ever: past the freshness limit the decision point is stale", async () => {
  const pdp = await serve({ args: ["--max-staleness", "3s"] });
  await serving(pdp, 3);
  // the folder holding the bundle made a file: reads fail (ENOTDIR), as a disk or a database
  // that does not answer in time would; nothing says the bytes changed
  const folder = dirname(objectPath(v3));
  renameSync(folder, `${folder}.aside`);
  writeFileSync(folder, "");
  try {
    await until("a re-verification that could not read the store", async () =>
      pdp.logs().some((l) => l.outcome === "unavailable" && l.code === "store.unavailable"),
    );
    const status = await pdp.status();
    assert.deepEqual([status.state, status.version], ["ok", 3]);
    // it stays unreadable (a folder where the bundle was, a table dropped, a grant revoked):
    // what runs is no longer vouched for, and it is taken out of service
    const stale = await until("the decision point to go stale", async () => {
      const s = await pdp.status();
      return s.state === "stale" && s;
    });
    assert.match(
      stale.reason,
      /^not re-verified for \d+ s, the store unreadable: store\.unavailable/,
    );
    assert.equal((await pdp.get("/readyz")).status, 503);
    assert.equal(stale.drift.status, "stale");
  } finally {
    rmSync(folder);
    renameSync(`${folder}.aside`, folder);
  }
  const verified = (await pdp.status()).lastVerified;
  await until("a re-verification after the store is back", async () => {
    const s = await pdp.status();
    return s.lastVerified !== verified && s.state === "ok";
  });
  await pdp.stop();
});

test("each kind of bad input gets a 4xx with a code and a message, never an allow", async () => {
  const pdp = await serve();
  await serving(pdp, 3);
  const refused = async (body: unknown, status: number, code: string, type?: string) => {
    const r = await pdp.post("/v1/decide", body, type);
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.error.code, code, r.text);
    assert.equal(typeof r.json.error.message, "string");
    assert.equal(r.json.decision, undefined);
    return r.json.error;
  };
  await refused('{"input": {', 400, "server.bad_request");
  await refused(
    JSON.stringify({ input: audit }),
    415,
    "server.unsupported_media_type",
    "text/plain",
  );
  await refused({ input: { pad: "x".repeat(1024 * 1024) } }, 413, "server.body_too_large");
  // and the client's next requests are answered, not failed on a half-read connection
  for (let i = 0; i < 3; i++)
    assert.equal((await pdp.post("/v1/decide", { input: drop })).json.decision, "deny");
  const unknown = await refused(
    { policies: ["no-such-policy"], input: audit },
    400,
    "engine.unknown_policy",
  );
  assert.match(unknown.message, /no-such-policy/);
  const now = await refused(
    { input: audit, now: "2030-01-01T00:00:00Z" },
    400,
    "server.bad_request",
  );
  assert.match(now.message, /`now`/);
  await refused({ input: audit, extra: 1 }, 400, "server.bad_request");
  await refused([1, 2], 400, "server.bad_request");

  // nesting past the project's depth limit is bad input too: a 400 naming the limit, never a
  // decision (nothing is logged)
  let deep: unknown = audit;
  for (let i = 0; i < 100; i++) deep = { nested: deep };
  const tooDeep = await refused({ input: deep }, 400, "engine.input_too_deep");
  assert.match(tooDeep.message, /deeper than \d+ levels/);
  assert.match(tooDeep.hint, /maxInputDepth/);
  // and nesting far deeper, within the body limit, is never an allow and never a crash
  const n = 200_000;
  await refused(`{"input":${"[".repeat(n)}${"]".repeat(n)}}`, 400, "engine.input_too_deep");
  // in a batch, the request past the limit is answered for itself
  const mixed = await pdp.post("/v1/decide/batch", {
    requests: [{ input: deep }, { input: drop }],
  });
  assert.equal(mixed.status, 200, mixed.text);
  assert.equal(mixed.json.results[0].error.code, "engine.input_too_deep");
  assert.equal(mixed.json.results[1].decision, "deny");
  assert.equal(sample(await metrics(pdp), "stele_decision_log_dropped_total"), 0);
  assert.equal((await pdp.get("/healthz")).status, 200);

  const batch = await pdp.post("/v1/decide/batch", {
    requests: [{ input: drop }, { input: audit, now: "2030-01-01T00:00:00Z" }],
  });
  assert.equal(batch.status, 200);
  assert.equal(batch.json.results[0].decision, "deny");
  assert.equal(batch.json.results[1].error.code, "server.bad_request");
  const route = await pdp.get("/v1/policies");
  assert.equal(route.status, 404);
  assert.equal(route.json.error.code, "server.no_route");
  const method = await pdp.get("/v1/decide");
  assert.equal(method.status, 405);
  assert.equal(method.json.error.code, "server.method_not_allowed");
  await pdp.stop();
});

test("GET /metrics is Prometheus text with decisions by outcome, latency, bundle and failures", async () => {
  const pdp = await serve();
  await serving(pdp, 3);
  for (let i = 0; i < 3; i++) await pdp.post("/v1/decide", { input: drop });
  await pdp.post("/v1/decide", {
    input: { ...audit, statement: { ...audit.statement, table: "t" } },
  });
  const r = await pdp.get("/metrics");
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  const text = r.text;
  assert.equal(
    sample(text, "stele_decisions_total", '{decision="deny",policy="*",effect="deny"}'),
    3,
  );
  assert.equal(
    sample(text, "stele_decisions_total", '{decision="allow",policy="*",effect="allow"}'),
    1,
  );
  assert.equal(
    sample(text, "stele_decisions_total", '{decision="deny",policy="db-guardrails",effect="deny"}'),
    3,
  );
  assert.match(text, /^# TYPE stele_decision_duration_seconds histogram$/m);
  assert.equal(sample(text, "stele_decision_duration_seconds_count", '{route="decide"}'), 4);
  assert.equal(
    sample(text, "stele_decision_duration_seconds_bucket", '{le="+Inf",route="decide"}'),
    4,
  );
  assert.equal(sample(text, "stele_bundle_info", `{env="staging",version="3",digest="${v3}"}`), 1);
  assert.match(text, /^# TYPE stele_verification_failures_total counter$/m);
  assert.equal(sample(text, "stele_ready"), 1);
  assert.equal(sample(text, "stele_health", '{state="ok"}'), 1);
  await pdp.stop();
});

test("logged decisions verify, replay to the same decision, and an edited one is caught", async () => {
  const pdp = await serve();
  await serving(pdp, 3);
  const ids: string[] = [];
  const answers: unknown[] = [];
  for (const input of [drop, audit, drop]) {
    const { json } = await pdp.post("/v1/decide", { input });
    ids.push(json.id);
    answers.push(json);
  }
  const name = (await pdp.status()).pdp as string;
  assert.equal(await pdp.stop(), 0);

  const verified = repo.run("decisions", "verify", "--json");
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  const report = JSON.parse(verified.stdout);
  assert.equal(report.ok, true);
  const mine = report.logs.find((l: { log: string }) => l.log === name);
  assert.equal(mine.entries, 3);
  assert.equal(mine.uncovered, 0);

  const replay = repo.run("decisions", "replay", ids[1] ?? "", "--json");
  assert.equal(replay.code, 0, replay.stdout + replay.stderr);
  const replayed = JSON.parse(replay.stdout).replay;
  assert.equal(replayed.same, true);
  assert.equal(replayed.logged.bundle, v3);
  assert.equal(replayed.replayed.decision, "deny");
  assert.equal(replayed.logged.decision.decision, "deny");
  // read back, a logged decision is the whole response the decision point sent, though its
  // line holds the id, time, env, version and bundle once
  assert.deepEqual(replayed.logged.decision, answers[1]);

  const batches = join(store, "logs", name, "batches");
  const [batch] = readdirSync(batches);
  const file = join(batches, batch ?? "");
  const original = readFileSync(file, "utf8");
  // the decisions may have gone out in more than one batch
  const all = readdirSync(batches)
    .map((b) => readFileSync(join(batches, b), "utf8"))
    .join("\n");
  for (const id of ids) assert.equal(all.split(id).length, 2, `${id} once in the log`);
  writeFileSync(file, original.replace('"decision":"deny"', '"decision":"allow"'));
  try {
    const r = repo.run("decisions", "verify", "--json");
    assert.equal(r.code, 1, r.stdout);
    const bad = JSON.parse(r.stdout).logs.find((l: { log: string }) => l.log === name);
    assert.equal(bad.ok, false);
    assert.equal(bad.problem.code, "ledger.tampered");
    assert.match(repo.run("decisions", "verify").stdout, /TAMPERED: /);
  } finally {
    writeFileSync(file, original);
  }
  assert.equal(repo.run("decisions", "verify").code, 0);
});

test("--decision-log-interval sets how often the decision log writes a batch; a bad one is a usage error", async () => {
  const bad = repo.run("serve", "--env", "staging", "--decision-log-interval", "5ms");
  assert.equal(bad.code, 2, bad.stdout + bad.stderr);
  assert.match(bad.stderr, /--decision-log-interval must be from 10ms to 1m, found `5ms`/);
  // a minute between batches: a decision waits in the queue until the decision point stops
  const pdp = await serve({ args: ["--decision-log-interval", "1m"] });
  await serving(pdp, 3);
  const { json } = await pdp.post("/v1/decide", { input: drop });
  await sleep(600);
  const log = (await pdp.status()).decisionLog;
  assert.deepEqual([log.size, log.pending], [0, 1]);
  assert.equal(await pdp.stop(), 0);
  const replay = repo.run("decisions", "replay", json.id, "--json");
  assert.equal(replay.code, 0, replay.stdout + replay.stderr);
});

test("a decision point that cannot listen (its port taken) exits 1 and says why, and writes no heartbeat", async () => {
  const pdp = await serve();
  const port = new URL(pdp.url).port;
  const beats = () => readdirSync(join(repo.dir, ".stele", "docs", "heartbeats")).sort();
  const before = beats();
  const taken = await steleAsync(repo.dir, ["serve", "--env", "staging", "--port", port]);
  assert.equal(taken.code, 1, taken.stderr);
  assert.match(
    taken.stderr,
    /^stele serve: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)\n {2}hint: another process has that port/m,
  );
  const json = await steleAsync(repo.dir, ["serve", "--env", "staging", "--port", port, "--json"]);
  // after its JSON log lines, the error
  const error = json.stderr.slice(json.stderr.indexOf('{\n  "error"'));
  assert.equal(JSON.parse(error).error.code, "server.cannot_listen", json.stderr);
  // neither said a word in the store: no heartbeat of a decision point that never answered
  assert.deepEqual(beats(), before);
});

test("an AdmissionReview of a pod is answered with its uid, the verdict, the failed rule and warnings", async () => {
  const dir = tempGitRepo();
  cpSync(join(repoRoot, "examples", "kubernetes"), dir, { recursive: true });
  const run = (...args: string[]) => {
    const r = stele(dir, args);
    assert.equal(r.code, 0, `stele ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  run("keygen", "--name", "alice", "--out", "keys");
  addReviewer(dir, "alice");
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "kubernetes policies");
  const digest = run("build", "-o", "k8s.json").trim().split("\n").at(-1);
  run("approve", "k8s.json", "--key", "keys/alice.key", "--env", "staging");
  run("release", "k8s.json", "--env", "staging");
  const pdp = await serve({}, dir);
  await serving(pdp, 1);

  const privileged = await pdp.post(
    "/v1/admission?policy=pod-security",
    admissionReview("7f3a9c2e-1b4d-4e8f-9a6b-0c1d2e3f4a5b", {
      metadata: { name: "debug", namespace: "shop" },
      spec: {
        securityContext: { runAsNonRoot: true },
        containers: [
          {
            name: "shell",
            image: "registry.acme.internal/tools/shell:1.0.0",
            securityContext: { privileged: true },
            resources: { limits: { cpu: "100m", memory: "64Mi" } },
          },
        ],
      },
    }),
  );
  assert.equal(privileged.status, 200);
  const denied = privileged.json;
  assert.equal(denied.apiVersion, "admission.k8s.io/v1");
  assert.equal(denied.kind, "AdmissionReview");
  assert.equal(denied.response.uid, "7f3a9c2e-1b4d-4e8f-9a6b-0c1d2e3f4a5b");
  assert.equal(denied.response.allowed, false);
  assert.equal(denied.response.status.code, 403);
  assert.match(
    denied.response.status.message,
    /^denied by stele \(staging v1\): pod-security\/no-privileged-containers: privileged containers are not allowed$/,
  );
  assert.deepEqual(denied.response.warnings, [
    "pod-security/recommended-name-label: pods should carry the app.kubernetes.io/name label",
  ]);
  assert.equal(denied.response.auditAnnotations["stele.dev/bundle"], digest);

  const fine = await pdp.post(
    "/v1/admission?policy=pod-security",
    admissionReview("0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", {
      metadata: { name: "web", namespace: "shop", labels: { "app.kubernetes.io/name": "web" } },
      spec: {
        securityContext: { runAsNonRoot: true },
        containers: [
          {
            name: "web",
            image: "registry.acme.internal/shop/web:2.4.1",
            resources: { limits: { cpu: "500m", memory: "256Mi" } },
          },
        ],
      },
    }),
  );
  assert.equal(fine.json.response.uid, "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6");
  assert.equal(fine.json.response.allowed, true);
  assert.equal(fine.json.response.status, undefined);
  assert.equal(fine.json.response.warnings, undefined);

  const bad = await pdp.post("/v1/admission", { kind: "AdmissionReview", request: {} });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, "server.bad_admission_review");
  await pdp.stop();
});

function failures(reason: string): string {
  return `stele_verification_failures_total{reason="${reason}"}`;
}

function admissionReview(uid: string, pod: Record<string, unknown>) {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      namespace: "shop",
      operation: "CREATE",
      userInfo: { username: "dev@acme.example", groups: ["developers"] },
      object: { apiVersion: "v1", kind: "Pod", ...pod },
      oldObject: null,
      dryRun: false,
    },
  };
}
