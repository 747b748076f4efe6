// DESIGN promise 3 under attack: a release is a content-addressed bundle of committed source.
// Bytes edited after the build, an object edited in the store, or a bundle of an uncommitted tree
// are refused, each with the code that says which.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { canonicalJson, digestOf } from "../../src/bundle/index.js";
import { tempDir } from "../../src/testing/index.js";
import { makeRepo } from "../fixture.js";
import { refused, tampered } from "./attack.js";

const repo = makeRepo();
const v1 = repo.build("v1.json");
const bytes = readFileSync(join(repo.dir, "v1.json"), "utf8");
repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "staging");

interface Doc {
  sources: { path: string; digest: string; text: string }[];
}

// the bundle with the deny rule's condition narrowed in its source text
function widened(doc: Doc, fixDigest: boolean): string {
  const source = doc.sources.find((s) => s.path === "policies/db-guardrails.yaml");
  assert.ok(source);
  source.text = source.text.replace("['DROP', 'TRUNCATE']", "['TRUNCATE']");
  if (fixDigest) source.digest = digestOf(source.text);
  return canonicalJson(doc);
}

const cases = [
  {
    what: "a source edited in place",
    bytes: () => widened(JSON.parse(bytes), false),
    code: "bundle.source_mismatch",
    message: "source `policies/db-guardrails.yaml` does not match its digest",
  },
  {
    what: "a source edited with its digest recomputed",
    bytes: () => widened(JSON.parse(bytes), true),
    code: "bundle.plan_mismatch",
    message: "bundle sources do not compile to the plan it records",
  },
  {
    what: "the bytes re-serialised",
    bytes: () => JSON.stringify(JSON.parse(bytes), null, 1),
    code: "bundle.not_canonical",
    message: "bundle bytes are not in canonical form",
  },
];

for (const c of cases) {
  test(`release and approve refuse a bundle with ${c.what}`, () => {
    writeFileSync(join(repo.dir, "edited.json"), c.bytes());
    for (const args of [
      ["release", "edited.json", "--env", "staging"],
      ["approve", "edited.json", "--env", "staging", "--key", repo.key("alice")],
    ]) {
      const error = refused(repo.run(...args, "--json"), c.code);
      assert.equal(error.message, c.message);
    }
  });
}

test("verify and promote refuse a released bundle edited in the store", () => {
  repo.ok("release", "v1.json", "--env", "staging");
  const hex = v1.slice("sha256:".length);
  const object = join(repo.dir, ".stele", "objects", "sha256", hex.slice(0, 2), hex.slice(2));
  assert.equal(readFileSync(object, "utf8"), bytes);
  writeFileSync(object, widened(JSON.parse(bytes), true));
  try {
    const problem = tampered(repo, join(tempDir(), "witness"), "store.corrupt", 1);
    assert.match(problem.message, new RegExp(`stored object ${v1} does not match its digest`));
    repo.ok("approve", "v1.json", "--key", repo.key("alice"), "--env", "prod");
    repo.ok("approve", "v1.json", "--key", repo.key("bob"), "--env", "prod");
    refused(repo.run("promote", "--from", "staging", "--to", "prod", "--json"), "store.corrupt");
  } finally {
    writeFileSync(object, bytes);
  }
});

test("a bundle built from a tree with uncommitted changes is refused", () => {
  const policy = "policies/db-guardrails.yaml";
  const text = readFileSync(join(repo.dir, policy), "utf8");
  repo.edit(policy, (t) => t.replace("are blocked", "are not allowed"));
  const dirty = repo.build("dirty.json");
  repo.edit(policy, () => text);
  // its approval is recorded (it is what was asked), with a note that no release may take it
  const approved = repo.run(
    "approve",
    "dirty.json",
    "--key",
    repo.key("alice"),
    "--env",
    "staging",
  );
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(
    approved.stderr,
    /^note: sha256:\S+ was built from a tree with uncommitted changes: no release may take it/m,
  );
  const error = refused(
    repo.run("release", "dirty.json", "--env", "staging", "--json"),
    "release.dirty_tree",
  );
  assert.equal(error.message, `bundle ${dirty} was built from a tree with uncommitted changes`);
  assert.match(error.hint ?? "", /commit the policy sources/);
});

test("a bundle built with an untracked policy file is refused", () => {
  writeFileSync(
    join(repo.dir, "policies", "extra.yaml"),
    readFileSync(join(repo.dir, "policies", "db-guardrails.yaml"), "utf8").replace(
      "name: db-guardrails",
      "name: extra",
    ),
  );
  repo.build("untracked.json");
  repo.ok("approve", "untracked.json", "--key", repo.key("alice"), "--env", "staging");
  refused(
    repo.run("release", "untracked.json", "--env", "staging", "--json"),
    "release.dirty_tree",
  );
});

test("releasing the digest an environment already runs is refused", () => {
  const error = refused(
    repo.run("release", "v1.json", "--env", "staging", "--json"),
    "release.already_running",
  );
  assert.equal(error.message, `\`staging\` already runs ${v1} (v1)`);
});
