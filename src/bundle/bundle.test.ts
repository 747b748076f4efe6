import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compile, type PolicySet, Source } from "../language/index.js";
import { buildBundle } from "./build.js";
import { canonicalJson } from "./canonical.js";
import { digestOf } from "./digest.js";
import { loadBundle } from "./load.js";

const NOW = Date.parse("2026-11-28T00:00:00Z");

const SOURCES: Record<string, string> = {
  "stele.yaml": `apiVersion: stele/v1
kind: Project
metadata:
  name: demo
spec:
  environments:
    - name: staging
      quorum: 1
`,
  "policies/p.yaml": `apiVersion: stele/v1
kind: Policy
metadata:
  name: p
spec:
  default: allow
  rules:
    - name: no-drop
      effect: deny
      when: input.kind == 'DROP'
`,
  "tests/t.yaml": `apiVersion: stele/v1
kind: Test
metadata:
  name: t
spec:
  cases:
    - name: drop is denied
      input: {kind: DROP}
      expect: deny
`,
};

function sources(files: Record<string, string> = SOURCES): Source[] {
  return Object.entries(files).map(([file, text]) => new Source(file, text));
}

function compiled(list: Source[]): PolicySet {
  const result = compile(list, { now: NOW });
  assert.ok(result.ok, JSON.stringify(result.diagnostics));
  return result.set;
}

test("the same tree gives the same digest whatever the source order", () => {
  const a = sources();
  const b = [...a].reverse();
  const git = { commit: "a".repeat(40), dirty: false };
  assert.equal(buildBundle(a, compiled(a), git).digest, buildBundle(b, compiled(b), git).digest);
});

test("a change to any source changes the digest", () => {
  const a = sources();
  const b = sources({ ...SOURCES, "policies/p.yaml": `${SOURCES["policies/p.yaml"]}# comment\n` });
  assert.notEqual(
    buildBundle(a, compiled(a), null).digest,
    buildBundle(b, compiled(b), null).digest,
  );
});

test("a built bundle loads, verifies and decides like its tree", () => {
  const list = sources();
  const built = buildBundle(list, compiled(list), { commit: "b".repeat(40), dirty: true });
  const loaded = loadBundle(built.bytes, built.digest);
  assert.equal(loaded.digest, built.digest);
  assert.deepEqual(loaded.doc.git, { commit: "b".repeat(40), dirty: true });
  assert.equal(loaded.set.policies[0]?.rules[0]?.when.test({ kind: "DROP" }), true);
});

test("loading refuses a bundle whose digest is not the expected one", () => {
  const list = sources();
  const built = buildBundle(list, compiled(list), null);
  assert.throws(() => loadBundle(built.bytes, digestOf("other")), {
    code: "bundle.digest_mismatch",
  });
});

test("loading refuses tampered bytes: a source edited with its digest kept", () => {
  const list = sources();
  const built = buildBundle(list, compiled(list), null);
  const doc = JSON.parse(built.bytes.toString("utf8"));
  const policy = doc.sources.find((s: { path: string }) => s.path === "policies/p.yaml");
  policy.text = policy.text.replace("DROP", "TRUNCATE");
  assert.throws(() => loadBundle(Buffer.from(canonicalJson(doc))), {
    code: "bundle.source_mismatch",
  });
});

test("loading refuses a plan that does not match its sources", () => {
  const list = sources();
  const built = buildBundle(list, compiled(list), null);
  const doc = JSON.parse(built.bytes.toString("utf8"));
  doc.plan.policies[0].rules[0].effect = "allow";
  assert.throws(
    () => loadBundle(Buffer.from(canonicalJson(doc))),
    (e: { code?: string; hint?: string }) => {
      assert.equal(e.code, "bundle.plan_mismatch");
      // the same compiler: the bundle was edited, not built by another version
      assert.match(e.hint ?? "", /edited after it was built/);
      return true;
    },
  );
  // by another version, the hint says which
  doc.compiler.version = "0.0.1";
  assert.throws(() => loadBundle(Buffer.from(canonicalJson(doc))), {
    hint: /built by stele 0\.0\.1, this is stele /,
  });
});

test("loading refuses bytes that are not canonical, even when they parse to the same value", () => {
  const list = sources();
  const built = buildBundle(list, compiled(list), null);
  const pretty = Buffer.from(JSON.stringify(JSON.parse(built.bytes.toString("utf8")), null, 1));
  assert.throws(() => loadBundle(pretty), { code: "bundle.not_canonical" });
  const dup = Buffer.from(
    built.bytes.toString("utf8").replace('{"apiVersion"', '{"apiVersion":"x","apiVersion"'),
  );
  assert.throws(() => loadBundle(dup), { code: "bundle.not_canonical" });
});

test("loading refuses garbage and other formats", () => {
  assert.throws(() => loadBundle(Buffer.from("not json")), { code: "bundle.malformed" });
  assert.throws(() => loadBundle(Buffer.from('{"apiVersion":"v9","kind":"Bundle"}')), {
    code: "bundle.unsupported_format",
  });
});

test("canonical bytes ignore key order", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const shuffled = JSON.parse(
        JSON.stringify(value, (_k, v) =>
          v && typeof v === "object" && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).reverse())
            : v,
        ),
      );
      return canonicalJson(value) === canonicalJson(shuffled);
    }),
    { seed: 7, numRuns: 300 },
  );
});

test("canonical text parses back to the same value", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assert.deepEqual(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)));
    }),
    { seed: 8, numRuns: 300 },
  );
});
