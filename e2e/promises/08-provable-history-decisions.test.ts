// DESIGN promise 8 under attack, for decisions: every decision a decision point makes goes to a
// tamper-evident log in the store, a batch a Merkle leaf, every batch ended by a checkpoint the
// decision point signs. A decision edited, a checkpoint removed, fails `stele decisions verify`
// (exit 1); a decision added behind the decision point's back is never signed as its own, and one
// edited while it was down is never signed over; decisions removed from the end are found by the
// decision point that signed them: live (verify --pdp) and at its next start. Replay proves a
// decision by its own log's key; which decision points are yours the store does not record, and
// the auditor names them (--trust-pdp): a log of any other then fails.
import assert from "node:assert/strict";
import { appendFileSync, cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { pdpIdentity } from "../../src/server/identity.js";
import { signedLog } from "../../src/server/testing.js";
import { openStore } from "../../src/store/index.js";
import { tempDir } from "../../src/testing/index.js";
import { coversSize, decideThenStop, decideUntilSigned } from "../decision-logs.js";
import { makeRepo } from "../fixture.js";
import { type Pdp, startPdp, until } from "../pdp.js";

const repo = makeRepo();
repo.build("v1.json");
repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
repo.ok("release", "v1.json", "--env", "staging");
const store = join(repo.dir, ".stele");

const pdps: Pdp[] = [];
after(async () => {
  await Promise.all(pdps.map((p) => p.stop()));
});

// a decision point that decides `n` requests in two batches, then stops
const decide = (n: number, state?: string) =>
  decideThenStop(repo.dir, n, state === undefined ? {} : { state });

// biome-ignore lint/suspicious/noExplicitAny: assertions read the whole --json report
function verify(name: string): { code: number | null; log: any; human: string } {
  const r = repo.run("decisions", "verify", "--json");
  const log = JSON.parse(r.stdout).logs.find((l: { log: string }) => l.log === name);
  return { code: r.code, log, human: repo.run("decisions", "verify").stdout };
}

// `stele decisions replay ID`: its exit code, its --json replay, and its human report
// biome-ignore lint/suspicious/noExplicitAny: assertions read the whole --json report
type ReplayReport = { code: number | null; human: string } & Record<string, any>;
function replay(id: string, ...options: string[]): ReplayReport {
  const r = repo.run("decisions", "replay", id, ...options, "--json");
  assert.ok(r.code === 0 || r.code === 1, r.stdout + r.stderr);
  return {
    ...JSON.parse(r.stdout).replay,
    code: r.code,
    human: repo.run("decisions", "replay", id, ...options).stdout,
  };
}

// the logged decision asked with `label` edited by hand to say `to`, whichever batch holds it
function editLabel(label: string, to: string): void {
  const file = readdirSync(join(logDir, "batches"))
    .map((b) => join(logDir, "batches", b))
    .find((f) => readFileSync(f, "utf8").includes(`"label":"${label}"`));
  assert.ok(file, `a batch holds ${label}`);
  writeFileSync(file, readFileSync(file, "utf8").replace(`"label":"${label}"`, `"label":"${to}"`));
}

// the log's last batch and its checkpoint removed by hand
function cutLastBatch(): void {
  for (const folder of ["batches", "checkpoints"]) {
    const [last] = readdirSync(join(logDir, folder)).sort().reverse();
    rmSync(join(logDir, folder, last ?? ""));
  }
}

// the id of the logged decision asked with `label`
function idOf(label: string): string {
  for (const b of readdirSync(join(logDir, "batches")))
    for (const line of readFileSync(join(logDir, "batches", b), "utf8").split("\n"))
      if (line.includes(`"label":"${label}"`)) return JSON.parse(line).id;
  throw new Error(`no logged decision asked with ${label}`);
}

const first = await decide(6);
const logDir = join(store, "logs", first.name);
const pristine = join(tempDir("stele-08d-"), "store");
cpSync(store, pristine, { recursive: true });
// what the decision point keeps of its log outside the store (the last checkpoint it saved)
const witness = `${first.state}.decision-log`;
const pristineWitness = readFileSync(witness);
const restore = () => {
  rmSync(store, { recursive: true, force: true });
  cpSync(pristine, store, { recursive: true });
  writeFileSync(witness, pristineWitness);
};

test("the decision log as the decision point left it verifies, batch by batch", () => {
  const { code, log } = verify(first.name);
  assert.equal(code, 0);
  assert.deepEqual([log.ok, log.entries, log.uncovered, log.unvouched], [true, 6, 0, 0]);
  assert.ok(log.checkpoints >= 2, `${log.checkpoints} checkpoints`);
});

test("a logged decision edited by hand fails `stele decisions verify`", () => {
  try {
    // the batch holding q1, whichever order the folder lists its files in
    editLabel("q1", "qX");
    const { code, log } = verify(first.name);
    assert.equal(code, 1);
    assert.equal(log.problem.code, "ledger.tampered");
  } finally {
    restore();
  }
});

test("replay vouches only for what the log proves: a decision beside an edited one replays the same, and is not proven", () => {
  const q1 = idOf("q1");
  const pristineReplay = replay(q1);
  assert.deepEqual(
    [pristineReplay.code, pristineReplay.same, pristineReplay.proven],
    [0, true, true],
  );
  assert.match(pristineReplay.human, /proven: a checkpoint signed by/);
  try {
    // q0 edited, q1 untouched: q1 still replays the same, but the checkpoint that vouched for
    // it commits to q0 too (in q1's batch, or in one before it), and no longer matches
    editLabel("q0", "qX");
    const r = replay(q1);
    assert.equal(r.code, 1);
    assert.deepEqual([r.same, r.proven, r.problem.code], [true, false, "ledger.tampered"]);
    assert.match(r.human, /same decision\nNOT PROVEN: the first \d+ decisions do not match/);
  } finally {
    restore();
  }
});

// a decision log started in the store by someone with a key of their own, as a decision point of
// `env`: one batch holding `line`, and its checkpoint signed by that key; its name
async function forgeLog(env: string, line: string): Promise<string> {
  const forger = await pdpIdentity(join(tempDir("stele-forger-"), "pdp.key"), env);
  const forged = await openStore(`file:${store}`);
  await (await signedLog(forged, forger)).append([line]);
  await forged.close();
  return forger.name;
}

test("a decision in a log of another env's decision point is not proven; in a log of its own env it is proven by that log's key, unless the auditor trusts only other decision points", async () => {
  // a fresh id, so that no copy gives it away: only the env the log was started for does
  const line = readdirSync(join(logDir, "batches"))
    .flatMap((b) => readFileSync(join(logDir, "batches", b), "utf8").split("\n"))
    .find((l) => l.includes(idOf("q2")));
  assert.ok(line);
  const fresh = (id: string) => JSON.stringify({ ...JSON.parse(line), id });
  try {
    const elsewhere = await forgeLog("a", fresh("forged-in-a"));
    const r = replay("forged-in-a");
    assert.equal(r.code, 1, r.human);
    assert.deepEqual([r.log, r.proven, r.problem.code], [elsewhere, false, "ledger.tampered"]);
    assert.match(
      r.human,
      /NOT PROVEN: it says env `staging`, and its log .* is not a decision point's of that env/,
    );
    // which decision points are yours the store does not record: a log
    // started for the right env with a key of one's own is proven by that key's word...
    const stranger = await forgeLog("staging", fresh("forged-in-staging"));
    assert.equal(replay("forged-in-staging").proven, true);
    assert.equal(repo.run("decisions", "verify").code, 0);
    // ...unless the auditor names the decision points they trust
    const trusted = ["--trust-pdp", first.name];
    const untrusted = replay("forged-in-staging", ...trusted);
    assert.equal(untrusted.code, 1, untrusted.human);
    assert.deepEqual(
      [untrusted.same, untrusted.proven, untrusted.problem.code],
      [true, false, "server.untrusted_pdp"],
    );
    assert.match(
      untrusted.human,
      new RegExp(`NOT PROVEN: \`${stranger}\` is not a decision point you trust`),
    );
    const own = replay(idOf("q2"), ...trusted);
    assert.deepEqual([own.code, own.proven], [0, true], own.human);
    const audit = repo.run("decisions", "verify", ...trusted);
    assert.equal(audit.code, 1, audit.stdout);
    assert.match(audit.stdout, new RegExp(`UNTRUSTED: ${stranger}: .*\\[server.untrusted_pdp\\]`));
    assert.match(audit.stdout, new RegExp(`ok: ${first.name}: 6 decisions`));
    // a name that is no decision point's is refused before anything is read
    const typo = repo.run("decisions", "verify", "--trust-pdp", "pdp-staging");
    assert.equal(typo.code, 2, typo.stderr);
    assert.match(typo.stderr, /not a decision point's name/);
  } finally {
    restore();
  }
});

test("a copy of a decision in a log of another key, signed by that key, makes neither copy proven", async () => {
  const q1 = idOf("q1");
  const line = readdirSync(join(logDir, "batches"))
    .flatMap((b) => readFileSync(join(logDir, "batches", b), "utf8").split("\n"))
    .find((l) => l.includes(q1));
  assert.ok(line);
  // anyone who can write to the store can start a log of their own, for this env or another
  for (const env of ["staging", "a"]) {
    try {
      await forgeLog(env, line.replace('"label":"q1"', '"label":"FORGED"'));
      // each log verifies on its own (each is its own key's)
      assert.equal(repo.run("decisions", "verify").code, 0);
      const r = replay(q1);
      assert.equal(r.code, 1, r.human);
      assert.deepEqual([r.proven, r.problem.code], [false, "ledger.tampered"]);
      assert.match(r.human, /NOT PROVEN: the id is logged 2 times/);
      // the real log made unreadable (a stray batch past its end): the copy is still not proven
      writeFileSync(join(logDir, "batches", "99999".padStart(20, "0")), "{}");
      const hidden = replay(q1);
      assert.equal(hidden.code, 1, hidden.human);
      assert.deepEqual([hidden.proven, hidden.problem.code], [false, "store.corrupt"]);
      assert.match(hidden.human, /NOT PROVEN: not every log could be read/);
    } finally {
      restore();
    }
  }
  assert.equal(replay(q1).proven, true);
});

test("decisions removed from the log's end with their checkpoint: verify holds the store to the heartbeat, and --pdp to the running decision point", async () => {
  const pdp = await startPdp(repo.dir, { state: first.state });
  pdps.push(pdp);
  try {
    // its last checkpoint, as its status and then its heartbeat say, covers them all
    await decideUntilSigned(pdp, ["t1", "t2"], 8);
    const beatFile = join(store, "docs", "heartbeats", `${first.name}.json`);
    await until("a heartbeat that names that checkpoint", async () => {
      const payload = JSON.parse(readFileSync(beatFile, "utf8")).payload;
      const beat = JSON.parse(Buffer.from(payload, "base64").toString("utf8"));
      return coversSize(beat.decisionLog?.checkpoint, 8);
    });
    const held = repo.run("decisions", "verify", "--pdp", pdp.url, "--json");
    assert.equal(held.code, 0, held.stdout + held.stderr);
    assert.deepEqual(
      JSON.parse(held.stdout).pdps.map((p: { ok: boolean; log: string; size: number }) => [
        p.ok,
        p.log,
        p.size,
      ]),
      [[true, first.name, 8]],
    );
    // the last batch and its checkpoint removed: the rest of the log is whole, but the
    // decision point's heartbeat names the checkpoint that is gone
    cutLastBatch();
    const byBeat = verify(first.name);
    assert.equal(byBeat.code, 1);
    assert.match(
      byBeat.log.problem.message,
      /its decision point's heartbeat says it signed 8 decisions; the store holds [0-7] and no checkpoint for them/,
    );
    // another decision point's heartbeat made junk does not hide it
    const junk = join(store, "docs", "heartbeats", "pdp-staging-0000000000000000.json");
    writeFileSync(junk, "junk");
    const despiteJunk = verify(first.name);
    assert.equal(despiteJunk.code, 1);
    assert.match(despiteJunk.log.problem.message, /heartbeat says it signed 8 decisions/);
    // (and the junk is reported on its own: a heartbeat that does not verify is a trace too)
    const junkReport = JSON.parse(repo.run("decisions", "verify", "--json").stdout).logs.find(
      (l: { log: string }) => l.log === "pdp-staging-0000000000000000",
    );
    assert.equal(junkReport?.ok, false);
    rmSync(junk);
    // the heartbeat rolled back too (an older one, validly signed), with the decision point
    // stopped: the frontier it saved beside the log still names the later checkpoint
    await pdp.stop();
    cpSync(join(pristine, "docs", "heartbeats", `${first.name}.json`), beatFile);
    const byFrontier = verify(first.name);
    assert.equal(byFrontier.code, 1);
    assert.match(
      byFrontier.log.problem.message,
      /the frontier it saved says it signed 8 decisions/,
    );
    // and that rolled back too: the store alone cannot tell (the decision point refuses to start
    // on it)
    const frontier = join("docs", "decision-logs", `${first.name}.frontier`);
    cpSync(join(pristine, frontier), join(store, frontier));
    assert.equal(verify(first.name).code, 0);
    // or removed: verify says nothing vouches for the log's end
    rmSync(beatFile);
    const unheard = verify(first.name);
    assert.deepEqual([unheard.code, unheard.log.heartbeat], [0, false]);
    assert.match(unheard.human, /no heartbeat of its decision point names its end/);
  } finally {
    await pdp.stop();
    restore();
  }
});

test("a log removed whole is held to whatever trace of it is left: its last heartbeat (written as it stopped), its saved frontier, its key, the auditor's list", () => {
  const docs = join(store, "docs");
  const beat = join(docs, "heartbeats", `${first.name}.json`);
  const vkey = join(docs, "decision-logs", `${first.name}.vkey`);
  const frontier = join(docs, "decision-logs", `${first.name}.frontier`);
  const removed = (...files: string[]) => {
    restore();
    rmSync(logDir, { recursive: true });
    for (const file of files) rmSync(file);
    return verify(first.name);
  };
  try {
    // the heartbeat it wrote as it stopped names no URL: it no longer answers there
    const payload = JSON.parse(readFileSync(beat, "utf8")).payload;
    assert.equal(JSON.parse(Buffer.from(payload, "base64").toString("utf8")).url, null);
    // its heartbeat: the decision point stopped after its last batch, and its last heartbeat
    // names that batch's checkpoint (all 6), not the one before
    const byBeat = removed(frontier);
    assert.equal(byBeat.code, 1, byBeat.human);
    assert.match(
      byBeat.log.problem.message,
      /heartbeat says it signed 6 decisions; the store holds 0 and no checkpoint for them/,
    );
    // its saved frontier
    const byFrontier = removed(beat);
    assert.equal(byFrontier.code, 1, byFrontier.human);
    assert.match(
      byFrontier.log.problem.message,
      /the frontier it saved says it signed \d+ decisions; the store holds 0/,
    );
    // its key gone too, either alone names the log, and a log without its key fails
    for (const left of [beat, frontier]) {
      const keyless = removed(vkey, left === beat ? frontier : beat);
      assert.equal(keyless.code, 1, keyless.human);
      assert.match(keyless.log.problem.message, /has no verifier key/);
    }
    // its key alone: nothing says it signed anything (a decision point that has not decided
    // yet looks the same), and the report shows an empty log
    const byKey = removed(beat, frontier);
    assert.equal(byKey.code, 0, byKey.human);
    assert.deepEqual([byKey.log.entries, byKey.log.heartbeat], [0, false]);
    assert.match(byKey.human, new RegExp(`ok: ${first.name}: 0 decisions, 0 checkpoints`));
    // a frontier that is not one its decision point wrote is caught
    restore();
    writeFileSync(frontier, '{"checkpoint": 6}');
    const junk = verify(first.name);
    assert.equal(junk.code, 1, junk.human);
    assert.match(junk.log.problem.message, /the frontier saved beside .* is not one its decision/);
    // nothing at all: only the auditor's list of the decision points they trust tells
    removed(beat, frontier, vkey);
    assert.equal(repo.run("decisions", "verify").code, 0);
    const trusted = repo.run("decisions", "verify", "--trust-pdp", first.name, "--json");
    assert.equal(trusted.code, 1, trusted.stdout);
    const [log] = JSON.parse(trusted.stdout).logs;
    assert.deepEqual([log.log, log.ok, log.problem.code], [first.name, false, "ledger.tampered"]);
    assert.match(log.problem.message, /no trace of this trusted decision point's log/);
  } finally {
    restore();
  }
});

test("the decision point that signed them tells, as long as it runs: verify --pdp", async () => {
  const pdp = await startPdp(repo.dir, { state: first.state });
  pdps.push(pdp);
  try {
    await decideUntilSigned(pdp, ["t1"], 7);
    // the last batch and its checkpoint gone (its heartbeats, written every poll, would say so
    // too; the decision point is asked directly here)
    cutLastBatch();
    const r = repo.run("decisions", "verify", "--pdp", pdp.url);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stdout,
      /TAMPERED: http:\/\/127\.0\.0\.1:\d+ \(pdp-[^)]+\): the decision point has signed 7 decisions; the store holds [0-6] and no checkpoint for them: decisions were removed from the log's end \[ledger\.tampered\]/,
    );
    // a decision point that cannot be asked is said so
    const gone = repo.run("decisions", "verify", "--pdp", "http://127.0.0.1:1", "--json");
    assert.equal(gone.code, 1);
    assert.equal(JSON.parse(gone.stdout).pdps[0].problem.code, "server.unreachable");
  } finally {
    await pdp.stop();
    restore();
  }
});

test("decisions removed from the log's end while the decision point was down: it will not sign on top of what is left", async () => {
  try {
    // the last batch and its checkpoint removed, and the saved frontier and the heartbeat with
    // them: what is left is a whole, shorter log that verifies
    cutLastBatch();
    rmSync(join(store, "docs", "decision-logs", `${first.name}.frontier`));
    rmSync(join(store, "docs", "heartbeats", `${first.name}.json`));
    assert.equal(verify(first.name).code, 0);
    const left = readdirSync(join(logDir, "checkpoints"));
    // the decision point kept its last checkpoint outside the store: it refuses to start
    await assert.rejects(startPdp(repo.dir, { state: first.state }), (e: Error) => {
      assert.match(e.message, /exited 1 before listening/);
      assert.match(
        e.message,
        /lost decisions this decision point wrote: it signed 6, the store holds [0-5]/,
      );
      return true;
    });
    // and nothing was signed on top of it
    assert.deepEqual(readdirSync(join(logDir, "checkpoints")), left);
  } finally {
    restore();
  }
  // the store put back as it was, it starts again
  try {
    const again = await decide(1, first.state);
    assert.equal(again.name, first.name);
  } finally {
    restore();
  }
});

test("what the command line is given reaches a terminal as text: an escape sequence is shown, not obeyed", () => {
  const r = repo.run("decisions", "replay", "\x1b[2K\x1b[1Aok");
  assert.equal(r.code, 1, r.stderr);
  assert.ok(!r.stderr.includes("\x1b"), JSON.stringify(r.stderr));
  assert.match(r.stderr, /no logged decision has id `\\u001b\[2K\\u001b\[1Aok`/);
});

test("a checkpoint removed by hand moves a batch's bounds, and fails `stele decisions verify`", () => {
  try {
    const [checkpoint] = readdirSync(join(logDir, "checkpoints")).sort();
    rmSync(join(logDir, "checkpoints", checkpoint ?? ""));
    const { code, log } = verify(first.name);
    assert.equal(code, 1);
    assert.equal(log.problem.code, "ledger.tampered");
  } finally {
    restore();
  }
});

test("a decision added while the decision point was down is never signed as its own", async () => {
  try {
    // a line in the log's own form, appended after its last batch
    const [last] = readdirSync(join(logDir, "batches")).sort().reverse();
    const file = join(logDir, "batches", last ?? "");
    const line = readFileSync(file, "utf8").split("\n").at(-1) ?? "";
    const id = JSON.parse(line).id as string;
    const added = line
      .replace('"decision":"', '"decision":"allow","was":"')
      .replace(id, "00000000-0000-4000-8000-000000000001");
    appendFileSync(file, `\n${added}`);
    // before the decision point starts again, no checkpoint covers it: replay says so
    const early = replay("00000000-0000-4000-8000-000000000001");
    assert.equal(early.code, 1);
    assert.deepEqual([early.proven, early.problem.code], [false, "ledger.bad_checkpoint"]);
    assert.match(early.human, /NOT PROVEN: no checkpoint covers it yet/);
    await decide(2, first.state);
    const { code, log, human } = verify(first.name);
    assert.equal(code, 0);
    assert.deepEqual([log.entries, log.unvouched, log.uncovered], [9, 1, 0]);
    assert.match(human, /1 not vouched for/);
    // after: a checkpoint covers it, and says it does not vouch for it
    const late = replay("00000000-0000-4000-8000-000000000001");
    assert.equal(late.code, 1);
    assert.equal(late.proven, false);
    assert.match(late.human, /NOT PROVEN: its checkpoint does not vouch for it/);
    // the decision point's own decisions, before and after it, are proven
    const [lastBatch] = readdirSync(join(logDir, "batches")).sort().reverse();
    const lastLine = readFileSync(join(logDir, "batches", lastBatch ?? ""), "utf8")
      .split("\n")
      .at(-1);
    for (const proven of [id, JSON.parse(lastLine ?? "{}").id]) {
      const r = replay(proven);
      assert.deepEqual([r.code, r.proven], [0, true], r.human);
    }
  } finally {
    restore();
  }
});

test("a decision edited while the decision point was down is never signed over: it starts, and verify still fails", async () => {
  try {
    // the decision point stopped cleanly: it continues from its saved frontier without reading
    // the log again, so the edit is not its to find; its new checkpoints extend the tree it
    // signed before, and verify finds the edit under them
    editLabel("q1", "qX");
    await decide(2, first.state);
    const { code, log } = verify(first.name);
    assert.equal(code, 1);
    assert.equal(log.problem.code, "ledger.tampered");
    // it did go on: its two new decisions are in the log
    assert.equal(log.entries, 8);
  } finally {
    restore();
  }
});
