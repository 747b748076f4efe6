// DESIGN promise 4 under attack: a release needs a quorum of distinct reviewers, listed in the
// config the environment runs now, signing the exact bundle digest for that environment. Every
// forged, misdirected, doubled or altered approval counts for nothing, and the refusal says how
// many were needed and whose counted.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeRepo } from "../fixture.js";
import { refused, signPayload, statement, writeJson } from "./attack.js";

// staging needs two reviewers; alice has two keys (one person)
const repo = makeRepo({ staging: { quorum: 2 } });
repo.ok("keygen", "--name", "alice2", "--out", "keys");
const alice2 = readFileSync(join(repo.dir, "keys", "alice2.pub"), "utf8").split(" ");
repo.edit("stele.yaml", (t) =>
  t.replace(
    /( {4}- name: alice\n) {6}key: (.*)\n/,
    `$1      keys:\n        - $2\n        - ${alice2[0]} ${alice2[1]}\n`,
  ),
);
repo.commit("alice has a second key");
const v1 = repo.build("v1.json");
repo.edit("policies/db-guardrails.yaml", (t) => t.replace("are blocked", "are never allowed"));
repo.commit("another bundle");
repo.build("other.json");

let files = 0;
// an approval written to a file (`-o`), so the store's ledger is left as it was
function approval(bundle: string, key: string, env: string, ...extra: string[]): string {
  const out = `approval-${++files}.json`;
  repo.ok("approve", bundle, "--key", repo.key(key), "--env", env, "-o", out, ...extra);
  return out;
}

function release(bundle: string, ...approvals: string[]) {
  return repo.run(
    "release",
    bundle,
    "--env",
    "staging",
    "--json",
    ...approvals.flatMap((a) => ["--approval", a]),
  );
}

// each refusal starts from an empty store (a refused release still records the approvals that
// counted, as `stele approve` would)
function emptyStore() {
  rmSync(join(repo.dir, ".stele"), { recursive: true, force: true });
}

function quorumNotMet(r: ReturnType<typeof release>, found: string) {
  const error = refused(r, "trust.quorum_not_met");
  assert.match(error.message, new RegExp(`^release of ${v1} to \`staging\` needs 2 approvals`));
  assert.match(error.message, new RegExp(`found ${found}$`));
  assert.match(error.hint ?? "", /stele approve BUNDLE --env staging/);
}

test("an approval of another digest counts for nothing", () => {
  emptyStore();
  quorumNotMet(
    release(
      "v1.json",
      approval("other.json", "alice", "staging"),
      approval("v1.json", "bob", "staging"),
    ),
    "1 \\(`bob`\\)",
  );
});

test("an approval for another environment counts for nothing", () => {
  emptyStore();
  quorumNotMet(
    release("v1.json", approval("v1.json", "alice", "prod"), approval("v1.json", "bob", "staging")),
    "1 \\(`bob`\\)",
  );
});

test("one reviewer signing twice counts once", () => {
  emptyStore();
  const [a, b] = [approval("v1.json", "alice", "staging"), approval("v1.json", "alice", "staging")];
  assert.notEqual(readFileSync(join(repo.dir, a), "utf8"), readFileSync(join(repo.dir, b), "utf8"));
  quorumNotMet(release("v1.json", a, b), "1 \\(`alice`\\)");
});

test("one person with two keys counts once", () => {
  emptyStore();
  const a = approval("v1.json", "alice", "staging");
  const b = approval("v1.json", "alice2", "staging");
  // the second key is recognised as alice's, not as another person
  assert.equal(
    JSON.parse(
      repo.ok(
        "approve",
        "v1.json",
        "--key",
        repo.key("alice2"),
        "--env",
        "staging",
        "-o",
        "x.json",
        "--json",
      ),
    ).reviewer,
    "alice",
  );
  quorumNotMet(release("v1.json", a, b), "1 \\(`alice`\\)");
});

test("a key that is not in the config cannot approve, even under a reviewer's name", () => {
  emptyStore();
  const r = repo.run("approve", "v1.json", "--key", repo.key("dev"), "--env", "staging", "--json");
  const error = refused(r, "trust.unknown_reviewer");
  assert.match(error.message, /no reviewer in stele\.yaml has the key sha256:/);
  const forged = approval("v1.json", "dev", "staging", "--reviewer", "alice");
  quorumNotMet(release("v1.json", forged, approval("v1.json", "bob", "staging")), "1 \\(`bob`\\)");
});

test("payload bytes changed after signing count for nothing", () => {
  emptyStore();
  // alice approved for prod; the payload is edited to say staging
  const file = approval("v1.json", "alice", "prod");
  const envelope = JSON.parse(readFileSync(join(repo.dir, file), "utf8"));
  const payload = Buffer.from(envelope.payload, "base64").toString("utf8");
  assert.match(payload, /"env":"prod"/);
  envelope.payload = Buffer.from(payload.replace('"env":"prod"', '"env":"staging"')).toString(
    "base64",
  );
  writeFileSync(join(repo.dir, file), JSON.stringify(envelope));
  quorumNotMet(release("v1.json", file, approval("v1.json", "bob", "staging")), "1 \\(`bob`\\)");
});

test("a signed payload with duplicate JSON keys counts for nothing", () => {
  emptyStore();
  // alice really signed these bytes, but a lenient parser reads `staging` where she meant `prod`
  const text = statement(v1, "prod", "alice").replace(
    '"reviewer":"alice"',
    '"reviewer":"alice","env":"staging"',
  );
  assert.equal(JSON.parse(text).predicate.env, "staging");
  const file = writeJson(repo, "duplicate.json", signPayload(repo, "alice", text));
  quorumNotMet(release("v1.json", file, approval("v1.json", "bob", "staging")), "1 \\(`bob`\\)");
  // the same statement without the duplicate key counts: only the duplicate refused it
  const clean = signPayload(repo, "alice", statement(v1, "staging", "alice"));
  const r = release(
    "v1.json",
    writeJson(repo, "clean.json", clean),
    approval("v1.json", "bob", "staging"),
  );
  assert.equal(r.code, 0, r.stderr);
});

test("two reviewers of the config in force meet the quorum", () => {
  emptyStore();
  const r = release(
    "v1.json",
    approval("v1.json", "alice", "staging"),
    approval("v1.json", "bob", "staging"),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).approvers, ["alice", "bob"]);
});

test("a reviewer added by the bundle being released does not count for it", () => {
  repo.ok("keygen", "--name", "mallory", "--out", "keys");
  const mallory = readFileSync(join(repo.dir, "keys", "mallory.pub"), "utf8").split(" ");
  repo.edit("stele.yaml", (t) =>
    t.replace(
      "  environments:",
      `    - name: mallory\n      key: ${mallory[0]} ${mallory[1]}\n  environments:`,
    ),
  );
  repo.commit("add mallory");
  const v2 = repo.build("v2.json");
  const r = release(
    "v2.json",
    approval("v2.json", "mallory", "staging"),
    approval("v2.json", "alice", "staging"),
  );
  const error = refused(r, "trust.quorum_not_met");
  assert.equal(
    error.message,
    `release of ${v2} to \`staging\` needs 2 approvals from reviewers in the config in force, found 1 (\`alice\`)`,
  );
});

test("a quorum lowered by the bundle being released still needs the old quorum", () => {
  repo.edit("stele.yaml", (t) =>
    t.replace(
      "quorum: 2\n      weakeningQuorum: 2\n    - name: prod",
      "quorum: 1\n      weakeningQuorum: 1\n    - name: prod",
    ),
  );
  repo.commit("staging quorum 1");
  const v3 = repo.build("v3.json");
  const alone = approval("v3.json", "alice", "staging");
  const error = refused(release("v3.json", alone), "trust.quorum_not_met");
  assert.equal(
    error.message,
    `release of ${v3} to \`staging\` needs 2 approvals from reviewers in the config in force, found 1 (\`alice\`)`,
  );
  // with the old quorum it goes through, and from then on the new one is in force
  const r = release("v3.json", alone, approval("v3.json", "carol", "staging"));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).version, 2);
});

test("an approval file with a duplicated key is refused as written, naming the file", () => {
  emptyStore();
  const file = approval("v1.json", "alice", "staging");
  const text = readFileSync(join(repo.dir, file), "utf8");
  // a second `payloadType` after the first: a lenient parser would keep either one
  writeFileSync(join(repo.dir, file), text.replace(/^\{/, '{"payloadType": "text/plain",'));
  const error = refused(
    release("v1.json", file, approval("v1.json", "bob", "staging")),
    "trust.duplicate_key_json",
  );
  assert.match(error.message, new RegExp(`^\`${file}\`: `));
  assert.match(error.message, /payloadType/);
});
