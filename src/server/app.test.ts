import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_LIMITS, type PolicySet } from "../language/index.js";
import { createApp } from "./app.js";
import { Runtime } from "./runtime.js";

const at = { file: "p.yaml", line: 1, col: 1 };
const NOW = Date.parse("2026-11-28T00:00:00Z");

// prod DROP is denied (and the rule has an exception for alice until Dec 5); everything else allowed
const SET: PolicySet = {
  project: {
    name: "t",
    reviewers: [],
    environments: [],
    exceptions: { maxDuration: "7d", maxDurationMs: 7 * 86_400_000 },
    limits: { ...DEFAULT_LIMITS, maxInputDepth: 16 },
  },
  policies: [
    {
      name: "db",
      description: undefined,
      subject: "sql",
      default: "allow",
      position: at,
      rules: [
        {
          name: "no-drop",
          effect: "deny",
          enforcement: "enforce",
          message: "no DROP in prod",
          position: at,
          when: { source: "…", test: (i) => (i as { kind?: string }).kind === "DROP" },
        },
        {
          name: "label",
          effect: "deny",
          enforcement: "warn",
          message: "missing label",
          position: at,
          when: { source: "…", test: (i) => (i as { label?: string }).label === undefined },
        },
      ],
    },
  ],
  exceptions: [
    {
      name: "alice",
      description: undefined,
      policy: "db",
      rules: ["no-drop"],
      when: { source: "…", test: (i) => (i as { who?: string }).who === "alice" },
      expires: "2026-12-05T00:00:00.000Z",
      expiresAt: Date.parse("2026-12-05T00:00:00Z"),
      owner: "a",
      justification: "j",
      position: at,
    },
  ],
  tests: [],
  schemas: {},
};

function ready(clock = () => NOW) {
  const runtime = new Runtime("prod");
  runtime.activate({
    env: "prod",
    version: 3,
    digest: `sha256:${"a".repeat(64)}`,
    set: SET,
    bytes: Buffer.from(""),
    treeSize: 5,
    checkpoint: "",
    verifiedAt: NOW,
  });
  return createApp(runtime, { clock, maxBodyBytes: 4096 }).app;
}

// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary response JSON
async function json(res: Response): Promise<any> {
  return res.json();
}

const post = (_path: string, body: unknown, type = "application/json") => ({
  method: "POST",
  headers: { "content-type": type },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

test("decide answers with the decision, its reasons, id, env, version and digest", async () => {
  const res = await ready().request(
    "/v1/decide",
    post("/v1/decide", { input: { kind: "DROP", label: "x" } }),
  );
  assert.equal(res.status, 200);
  const d = await json(res);
  assert.equal(d.decision, "deny");
  assert.deepEqual(d.policies[0].matched, ["no-drop"]);
  assert.equal(d.env, "prod");
  assert.equal(d.version, 3);
  assert.match(d.bundle, /^sha256:a{64}$/);
  assert.match(d.id, /^[0-9a-f-]{36}$/);
});

test("warnings, exceptions used and the clock come back in the decision", async () => {
  const d = await json(
    await ready().request("/v1/decide", post("", { input: { kind: "DROP", who: "alice" } })),
  );
  assert.equal(d.decision, "allow");
  assert.deepEqual(d.warnings, ["db/label: missing label"]);
  assert.equal(d.exceptions[0].name, "alice");
  assert.equal(d.time, "2026-11-28T00:00:00.000Z");
});

test("no request can set the time: an expired exception never comes back to life", async () => {
  const app = ready(() => Date.parse("2026-12-06T00:00:00Z"));
  const late = await json(
    await app.request("/v1/decide", post("", { input: { kind: "DROP", who: "alice" } })),
  );
  assert.equal(late.decision, "deny");
  const res = await app.request(
    "/v1/decide",
    post("", { now: "2026-11-28T00:00:00Z", input: { kind: "DROP", who: "alice" } }),
  );
  assert.equal(res.status, 400);
  assert.equal((await json(res)).error.code, "server.bad_request");
});

test("each kind of bad input gets a 4xx with a code and a reason, never a decision", async () => {
  const app = ready();
  const cases: [RequestInit, number, string][] = [
    [post("", "{not json"), 400, "server.bad_request"],
    [post("", { input: {} }, "text/plain"), 415, "server.unsupported_media_type"],
    [post("", { input: "x".repeat(5000) }), 413, "server.body_too_large"],
    [post("", { policies: ["nope"], input: {} }), 400, "engine.unknown_policy"],
    [post("", { subject: "nope", input: {} }), 400, "engine.unknown_subject"],
    [post("", { input: {}, extra: 1 }), 400, "server.bad_request"],
    [post("", [1, 2]), 400, "server.bad_request"],
    [post("", { policies: "db", input: {} }), 400, "server.bad_request"],
  ];
  for (const [init, status, code] of cases) {
    const res = await app.request("/v1/decide", init);
    assert.equal(res.status, status, code);
    const body = await json(res);
    assert.equal(body.error.code, code);
    assert.equal(body.decision, undefined);
  }
});

test("input nested past the limit is denied with a reason", async () => {
  let deep: unknown = {};
  for (let i = 0; i < 40; i++) deep = { a: deep };
  const d = await json(await ready().request("/v1/decide", post("", { input: deep })));
  assert.equal(d.decision, "deny");
  assert.equal(d.errors[0].code, "engine.input_too_deep");
});

test("until a release verifies, readyz is 503 and every decision is a deny with a reason", async () => {
  const { app } = createApp(new Runtime("prod"));
  assert.equal((await app.request("/readyz")).status, 503);
  const res = await app.request("/v1/decide", post("", { input: { kind: "SELECT" } }));
  assert.equal(res.status, 503);
  const body = await json(res);
  assert.equal(body.decision, "deny");
  assert.equal(body.errors[0].code, "server.not_ready");
  const review = await json(
    await app.request(
      "/v1/admission",
      post("", {
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: { uid: "u1", object: {} },
      }),
    ),
  );
  assert.equal(review.response.allowed, false);
});

test("a batch answers each request, and a bad one does not spoil the rest", async () => {
  const res = await ready().request(
    "/v1/decide/batch",
    post("", {
      requests: [
        { input: { kind: "DROP" } },
        { now: "x", input: {} },
        { input: { kind: "SELECT", label: "l" } },
      ],
    }),
  );
  const body = await json(res);
  assert.equal(body.results[0].decision, "deny");
  assert.equal(body.results[1].error.code, "server.bad_request");
  assert.equal(body.results[2].decision, "allow");
});

test("an AdmissionReview round-trips with the uid, the failed rules and the warnings", async () => {
  const review = {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: { uid: "705ab4f5", operation: "CREATE", object: { kind: "DROP" }, oldObject: null },
  };
  const app = ready();
  // the policy sees {object, oldObject, request}; this test policy reads `kind` at the top level
  const res = await app.request("/v1/admission?policy=db", post("", review));
  const body = await json(res);
  assert.equal(body.apiVersion, "admission.k8s.io/v1");
  assert.equal(body.kind, "AdmissionReview");
  assert.equal(body.response.uid, "705ab4f5");
  assert.equal(body.response.allowed, true);
  assert.deepEqual(body.response.warnings, ["db/label: missing label"]);
  const bad = await app.request(
    "/v1/admission",
    post("", { kind: "AdmissionReview", apiVersion: "v0" }),
  );
  assert.equal(bad.status, 400);
});

test("a failure inside the server is a 500 that is never a decision", async () => {
  const runtime = new Runtime("prod");
  runtime.activate({
    env: "prod",
    version: 1,
    digest: "d",
    set: SET,
    bytes: Buffer.from(""),
    treeSize: 1,
    checkpoint: "",
    verifiedAt: NOW,
  });
  const { app } = createApp(runtime, {
    onDecision: () => {
      throw new Error("disk on fire");
    },
  });
  const res = await app.request("/v1/decide", post("", { input: { kind: "SELECT" } }));
  assert.equal(res.status, 500);
  const body = await json(res);
  assert.equal(body.error.code, "internal");
  assert.equal(body.decision, undefined);
});

test("metrics expose decisions, the bundle being served and readiness", async () => {
  const app = ready();
  await app.request("/v1/decide", post("", { input: { kind: "DROP" } }));
  const text = await (await app.request("/metrics")).text();
  assert.match(text, /stele_decisions_total\{decision="deny",policy="db",effect="deny"\} 1/);
  assert.match(text, /stele_bundle_info\{env="prod",version="3",digest="sha256:a{64}"\} 1/);
  assert.match(text, /stele_ready 1/);
});
