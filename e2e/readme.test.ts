import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../src/testing/index.js";

test("the README names the two quick-start commands", () => {
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  assert.match(readme, /^npm ci && npm start$/m);
  assert.match(readme, /^npm ci && npm test$/m);
});

test("npm start's main job checks, builds, approves, releases and serves the api example", () => {
  // the same script `npm start` runs, asked to make one decision and stop
  const r = spawnSync(process.execPath, [join(repoRoot, "dist", "scripts", "demo.js"), "--once"], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\$ stele release build\/api\.bundle\.json --env staging/);
  assert.match(r.stdout, /curl -s http:\/\/127\.0\.0\.1:\d+\/v1\/decide/);
  assert.match(r.stdout, /"decision": "allow"/);
  assert.match(r.stdout, /"version": 1/);
});
