import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { compile, DEFAULT_LIMITS, type PolicySet, readSources } from "../language/index.js";
import { repoRoot } from "../testing/index.js";
import { type App, createApp } from "./app.js";
import { createHttpServer } from "./http.js";
import { Runtime } from "./runtime.js";

// the decision point's routes, always through the server `stele serve` runs (http.ts) on a real
// socket on 127.0.0.1: the decision routes on node:http, the rest through Hono

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
  return createApp(runtime, { clock, maxBodyBytes: MAX });
}

const MAX = 4096;

// the app served on a free port for the length of `use`
async function served<T>(app: App, use: (origin: string, port: number) => Promise<T>): Promise<T> {
  const server = createHttpServer(app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    return await use(`http://127.0.0.1:${port}`, port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

// one request to the served app, its answer read whole
function request(app: App, path: string, init?: RequestInit): Promise<Response> {
  return served(app, async (origin) => {
    const res = await fetch(`${origin}${path}`, init);
    return new Response(await res.text(), { status: res.status, headers: res.headers });
  });
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
  const res = await request(
    ready(),
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
    await request(ready(), "/v1/decide", post("", { input: { kind: "DROP", who: "alice" } })),
  );
  assert.equal(d.decision, "allow");
  assert.deepEqual(d.warnings, ["db/label: missing label"]);
  assert.equal(d.exceptions[0].name, "alice");
  assert.equal(d.time, "2026-11-28T00:00:00.000Z");
});

test("no request can set the time: an expired exception never comes back to life", async () => {
  const app = ready(() => Date.parse("2026-12-06T00:00:00Z"));
  const late = await json(
    await request(app, "/v1/decide", post("", { input: { kind: "DROP", who: "alice" } })),
  );
  assert.equal(late.decision, "deny");
  const res = await request(
    app,
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
    const res = await request(app, "/v1/decide", init);
    assert.equal(res.status, status, code);
    const body = await json(res);
    assert.equal(body.error.code, code);
    assert.equal(body.decision, undefined);
  }
});

test("input nested past the limit is bad input: a 400 naming the limit, never a decision", async () => {
  let deep: unknown = {};
  for (let i = 0; i < 40; i++) deep = { a: deep };
  const res = await request(ready(), "/v1/decide", post("", { input: deep }));
  assert.equal(res.status, 400);
  const body = await json(res);
  assert.equal(body.decision, undefined);
  assert.equal(body.error.code, "engine.input_too_deep");
  assert.match(body.error.hint, /maxInputDepth/);
});

test("until a release verifies, readyz is 503 and every decision is a deny with a reason", async () => {
  const app = createApp(new Runtime("prod"));
  assert.equal((await request(app, "/readyz")).status, 503);
  const res = await request(app, "/v1/decide", post("", { input: { kind: "SELECT" } }));
  assert.equal(res.status, 503);
  const body = await json(res);
  assert.equal(body.decision, "deny");
  assert.equal(body.errors[0].code, "server.not_ready");
  const review = await json(
    await request(
      app,
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
  const res = await request(
    ready(),
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
  const res = await request(app, "/v1/admission?policy=db", post("", review));
  const body = await json(res);
  assert.equal(body.apiVersion, "admission.k8s.io/v1");
  assert.equal(body.kind, "AdmissionReview");
  assert.equal(body.response.uid, "705ab4f5");
  assert.equal(body.response.allowed, true);
  assert.deepEqual(body.response.warnings, ["db/label: missing label"]);
  const bad = await request(
    app,
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
  const app = createApp(runtime, {
    onDecision: () => {
      throw new Error("disk on fire");
    },
  });
  const res = await request(app, "/v1/decide", post("", { input: { kind: "SELECT" } }));
  assert.equal(res.status, 500);
  const body = await json(res);
  assert.equal(body.error.code, "internal");
  assert.equal(body.decision, undefined);
});

test("metrics expose decisions, the bundle being served and readiness", async () => {
  const app = ready();
  await request(app, "/v1/decide", post("", { input: { kind: "DROP" } }));
  const text = await (await request(app, "/metrics")).text();
  assert.match(text, /stele_decisions_total\{decision="deny",policy="db",effect="deny"\} 1/);
  assert.match(text, /stele_bundle_info\{env="prod",version="3",digest="sha256:a{64}"\} 1/);
  assert.match(text, /stele_ready 1/);
});

// a POST whose body goes out in the given pieces (chunked, unless a content-length is given)
function rawPost(
  port: number,
  path: string,
  pieces: readonly Buffer[],
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    let i = 0;
    const next = () => {
      const piece = pieces[i++];
      if (piece === undefined) {
        req.end();
        return;
      }
      req.write(piece);
      setTimeout(next, 2);
    };
    next();
  });
}

test("a body in many chunks, a character split between two, is read whole", async () => {
  await served(ready(), async (_, port) => {
    // the refusal names the policy asked for: it comes back exactly as sent
    const body = Buffer.from(JSON.stringify({ policies: ["dröp"], input: { kind: "DROP" } }));
    const split = body.indexOf(0xc3) + 1; // between the two bytes of ö
    const r = await rawPost(port, "/v1/decide", [body.subarray(0, split), body.subarray(split)]);
    assert.equal(r.status, 400, r.body);
    assert.equal(JSON.parse(r.body).error.message, "no policy named `dröp`");
    const bytes = [...body.subarray(0, 40)].map((b) => Buffer.of(b));
    const again = await rawPost(port, "/v1/decide?x=1", [...bytes, body.subarray(40)]);
    assert.equal(JSON.parse(again.body).error.message, "no policy named `dröp`");
  });
});

test("the size limit holds to the byte, declared or not, and a refused body closes the connection", async () => {
  await served(ready(), async (_, port) => {
    const sized = (n: number) => {
      const head = '{"input":{"kind":"';
      const tail = '"}}';
      return Buffer.from(head + "a".repeat(n - head.length - tail.length) + tail);
    };
    const exact = await rawPost(port, "/v1/decide", [sized(MAX)]);
    assert.equal(exact.status, 200, exact.body);
    const over = sized(MAX + 1);
    const chunked = await rawPost(port, "/v1/decide", [
      over.subarray(0, 1000),
      over.subarray(1000),
    ]);
    assert.equal(chunked.status, 413);
    assert.equal(JSON.parse(chunked.body).error.code, "server.body_too_large");
    assert.equal(chunked.headers.connection, "close");
    const declared = await rawPost(port, "/v1/decide", [over], {
      "content-length": String(over.length),
    });
    assert.equal(declared.status, 413);
    assert.equal(declared.headers.connection, "close");
  });
});

test("a route nobody serves gets a 404, and a route asked with the wrong method a 405 naming the right one", async () => {
  const app = ready();
  for (const init of [undefined, post("", {})]) {
    const res = await request(app, "/v1/nope", init);
    assert.equal(res.status, 404);
    assert.equal((await json(res)).error.code, "server.no_route");
  }
  const get = await request(app, "/v1/decide");
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  assert.equal((await json(get)).error.code, "server.method_not_allowed");
  const postStatus = await request(app, "/v1/status", post("", {}));
  assert.equal(postStatus.status, 405);
  assert.equal(postStatus.headers.get("allow"), "GET");
});

test("a decision's text is JSON.stringify of the response, whether its decision is shared or not", async () => {
  // examples/api: its decisions are shared between inputs with the same outcome (frozen)
  const compiled = compile(await readSources(join(repoRoot, "examples", "api")), { now: NOW });
  assert.ok(compiled.ok);
  const runtime = new Runtime("prod");
  runtime.activate({
    env: "prod",
    version: 3,
    digest: `sha256:${"a".repeat(64)}`,
    set: compiled.set,
    bytes: Buffer.from(""),
    treeSize: 5,
    checkpoint: "",
    verifiedAt: NOW,
  });
  // a shared decision's lists are the engine's own, frozen
  let shared = 0;
  const app = createApp(runtime, {
    clock: () => NOW,
    maxBodyBytes: MAX,
    onDecision: (response) => {
      if (Object.isFrozen(response.policies)) shared++;
    },
  });
  const request = (action: string, roles: string[]) => ({
    input: {
      env: "prod",
      action,
      principal: { id: "ann", roles, department: "f", clearance: 2, mfa: true },
      resource: { type: "invoice", id: "r", owner: "bo", department: "f", classification: 1 },
    },
  });
  await served(app, async (origin) => {
    const bodies = [
      request("read", ["reader"]),
      request("read", ["reader", "auditor"]),
      request("delete", ["reader"]),
      { input: [1, 2] },
      { policies: ["api-access"], input: { env: 1 } },
    ];
    for (const body of [...bodies, ...bodies]) {
      const res = await fetch(`${origin}/v1/decide`, post("/v1/decide", body));
      const text = await res.text();
      const d = JSON.parse(text);
      const { decision, policies, warnings, exceptions, errors, bundle, id, time, env, version } =
        d;
      const ordered = { decision, policies, warnings, exceptions, errors, bundle, id, time, env };
      assert.equal(text, JSON.stringify({ ...ordered, version }), JSON.stringify(body));
    }
  });
  assert.ok(shared >= 3, `${shared} of the decisions were shared`);
});
