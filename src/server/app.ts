import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { type Decision, type DecisionRequest, decide } from "../engine/index.js";
import { type ErrorJson, SteleError } from "../errors.js";
import { toAdmissionInput, toAdmissionReview } from "./admission.js";
import { createMetrics, type Metrics } from "./metrics.js";
import type { Active, Runtime } from "./runtime.js";
import { type DecisionResponse, readDecisionRequest } from "./wire.js";

/** Options of the HTTP app. */
export interface AppOptions {
  /** Largest request body in bytes. */
  readonly maxBodyBytes?: number;
  /** Most requests in one batch. */
  readonly maxBatch?: number;
  /** The clock (ms); decisions never take the time from a request. */
  readonly clock?: () => number;
  /** Deny everything while the ledger view is stale. */
  readonly failClosedWhenStale?: boolean;
  /** Called with every decision made (the decision log). */
  readonly onDecision?: (response: DecisionResponse, request: DecisionRequest) => void;
  /** Extra status fields (drift, decision log, verification), merged into `/v1/status`. */
  readonly status?: () => Record<string, unknown>;
}

/** The HTTP app and its metrics; no socket (serve.ts binds one). */
export interface App {
  readonly app: Hono;
  readonly metrics: Metrics;
}

/**
 * The decision point's routes. No route changes policy. Bad input gets a 4xx with a reason;
 * anything unexpected gets a 500 that is never a decision, let alone an allow.
 */
export function createApp(runtime: Runtime, options: AppOptions = {}): App {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxBatch = options.maxBatch ?? 1000;
  const clock = options.clock ?? Date.now;
  const metrics = createMetrics(runtime);
  const app = new Hono();
  const limit = bodyLimit({
    maxSize: maxBody,
    onError: (c) => {
      // the unread rest of the body leaves the connection unusable: say so, or a keep-alive
      // client's next (good) request fails on a socket the server is about to drop
      c.header("Connection", "close");
      return fail(
        c,
        new SteleError("server.body_too_large", `request body is larger than ${maxBody} bytes`),
      );
    },
  });

  const fail = (c: Context, e: SteleError) => {
    metrics.requestErrors.inc({ code: e.code });
    const status =
      e.code === "server.body_too_large"
        ? 413
        : e.code === "server.unsupported_media_type"
          ? 415
          : e.status;
    return c.json({ error: e.toJSON() }, status as 400);
  };

  // one decision on the release that was active when the request arrived
  const judge = (active: Active, request: DecisionRequest): DecisionResponse => {
    const now = clock();
    const decision = decide(active.set, request, { now, bundle: active.digest });
    const response = {
      ...denyIfStale(decision),
      id: randomUUID(),
      time: new Date(now).toISOString(),
      env: active.env,
      version: active.version,
    };
    metrics.decisions.inc({ decision: response.decision, policy: "*", effect: response.decision });
    for (const p of response.policies)
      metrics.decisions.inc({ decision: response.decision, policy: p.policy, effect: p.effect });
    options.onDecision?.(response, request);
    return response;
  };

  const denyIfStale = (decision: Decision): Decision => {
    if (
      !(options.failClosedWhenStale && runtime.health === "stale") ||
      decision.decision === "deny"
    )
      return decision;
    const error: ErrorJson & { code: "server.stale" } = {
      code: "server.stale",
      message: "the ledger view is stale; failing closed",
    };
    return { ...decision, decision: "deny", errors: [...decision.errors, error] };
  };

  app.post("/v1/decide", limit, async (c) => {
    const started = performance.now();
    const body = await readJson(c);
    const active = runtime.active;
    if (!active) return notReady(c);
    const response = judge(active, readDecisionRequest(body));
    metrics.latency.observe({ route: "decide" }, (performance.now() - started) / 1000);
    return c.json(response);
  });

  app.post("/v1/decide/batch", limit, async (c) => {
    const started = performance.now();
    const body = await readJson(c);
    const active = runtime.active;
    if (!active) return notReady(c);
    const requests = (body as { requests?: unknown })?.requests;
    if (!Array.isArray(requests) || Object.keys(body as object).some((k) => k !== "requests"))
      throw new SteleError("server.bad_request", 'a batch is `{"requests": [...]}`');
    if (requests.length > maxBatch)
      throw new SteleError(
        "server.bad_request",
        `a batch holds at most ${maxBatch} requests, found ${requests.length}`,
      );
    const results = requests.map((r, i) => {
      try {
        return judge(active, readDecisionRequest(r, `request ${i}`));
      } catch (e) {
        if (!(e instanceof SteleError)) throw e;
        metrics.requestErrors.inc({ code: e.code });
        return { error: e.toJSON() };
      }
    });
    metrics.latency.observe({ route: "batch" }, (performance.now() - started) / 1000);
    return c.json({ env: active.env, version: active.version, bundle: active.digest, results });
  });

  app.post("/v1/admission", limit, async (c) => {
    const started = performance.now();
    const body = await readJson(c);
    const { uid, input } = toAdmissionInput(body);
    const active = runtime.active;
    const policies = c.req.queries("policy");
    const subject = c.req.query("subject");
    const request: DecisionRequest = {
      input,
      ...(policies && policies.length > 0 && { policies }),
      ...(subject !== undefined && { subject }),
    };
    const response = active ? judge(active, request) : undefined;
    metrics.latency.observe({ route: "admission" }, (performance.now() - started) / 1000);
    return c.json(toAdmissionReview(uid, response));
  });

  app.get("/v1/status", (c) => {
    const a = runtime.active;
    return c.json({
      env: runtime.env,
      state: runtime.health,
      ready: a !== undefined,
      version: a?.version ?? null,
      bundle: a?.digest ?? null,
      treeSize: a?.treeSize ?? null,
      verifiedAt: a ? new Date(a.verifiedAt).toISOString() : null,
      lastCheck: runtime.lastCheck !== undefined ? new Date(runtime.lastCheck).toISOString() : null,
      reason: runtime.reason ?? null,
      ...options.status?.(),
    });
  });

  app.get("/metrics", async (c) => {
    c.header("Content-Type", metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/readyz", (c) =>
    runtime.active
      ? c.json({ ready: true })
      : c.json({ ready: false, reason: runtime.reason ?? "no verified release yet" }, 503),
  );

  app.notFound((c) =>
    fail(c, new SteleError("server.bad_request", `no route \`${c.req.method} ${c.req.path}\``)),
  );
  app.onError((e, c) => {
    if (e instanceof SteleError) return fail(c, e);
    console.error(
      JSON.stringify({ level: "error", msg: "internal error", error: String(e), stack: e.stack }),
    );
    metrics.requestErrors.inc({ code: "internal" });
    return c.json(
      { error: { code: "internal", message: "internal error; the request was not decided" } },
      500,
    );
  });
  return { app, metrics };
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type))
    throw new SteleError(
      "server.unsupported_media_type",
      `content type must be application/json, found \`${type || "none"}\``,
    );
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new SteleError("server.bad_request", "request body is not valid JSON");
  }
}

function notReady(c: Context) {
  // DESIGN: until a release verifies, every decision is a deny with a reason
  return c.json(
    {
      decision: "deny",
      policies: [],
      warnings: [],
      exceptions: [],
      errors: [{ code: "server.not_ready", message: "no verified release is loaded yet" }],
      bundle: null,
    },
    503,
  );
}
