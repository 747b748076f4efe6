import { randomUUID } from "node:crypto";
import { type Context, Hono } from "hono";
import { type Decision, type DecisionRequest, decide } from "../engine/index.js";
import { type Code, type ErrorJson, SteleError } from "../errors.js";
import { toAdmissionInput, toAdmissionReview } from "./admission.js";
import { createMetrics, type Metrics } from "./metrics.js";
import type { Active, Runtime } from "./runtime.js";
import {
  type DecisionResponse,
  readDecisionRequest,
  type ServeStatus,
  type Status,
} from "./wire.js";

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
  /**
   * Called with every decision made (the decision log): the response, the request, the engine's
   * decision the response was made from (frozen when the engine shares it between requests with
   * one outcome: the log serializes such a decision once), and the request's JSON text or UTF-8
   * bytes when the route has them (a decide body).
   */
  readonly onDecision?: (
    response: DecisionResponse,
    request: DecisionRequest,
    decision: Decision,
    requestBody: string | Uint8Array | undefined,
  ) => void;
  /** What `stele serve` adds to `/v1/status` (its ledger view, its decision log). */
  readonly status?: () => ServeStatus;
}

/** What a POST route answers, before the transport (http.ts) writes it. */
export interface Reply {
  readonly status: number;
  /** JSON text. */
  readonly body: string;
  /** The connection cannot be reused (an unread body is left on it). */
  readonly close?: boolean;
}

const reply = (status: number, value: unknown): Reply => ({
  status,
  body: JSON.stringify(value),
});

/** A POST route's request, as any transport hands it over. */
export interface PostRequest {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: string;
  /** The body's bytes, when the transport has them (`body` is their UTF-8 decoding). */
  readonly bytes?: Uint8Array | undefined;
  readonly query: URLSearchParams;
}

/** The HTTP app and its metrics; no socket (http.ts serves it). */
export interface App {
  /** The GET routes (status, metrics, probes), and every answer to an unknown route. */
  readonly app: Hono;
  readonly metrics: Metrics;
  /** The paths of the POST routes, which `post` answers. */
  readonly routes: ReadonlySet<string>;
  /** The POST routes; undefined for a path that is not one. Never throws. */
  post(request: PostRequest): Reply | undefined;
  /** The reply to a body over the size limit. */
  tooLarge(): Reply;
  readonly maxBodyBytes: number;
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
  const failure = (e: SteleError): Reply => {
    metrics.requestErrors.inc({ code: e.code });
    const status = HTTP_STATUS[e.code] ?? e.status;
    return reply(status, { error: e.toJSON() });
  };
  const tooLarge = (): Reply => ({
    ...failure(
      new SteleError("server.body_too_large", `request body is larger than ${maxBody} bytes`),
    ),
    // the unread rest of the body leaves the connection unusable: say so, or a keep-alive
    // client's next (good) request fails on a socket the server is about to drop
    close: true,
  });
  // anything unexpected: logged and counted, and never a decision, let alone an allow
  const internalError = (e: unknown): ErrorJson => {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "internal error",
        error: String(e),
        stack: e instanceof Error ? e.stack : undefined,
      }),
    );
    metrics.requestErrors.inc({ code: "internal" });
    return { code: "internal", message: "internal error; the request was not decided" };
  };
  const internal = (e: unknown): Reply => reply(500, { error: internalError(e) });

  // decisions in the same millisecond share one timestamp string
  let stampedAt = Number.NaN;
  let stamp = "";
  const timestamp = (now: number) => {
    if (now !== stampedAt) {
      stampedAt = now;
      stamp = new Date(now).toISOString();
    }
    return stamp;
  };

  // one decision on the release that was active when the request arrived; `requestBody` is the
  // request's JSON (text or bytes), when the caller sends the response alone: the response is
  // serialized here, and the decision log takes the request's text as it is
  const judge = (
    active: Active,
    request: DecisionRequest,
    {
      requestBody,
      admission = false,
    }: { requestBody?: string | Uint8Array; admission?: boolean } = {},
  ): { response: DecisionResponse; text: string | undefined } => {
    // never before the latest time this decision point trusted (a clock turned back)
    const now = Math.max(clock(), runtime.trustedTime);
    const d = denyIfStale(decide(active.set, request, { now, bundle: active.digest }));
    // an input past the project's limits was refused before any policy ran: bad input, a 4xx
    // with the limit it broke, not a decision (an admission review is answered with a denial)
    const [problem] = d.errors;
    if (!admission && d.policies.length === 0 && problem && OVER_LIMITS.has(problem.code))
      throw new SteleError(problem.code, problem.message, {
        hint: "the project's `limits` in stele.yaml (`maxInputDepth`, `maxInputBytes`) bound every input",
      });
    const response: DecisionResponse = {
      decision: d.decision,
      policies: d.policies,
      warnings: d.warnings,
      exceptions: d.exceptions,
      errors: d.errors,
      bundle: d.bundle,
      id: randomUUID(),
      time: timestamp(now),
      env: active.env,
      version: active.version,
    };
    metrics.countDecision(response.decision, "*", response.decision);
    for (const p of response.policies) metrics.countDecision(response.decision, p.policy, p.effect);
    const text =
      requestBody !== undefined
        ? `${decisionJson(d)},"id":${JSON.stringify(response.id)},"time":${JSON.stringify(response.time)},"env":${JSON.stringify(response.env)},"version":${JSON.stringify(response.version)}}`
        : undefined;
    options.onDecision?.(response, request, d, requestBody);
    return { response, text };
  };

  // a response's JSON is JSON.stringify(response): the decision's fields, then the request's own
  // (id, time, env, version). A decision the engine shares between requests (frozen: every
  // input with the same clean outcome gets it) has its part written once.
  const decisionTexts = new WeakMap<Decision, string>();
  const decisionJson = (d: Decision): string => {
    let text = Object.isFrozen(d) ? decisionTexts.get(d) : undefined;
    if (text === undefined) {
      const { decision, policies, warnings, exceptions, errors, bundle } = d;
      // without its closing brace: the request's fields follow
      text = JSON.stringify({ decision, policies, warnings, exceptions, errors, bundle }).slice(
        0,
        -1,
      );
      if (Object.isFrozen(d)) decisionTexts.set(d, text);
    }
    return text;
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

  const decideRoute = (post: PostRequest): Reply => {
    const started = performance.now();
    const body = parseJson(post);
    const active = runtime.active;
    if (!active) return notReady();
    const { text } = judge(active, readDecisionRequest(body), {
      requestBody: post.bytes ?? post.body,
    });
    metrics.observeLatency("decide", (performance.now() - started) / 1000);
    return { status: 200, body: text as string };
  };

  const batchRoute = (post: PostRequest): Reply => {
    const started = performance.now();
    const body = parseJson(post);
    const active = runtime.active;
    if (!active) return notReady();
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
        return judge(active, readDecisionRequest(r, `request ${i}`)).response;
      } catch (e) {
        // each request answered for itself: the ones decided (and logged) stay decided, and a
        // failure is never a decision
        if (!(e instanceof SteleError)) return { error: internalError(e) };
        metrics.requestErrors.inc({ code: e.code });
        return { error: e.toJSON() };
      }
    });
    metrics.observeLatency("batch", (performance.now() - started) / 1000);
    return reply(200, { env: active.env, version: active.version, bundle: active.digest, results });
  };

  const admissionRoute = (post: PostRequest): Reply => {
    const started = performance.now();
    const { uid, input } = toAdmissionInput(parseJson(post));
    const active = runtime.active;
    const policies = post.query.getAll("policy");
    const subject = post.query.get("subject") ?? undefined;
    const request: DecisionRequest = {
      input,
      ...(policies.length > 0 && { policies }),
      ...(subject !== undefined && { subject }),
    };
    const response = active ? judge(active, request, { admission: true }).response : undefined;
    metrics.observeLatency("admission", (performance.now() - started) / 1000);
    return reply(200, toAdmissionReview(uid, response));
  };

  const routes = new Map([
    ["/v1/decide", decideRoute],
    ["/v1/decide/batch", batchRoute],
    ["/v1/admission", admissionRoute],
  ]);
  const post = (request: PostRequest): Reply | undefined => {
    const route = routes.get(request.path);
    if (!route) return undefined;
    try {
      return route(request);
    } catch (e) {
      return e instanceof SteleError ? failure(e) : internal(e);
    }
  };

  // the routes read with GET (each is also named in the 405 and 404 answers below)
  const gets: Record<string, (c: Context) => Response | Promise<Response>> = {
    "/v1/status": (c) => {
      const a = runtime.active;
      const status: Status = {
        env: runtime.env,
        state: runtime.health,
        ready: a !== undefined,
        version: a?.version ?? null,
        bundle: a?.digest ?? null,
        treeSize: a?.treeSize ?? null,
        verifiedAt: a ? new Date(a.verifiedAt).toISOString() : null,
        lastCheck:
          runtime.lastCheck !== undefined ? new Date(runtime.lastCheck).toISOString() : null,
        reason: runtime.reason ?? null,
        clock: {
          behindSeconds: runtime.clockBehindMs / 1000,
          trustedTime: runtime.trustedTime > 0 ? new Date(runtime.trustedTime).toISOString() : null,
        },
        drift: ownDrift(runtime),
      };
      return c.json({ ...status, ...options.status?.() });
    },
    "/metrics": async (c) => {
      c.header("Content-Type", metrics.registry.contentType);
      return c.body(await metrics.registry.metrics());
    },
    "/healthz": (c) => c.json({ ok: true }),
    // DESIGN promise 6: a view of the ledger older than its freshness is no ground to serve on
    "/readyz": (c) => {
      if (!runtime.active)
        return c.json({ ready: false, reason: runtime.reason ?? "no verified release yet" }, 503);
      if (runtime.health === "stale")
        return c.json(
          {
            ready: false,
            reason: `its view of the ledger is older than its freshness limit (--max-staleness)${runtime.reason ? `: ${runtime.reason}` : ""}`,
          },
          503,
        );
      return c.json({ ready: true });
    },
  };
  for (const [path, handler] of Object.entries(gets)) app.get(path, handler);

  // a path it serves asked with another method: 405, naming the one it takes; else 404
  app.notFound((c) => {
    const allow = routes.has(c.req.path)
      ? "POST"
      : Object.hasOwn(gets, c.req.path)
        ? "GET"
        : undefined;
    const asked = `\`${c.req.method} ${c.req.path}\``;
    const r = failure(
      allow
        ? new SteleError("server.method_not_allowed", `${asked}: ${c.req.path} takes ${allow}`, {
            hint: `send ${allow} ${c.req.path}`,
          })
        : new SteleError("server.no_route", `no route ${asked}`, {
            hint: `routes: POST ${[...routes.keys()].join(", ")}; GET ${Object.keys(gets).join(", ")}`,
          }),
    );
    if (allow) c.header("Allow", allow);
    return send(c, r);
  });
  app.onError((e, c) => send(c, e instanceof SteleError ? failure(e) : internal(e)));
  return {
    app,
    metrics,
    routes: new Set(routes.keys()),
    post,
    tooLarge,
    maxBodyBytes: maxBody,
  };
}

// what a decision point can tell of its own drift (DESIGN promise 7): what it runs against the
// latest release of its env it read, and the health of that view
function ownDrift(runtime: Runtime): Status["drift"] {
  const a = runtime.active;
  const why = runtime.reason ? `: ${runtime.reason}` : "";
  if (runtime.health === "tampered")
    return { status: "tampered", detail: `it found tampering${why}` };
  if (runtime.health === "stale")
    return { status: "stale", detail: "its view of the ledger is older than its freshness limit" };
  if (!a) return { status: "stale", detail: `serves no release yet${why}` };
  if (runtime.health === "refusing")
    return {
      status: "stale",
      detail: `runs v${a.version}; it refused what the ledger has since${why}`,
    };
  return {
    status: "in-sync",
    detail: `runs v${a.version}, the latest release of \`${a.env}\` it read from the ledger`,
  };
}

// the problems of an input past the project's limits (language/input-limits.ts)
const OVER_LIMITS: ReadonlySet<string> = new Set([
  "engine.input_too_deep",
  "engine.input_too_large",
]);

// errors whose HTTP status says more than their kind's 400
const HTTP_STATUS: Partial<Record<Code, number>> = {
  "server.no_route": 404,
  "server.method_not_allowed": 405,
  "server.body_too_large": 413,
  "server.unsupported_media_type": 415,
};

function send(c: Context, r: Reply) {
  return c.body(r.body, r.status as 200, { "Content-Type": "application/json" });
}

function parseJson({ body, contentType: type }: PostRequest): unknown {
  if (!/^application\/json\s*(;|$)/i.test(type ?? ""))
    throw new SteleError(
      "server.unsupported_media_type",
      `content type must be application/json, found \`${type || "none"}\``,
      {
        hint: "send the header `Content-Type: application/json` (curl: -H 'content-type: application/json')",
      },
    );
  try {
    return JSON.parse(body);
  } catch {
    throw new SteleError("server.bad_request", "request body is not valid JSON");
  }
}

// DESIGN: until a release verifies, every decision is a deny with a reason
function notReady(): Reply {
  return reply(503, {
    decision: "deny",
    policies: [],
    warnings: [],
    exceptions: [],
    errors: [{ code: "server.not_ready", message: "no verified release is loaded yet" }],
    bundle: null,
  });
}
