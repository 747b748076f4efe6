import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from "node:http";
import { getRequestListener } from "@hono/node-server";
import type { App, Reply } from "./app.js";

// the decision routes straight on node:http: the body read as bytes with a running limit, the
// reply written as one JSON string. Web Request and stream objects per call cost more than the
// decision itself; every other route (status, metrics, probes) goes through Hono.

/** An HTTP server (not listening yet) answering every route of `app`. */
export function createHttpServer(app: App): Server {
  return createServer(createListener(app, getRequestListener(app.app.fetch)));
}

/** A request listener answering the POST routes itself and handing the rest to `fallback`. */
export function createListener(app: App, fallback: RequestListener): RequestListener {
  const max = app.maxBodyBytes;
  return (req, res) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    if (req.method !== "POST" || !app.routes.has(path)) {
      fallback(req, res);
      return;
    }
    const declared = Number(req.headers["content-length"]);
    if (declared > max) {
      // never read: the declared body alone is over the limit
      write(res, app.tooLarge());
      req.resume();
      return;
    }
    readBody(req, max, (bytes) => {
      if (bytes === undefined) {
        write(res, app.tooLarge());
        return;
      }
      const reply = app.post({
        path,
        contentType: req.headers["content-type"],
        body: bytes.toString("utf8"),
        bytes,
        query: new URLSearchParams(q < 0 ? "" : url.slice(q + 1)),
      }) as Reply;
      write(res, reply);
    });
  };
}

// the body's bytes, or undefined once it passes `max` bytes (the rest is drained, not kept)
function readBody(req: IncomingMessage, max: number, done: (body: Buffer | undefined) => void) {
  let first: Buffer | undefined;
  let more: Buffer[] | undefined;
  let size = 0;
  let over = false;
  req.on("data", (chunk: Buffer) => {
    if (over) return;
    size += chunk.length;
    if (size > max) {
      over = true;
      first = undefined;
      more = undefined;
      done(undefined);
      return;
    }
    if (first === undefined) first = chunk;
    else if (more === undefined) more = [first, chunk];
    else more.push(chunk);
  });
  req.on("end", () => {
    if (over) return;
    done(more ? Buffer.concat(more, size) : (first ?? Buffer.alloc(0)));
  });
  req.on("error", () => {
    // the client went away mid-body: nothing to answer
    over = true;
  });
}

function write(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const body = reply.body;
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  };
  if (reply.close) headers.connection = "close";
  res.writeHead(reply.status, headers);
  res.end(body);
}
