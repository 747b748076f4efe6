import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { git, repoRoot, tempDir, tempGitRepo } from "../src/testing/index.js";
import { stele } from "./run.js";

function initRepo(): string {
  const dir = tempGitRepo();
  const r = stele(dir, ["init"]);
  assert.equal(r.code, 0, r.stderr);
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "init");
  return dir;
}

test("stele init scaffolds a repository that passes check and test", () => {
  const dir = initRepo();
  const check = stele(dir, ["check"]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const t = stele(dir, ["test"]);
  assert.equal(t.code, 0, t.stdout + t.stderr);
  assert.match(t.stdout, /^\d+ passed, 0 failed$/m);
});

test("stele init refuses to overwrite an existing repository", () => {
  const dir = initRepo();
  const again = stele(dir, ["init"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already/);
});

test("stele check names the file, line and column of a CEL error inside YAML", () => {
  const dir = initRepo();
  const file = join(dir, "policies", "db-guardrails.yaml");
  const text = readFileSync(file, "utf8").replace(
    "when: input.env == 'prod' && input.statement.kind",
    "when: input.env == 'prod' && input.statement.knd",
  );
  writeFileSync(file, text);
  const lines = text.split("\n");
  const line = lines.findIndex((l) => l.includes("input.statement.knd")) + 1;
  const col = (lines[line - 1] ?? "").indexOf("input.statement.knd") + 1;
  const r = stele(dir, ["check", "--json"]);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ok, false);
  const d = out.diagnostics.find((x: { code: string }) => x.code === "language.cel_type");
  assert.ok(d, r.stdout);
  assert.equal(d.position.file, "policies/db-guardrails.yaml");
  assert.equal(d.position.line, line);
  assert.ok(
    d.position.col >= col && d.position.col <= col + "input.statement.knd".length,
    `col ${d.position.col} vs ${col}`,
  );
  const human = stele(dir, ["check"]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, new RegExp(`^policies/db-guardrails\\.yaml:${line}:\\d+: `, "m"));
});

test("stele test reports each failing case with expected and actual, and exits 1", () => {
  const dir = initRepo();
  const file = join(dir, "tests", "db-guardrails.yaml");
  writeFileSync(
    file,
    readFileSync(file, "utf8").replace(
      "expect: allow\n    - name: delete",
      "expect: deny\n    - name: delete",
    ),
  );
  const r = stele(dir, ["test"]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /FAIL .*drop in staging is fine/);
  assert.match(r.stdout, /expected deny, got allow/);
  assert.match(r.stdout, /^\d+ passed, 1 failed$/m);
  const junit = stele(dir, ["test", "--format", "junit"]);
  assert.equal(junit.code, 1);
  assert.match(junit.stdout, /<testsuites name="stele" tests="\d+" failures="1">/);
});

test("stele eval prints the decision as JSON for a file or standard input", () => {
  const dir = initRepo();
  const input = {
    env: "prod",
    principal: { id: "bob", roles: [] },
    statement: { kind: "DROP", table: "orders", hasWhere: false, rowsEstimate: 0 },
  };
  writeFileSync(join(dir, "in.json"), JSON.stringify(input));
  const r = stele(dir, ["eval", "--input", "in.json", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal(d.decision, "deny");
  assert.deepEqual(d.policies[0].matched, ["no-drop-in-prod"]);
  assert.match(d.bundle, /^sha256:[0-9a-f]{64}$/);
  const stdin = stele(
    dir,
    ["eval", "--input", "-"],
    "env: staging\nprincipal: {id: bob, roles: []}\nstatement: {kind: DROP, table: orders, hasWhere: false, rowsEstimate: 0}\n",
  );
  assert.equal(stdin.code, 0, stdin.stderr);
  assert.equal(JSON.parse(stdin.stdout).decision, "allow");
});

test("stele build writes a bundle whose digest is stable and which eval and test accept", () => {
  const dir = initRepo();
  const a = stele(dir, ["build", "-o", "a.json"]);
  assert.equal(a.code, 0, a.stderr);
  const digest = a.stdout.trim().split("\n").at(-1);
  assert.match(digest ?? "", /^sha256:[0-9a-f]{64}$/);
  const b = stele(dir, ["build", "-o", "b.json", "--json"]);
  assert.deepEqual(JSON.parse(b.stdout).digest, digest);
  assert.equal(
    readFileSync(join(dir, "a.json"), "utf8"),
    readFileSync(join(dir, "b.json"), "utf8"),
  );
  const t = stele(dir, ["test", "a.json"]);
  assert.equal(t.code, 0, t.stdout + t.stderr);
  writeFileSync(
    join(dir, "in.json"),
    '{"env":"prod","principal":{"id":"x","roles":[]},"statement":{"kind":"DROP","table":"t","hasWhere":false,"rowsEstimate":0}}',
  );
  const e = stele(dir, ["eval", "a.json", "--input", "in.json"]);
  assert.equal(JSON.parse(e.stdout).bundle, digest);
  // built from a committed tree, nothing to note
  assert.doesNotMatch(a.stderr, /note:/);
});

test("stele build says at once that a bundle from uncommitted or non-git source can never be released", () => {
  const dir = initRepo();
  writeFileSync(join(dir, "policies", "new.yaml"), "");
  const dirty = stele(dir, ["build", "-o", "a.json"]);
  assert.equal(dirty.code, 0, dirty.stderr);
  assert.match(
    dirty.stderr,
    /note: the tree has uncommitted changes, so `stele release` will refuse this bundle: commit the policy sources/,
  );
  const outside = tempDir();
  assert.equal(stele(outside, ["init"]).code, 0);
  const loose = stele(outside, ["build"]);
  assert.equal(loose.code, 0, loose.stderr);
  assert.match(
    loose.stderr,
    /note: this folder is not in a git repository, so `stele release` will refuse this bundle/,
  );
});

test("stele build refuses a tree whose tests fail", () => {
  const dir = initRepo();
  const file = join(dir, "tests", "db-guardrails.yaml");
  writeFileSync(
    file,
    readFileSync(file, "utf8").replace(
      "expect: allow\n    - name: delete",
      "expect: deny\n    - name: delete",
    ),
  );
  const r = stele(dir, ["build", "--json"]);
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stderr).error.code, "bundle.tests_failed");
});

test("stele build refuses a tampered bundle when it is loaded again", () => {
  const dir = initRepo();
  assert.equal(stele(dir, ["build", "-o", "a.json"]).code, 0);
  const path = join(dir, "a.json");
  writeFileSync(path, readFileSync(path, "utf8").replace("no-drop-in-prod", "no-drop-in-prid"));
  const r = stele(dir, ["test", "a.json", "--json"]);
  assert.equal(r.code, 1);
  assert.match(JSON.parse(r.stderr).error.code, /^bundle\./);
});

test("usage errors exit 2 and unknown commands say what exists", () => {
  const dir = tempDir();
  assert.equal(stele(dir, ["frobnicate"]).code, 2);
  assert.equal(stele(dir, ["check", "--bogus"]).code, 2);
  assert.equal(stele(dir, ["eval"]).code, 2);
  const help = stele(dir, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /check/);
});

test("usage errors come as JSON with --json, and name the command or option likeliest meant", () => {
  const dir = tempDir();
  const cases: [string[], RegExp, RegExp][] = [
    [["relase", "--json"], /unknown command `relase`/, /did you mean `stele release`\?/],
    [["--json", "relase"], /unknown command `relase`/, /did you mean `stele release`\?/],
    [["release", "b.json", "--evn", "prod", "--json"], /unknown option `--evn`/, /`--env`/],
    [["serve", "--port", "--json"], /--port/, /usage: stele serve/],
    [["decisions", "verfy", "--json"], /unknown action `verfy`/, /`stele decisions verify`/],
  ];
  for (const [args, message, hint] of cases) {
    const r = stele(dir, args);
    assert.equal(r.code, 2, r.stderr);
    const { error } = JSON.parse(r.stderr);
    assert.equal(error.code, "cli.usage");
    assert.match(error.message, message);
    assert.match(error.hint, hint);
  }
  // and in words without it
  const human = stele(dir, ["eval", "--inptu", "x"]);
  assert.equal(human.code, 2);
  assert.match(
    human.stderr,
    /^stele eval: unknown option `--inptu`\n {2}hint: did you mean `--input`\?/,
  );
});

for (const example of ["api", "database", "kubernetes"]) {
  test(`the ${example} example passes check and its tests`, () => {
    const dir = join(repoRoot, "examples", example);
    const r = stele(dir, ["test"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^\d+ passed, 0 failed$/m);
  });
}

test("stele check and build name the line of a reviewer key that cannot be read (released, it would lock the env)", () => {
  const dir = initRepo();
  const file = join(dir, "stele.yaml");
  const text = readFileSync(file, "utf8");
  const key = /key: (ssh-ed25519 \S+)/.exec(text)?.[1] ?? "";
  assert.ok(key, text);
  // the key cut short, as a paste gone wrong leaves it
  writeFileSync(file, text.replace(key, key.slice(0, 40)));
  const line = text.split("\n").findIndex((l) => l.includes(key)) + 1;
  for (const command of [["check"], ["build", "-o", "b.json"]]) {
    const r = stele(dir, command);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout + r.stderr,
      new RegExp(
        `stele\\.yaml:${line}:\\d+: .*reviewer \`dev\`'s key cannot be read: malformed OpenSSH public key`,
      ),
    );
  }
  // the whole key is read
  writeFileSync(file, text);
  const fixed = stele(dir, ["check"]);
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
});

test("check says what is wrong in the words a user needs: a folder that is not there, a subject's likeliest schema, an effect's values", () => {
  const missing = stele(tempDir(), ["check", "nodir", "--json"]);
  assert.equal(missing.code, 1);
  const error = JSON.parse(missing.stderr).error;
  assert.deepEqual([error.code, error.message], ["cli.io", "no policy directory `nodir`"]);
  const dir = initRepo();
  const file = join(dir, "policies", "db-guardrails.yaml");
  const text = readFileSync(file, "utf8");
  const subject = /subject: (\S+)/.exec(text)?.[1] ?? "";
  assert.ok(subject, text);
  writeFileSync(file, text.replace(`subject: ${subject}`, `subject: ${subject.slice(0, -1)}`));
  const typo = JSON.parse(stele(dir, ["check", "--json"]).stdout);
  const unknown = typo.diagnostics.find(
    (d: { code: string }) => d.code === "language.unknown_reference",
  );
  assert.match(unknown.hint, new RegExp(`did you mean \`${subject}\`\\?`));
  writeFileSync(file, text.replace(/^( *)effect: deny\n/m, ""));
  const noEffect = JSON.parse(stele(dir, ["check", "--json"]).stdout);
  const effect = noEffect.diagnostics.find((d: { message: string }) =>
    /missing `effect`/.test(d.message),
  );
  assert.ok(effect, JSON.stringify(noEffect));
  assert.equal(effect.hint, "add `effect:` with `allow` or `deny`");
});

test("stele diff shows a weakening by a test input it denied and now allows, and a widened deny list as strengthening", () => {
  const old = initRepo();
  // a copy: two `stele init`s differ (their keys, and exception expiries a second apart)
  const next = tempDir();
  cpSync(old, next, { recursive: true });
  const policy = join(next, "policies", "db-guardrails.yaml");
  const text = readFileSync(policy, "utf8");
  const list = "input.statement.kind in ['DROP', 'TRUNCATE']";
  assert.ok(text.includes(list), text);
  writeFileSync(policy, text.replace(list, "input.statement.kind in ['TRUNCATE']"));
  const weaker = stele(tempDir(), ["diff", old, next, "--json"]);
  assert.equal(weaker.code, 3, weaker.stderr);
  const [example] = JSON.parse(weaker.stdout).counterexamples;
  assert.equal(example.input.statement.kind, "DROP");
  assert.deepEqual(example.deniedBy, ["db-guardrails/no-drop-in-prod"]);
  assert.match(
    stele(tempDir(), ["diff", old, next]).stdout,
    /^ {2}e\.g\. test .*: denied before \(db-guardrails\/no-drop-in-prod\), allowed now: \{"env":"prod"/m,
  );
  writeFileSync(
    policy,
    text.replace(list, "input.statement.kind in ['TRUNCATE', 'DROP', 'ALTER']"),
  );
  const stronger = stele(tempDir(), ["diff", old, next, "--json"]);
  assert.equal(stronger.code, 0, stronger.stdout);
  const out = JSON.parse(stronger.stdout);
  assert.equal(out.class, "strengthening");
  assert.equal(out.counterexamples, undefined);
});
