import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { getRequestListener } from "@hono/node-server";
import { DEFAULT_LIMITS, type PolicySet } from "../language/index.js";
import { createApp } from "./app.js";
import { createListener } from "./http.js";
import { Runtime } from "./runtime.js";

// the decision routes straight on node:http, on a real socket: bodies in any number of chunks
// (a character split between two of them), the size limit to the byte, and the other routes
// still answered through Hono

const at = { file: "p.yaml", line: 1, col: 1 };
const SET: PolicySet = {
  project: {
    name: "t",
    reviewers: [],
    environments: [],
    exceptions: { maxDuration: "7d", maxDurationMs: 7 * 86_400_000 },
    limits: DEFAULT_LIMITS,
  },
  policies: [
    {
      name: "names",
      description: undefined,
      subject: undefined,
      default: "allow",
      position: at,
      rules: [
        {
          name: "no-eve",
          effect: "deny",
          enforcement: "enforce",
          message: "not eve",
          position: at,
          when: { source: "…", test: (i) => (i as { who?: string }).who === "ève" },
        },
      ],
    },
  ],
  exceptions: [],
  tests: [],
  schemas: {},
};

const MAX = 2048;

async function serve() {
  const runtime = new Runtime("prod");
  runtime.activate({
    env: "prod",
    version: 1,
    digest: `sha256:${"b".repeat(64)}`,
    set: SET,
    bytes: Buffer.from(""),
    treeSize: 1,
    checkpoint: "",
    verifiedAt: Date.now(),
  });
  const app = createApp(runtime, { maxBodyBytes: MAX });
  const server = createServer(createListener(app, getRequestListener(app.app.fetch)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, close: () => new Promise((resolve) => server.close(resolve)) };
}

// a POST whose body goes out in the given pieces (chunked: no content-length)
function post(
  port: number,
  path: string,
  pieces: readonly Buffer[],
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
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
  const s = await serve();
  try {
    const body = Buffer.from(JSON.stringify({ input: { who: "ève" } }));
    const split = body.indexOf(0xc3) + 1; // between the two bytes of è
    const r = await post(s.port, "/v1/decide", [body.subarray(0, split), body.subarray(split)]);
    assert.equal(r.status, 200, r.body);
    const d = JSON.parse(r.body);
    assert.equal(d.decision, "deny");
    assert.deepEqual(d.policies[0].matched, ["no-eve"]);
    const many = [...body].map((b) => Buffer.of(b)).slice(0, 40);
    const rest = body.subarray(40);
    const r2 = await post(s.port, "/v1/decide?x=1", [...many, rest]);
    assert.equal(JSON.parse(r2.body).decision, "deny");
  } finally {
    await s.close();
  }
});

test("the size limit holds to the byte, declared or not, and a refused body closes the connection", async () => {
  const s = await serve();
  try {
    const sized = (n: number) => {
      const head = '{"input":{"who":"';
      const tail = '"}}';
      return Buffer.from(head + "a".repeat(n - head.length - tail.length) + tail);
    };
    const exact = await post(s.port, "/v1/decide", [sized(MAX)]);
    assert.equal(exact.status, 200, exact.body);
    const over = await post(s.port, "/v1/decide", [
      sized(MAX).subarray(0, 1000),
      sized(MAX + 1).subarray(1000),
    ]);
    assert.equal(over.status, 413);
    assert.equal(JSON.parse(over.body).error.code, "server.body_too_large");
    assert.equal(over.headers.connection, "close");
    const declared = await post(s.port, "/v1/decide", [sized(MAX + 1)], {
      "content-length": String(MAX + 1),
    });
    assert.equal(declared.status, 413);
  } finally {
    await s.close();
  }
});

test("wrong content type and bad JSON get 4xx; other routes answer through Hono", async () => {
  const s = await serve();
  try {
    const type = await post(s.port, "/v1/decide", [Buffer.from("{}")], {
      "content-type": "text/plain",
    });
    assert.equal(type.status, 415);
    const bad = await post(s.port, "/v1/decide", [Buffer.from("{bad")]);
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error.code, "server.bad_request");
    const status = await fetch(`http://127.0.0.1:${s.port}/v1/status`);
    assert.equal(status.status, 200);
    assert.equal(((await status.json()) as { version: number }).version, 1);
    const unknown = await post(s.port, "/v1/nope", [Buffer.from("{}")]);
    assert.equal(unknown.status, 400);
  } finally {
    await s.close();
  }
});
