// DESIGN promise 8 under attack: every hand edit of the ledger (an entry edited, deleted,
// reordered or appended, a checkpoint forged, a history rewritten) fails `stele verify` with exit 1
// and names what and where. The crash faults live in 08-provable-history-crash.test.ts.
import assert from "node:assert/strict";
import { cpSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, test } from "node:test";
import { canonicalJson } from "../../src/bundle/index.js";
import { tempDir } from "../../src/testing/index.js";
import { makeRepo, strengthen } from "../fixture.js";
import {
  entries,
  entryPath,
  forgedKey,
  ledgerSize,
  resignCheckpoints,
  storeKey,
  tampered,
  verify,
} from "./attack.js";

const states = tempDir("stele-08-");
let witnesses = 0;
// a witness nobody has written yet: verify then judges by the checkpoints in the store alone
const freshWitness = () => join(states, `witness-${++witnesses}`);

// one history for every test: staging v1, prod v1 (promoted), staging v2
const repo = makeRepo();
repo.build("v1.json");
repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");
repo.ok("release", "v1.json", "--env", "staging");
repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "prod");
repo.ok("approve", "v1.json", "--key", repo.key("bob"), "--env", "prod");
repo.ok("promote", "--from", "staging", "--to", "prod");
repo.edit("policies/db-guardrails.yaml", strengthen);
repo.commit("stronger");
repo.build("v2.json");
repo.ok("approve", "v2.json", "--key", repo.key("alice"), "--env", "staging");
repo.ok("release", "v2.json", "--env", "staging");
repo.ok(
  "approve",
  "v2.json",
  "--key",
  repo.key("carol"),
  "--env",
  "staging",
  "-o",
  "carol.approval.json",
);
const store = join(repo.dir, ".stele");
const pristine = join(states, "pristine");
cpSync(store, pristine, { recursive: true });
const SIZE = 7; // entries: 0 approval, 1 release, 2-3 approvals, 4 release, 5 approval, 6 release

beforeEach(() => {
  rmSync(store, { recursive: true, force: true });
  cpSync(pristine, store, { recursive: true });
});

// rewrites one entry keeping it canonical, so only the Merkle tree can tell
function editEntry(index: number, change: (entry: Record<string, unknown>) => void) {
  const entry = JSON.parse(readFileSync(entryPath(repo, index), "utf8"));
  change(entry);
  writeFileSync(entryPath(repo, index), canonicalJson(entry));
}

test("the untouched ledger verifies", () => {
  assert.equal(ledgerSize(repo), SIZE);
  const { code, report } = verify(repo, freshWitness());
  assert.equal(code, 0, JSON.stringify(report));
  assert.equal(report.ok, true);
  assert.equal(report.size, SIZE);
});

test("a release record edited by hand fails verify at its index", () => {
  editEntry(4, (e) => {
    e.releasedBy = "someone-else";
  });
  const problem = tampered(repo, freshWitness(), "ledger.tampered", 4);
  assert.match(problem.message, /do not match the checkpoint/);
});

test("a release record's justification added by hand fails verify at its index", () => {
  editEntry(1, (e) => {
    e.justification = "approved by the board";
  });
  tampered(repo, freshWitness(), "ledger.tampered", 1);
});

test("an entry re-serialised by hand fails verify at its index", () => {
  const path = entryPath(repo, 6);
  writeFileSync(path, JSON.stringify(JSON.parse(readFileSync(path, "utf8")), null, 2));
  const problem = tampered(repo, freshWitness(), "ledger.tampered", 6);
  assert.match(problem.message, /not in canonical form/);
});

test("the last entry deleted by hand fails verify at its index", () => {
  unlinkSync(entryPath(repo, SIZE - 1));
  const problem = tampered(repo, freshWitness(), "ledger.tampered", SIZE - 1);
  assert.match(problem.message, /commits to 7 entries but the ledger holds 6/);
});

test("an entry in the middle deleted by hand fails verify at its index", () => {
  unlinkSync(entryPath(repo, 3));
  tampered(repo, freshWitness(), "ledger.tampered", 3);
});

test("two entries swapped by hand fail verify at the first of them", () => {
  const [a, b] = [entryPath(repo, 2), entryPath(repo, 3)];
  renameSync(a, `${a}.tmp`);
  renameSync(b, a);
  renameSync(`${a}.tmp`, b);
  tampered(repo, freshWitness(), "ledger.tampered", 2);
});

test("a release record appended by hand fails verify at its index, and no later command signs it", () => {
  const staging2 = entries(repo)[6] as { bundle: string };
  const prod1 = entries(repo)[4] as Record<string, unknown>;
  // a well-formed record that promotes v2 to prod with no approvals at all
  writeFileSync(
    entryPath(repo, SIZE),
    canonicalJson({
      ...prod1,
      version: 2,
      bundle: staging2.bundle,
      previous: prod1.bundle,
      approvals: [],
      class: "strengthening",
    }),
  );
  const problem = tampered(repo, freshWitness(), "trust.quorum_not_met", SIZE);
  assert.match(problem.message, /needs 2 approvals from reviewers in the config in force, found 0/);
  // `stele log` shows it as vouched for by no checkpoint, and what prod runs stays v1
  const log = repo.run("log", "--json");
  assert.equal(log.code, 0, log.stderr);
  const shown = JSON.parse(log.stdout);
  assert.equal(shown.uncovered, 1);
  assert.equal(shown.current.prod.version, 1);
  assert.match(
    repo.run("log").stdout,
    /^7\* .*\n\* 1 ledger entry past the last signed checkpoint/m,
  );
  // a command that writes refuses to sign it into the history, and says where it is
  const later = repo.run("release", "v2.json", "--env", "staging", "--json");
  assert.equal(later.code, 1, later.stderr);
  const error = JSON.parse(later.stderr).error;
  assert.equal(error.code, "ledger.tampered");
  assert.match(error.message, /ledger entry 7 has no checkpoint and is not what a release writes/);
  assert.equal(ledgerSize(repo), SIZE + 1);
  tampered(repo, freshWitness(), "trust.quorum_not_met", SIZE);
});

test("an approval envelope replayed as a release record fails verify with ledger.tampered", () => {
  const envelope = JSON.parse(readFileSync(join(repo.dir, "carol.approval.json"), "utf8"));
  writeFileSync(entryPath(repo, SIZE), canonicalJson(envelope));
  const problem = tampered(repo, freshWitness(), "ledger.tampered", SIZE);
  assert.match(problem.message, /ledger entry 7 is malformed/);
});

test("an approval entry relabelled as a release record fails verify with ledger.tampered", () => {
  const envelope = JSON.parse(readFileSync(join(repo.dir, "carol.approval.json"), "utf8"));
  writeFileSync(entryPath(repo, SIZE), canonicalJson({ type: "stele.release/v1", envelope }));
  const problem = tampered(repo, freshWitness(), "ledger.tampered", SIZE);
  assert.match(problem.message, /unexpected fields/);
});

test("a checkpoint signed by another key fails verify", () => {
  resignCheckpoints(repo, forgedKey(repo));
  const problem = tampered(repo, freshWitness(), "ledger.bad_signature");
  assert.match(problem.message, /no signature by a known key/);
});

test("a stored checkpoint that forks from the entries fails verify", () => {
  // a correctly signed checkpoint (store key) for a different tree of size 3
  editEntry(2, (e) => {
    (e.envelope as { payload: string }).payload = Buffer.from("{}").toString("base64");
  });
  resignCheckpoints(repo, storeKey(repo));
  const forked = readFileSync(join(store, "ledger", "checkpoints", "00000000000000000003"));
  rmSync(store, { recursive: true });
  cpSync(pristine, store, { recursive: true });
  writeFileSync(join(store, "ledger", "checkpoints", "00000000000000000003"), forked);
  tampered(repo, freshWitness(), "ledger.tampered", 2);
});

test("a history rewritten with the store's own key verifies alone but forks from the witness", () => {
  const witness = freshWitness();
  assert.equal(verify(repo, witness).code, 0);
  editEntry(1, (e) => {
    e.releasedBy = "someone-else";
  });
  resignCheckpoints(repo, storeKey(repo));
  // consistent with itself: only a checkpoint seen before can tell
  assert.equal(verify(repo, freshWitness()).code, 0);
  const problem = tampered(repo, witness, "ledger.fork");
  assert.match(problem.message, /first 7 entries differ from the checkpoint seen before/);
});

// an entry edited, then the store's key replaced and every checkpoint signed again with it
function rewriteUnderNewKey(): void {
  editEntry(1, (e) => {
    e.releasedBy = "someone-else";
  });
  const key = forgedKey(repo);
  writeFileSync(
    join(store, "docs", "ledger", "key.pem"),
    key.privateKey.export({ format: "pem", type: "pkcs8" }),
  );
  resignCheckpoints(repo, key);
}

test("a history rewritten under a new store key forks from the witness", () => {
  const witness = freshWitness();
  assert.equal(verify(repo, witness).code, 0);
  rewriteUnderNewKey();
  assert.equal(verify(repo, freshWitness()).code, 0);
  tampered(repo, witness, "ledger.fork");
});

test("a history rewritten under a new store key is caught by the default witness too", () => {
  // the default witness lives outside the store (STELE_STATE_DIR in these tests)
  assert.equal(repo.run("verify").code, 0);
  rewriteUnderNewKey();
  const r = repo.run("verify", "--json");
  assert.equal(r.code, 1, r.stdout);
  assert.equal(JSON.parse(r.stdout).problem.code, "ledger.fork");
});
