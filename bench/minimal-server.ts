// The Node limit for `npm run bench:server`: a bare node:http server that reads a Stele decide
// body (`{"input": …}`), answers `handwritten(input)` as JSON and does nothing else. It prints
// `listening <port>` on standard output once bound to 127.0.0.1 (port from argv, default 0).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { handwritten } from "./api-workload.js";

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    let body: string;
    let status = 200;
    try {
      const { input } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { input: unknown };
      body = JSON.stringify(handwritten(input));
    } catch (e) {
      status = 400;
      body = JSON.stringify({ error: { code: "server.bad_request", message: String(e) } });
    }
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  });
});

server.listen(Number(process.argv[2] ?? "0"), "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
