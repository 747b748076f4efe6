// npm start: Stele's main job on the examples, on the embedded default store: check and test
// every example, build the `api` example's bundle, and judge two requests with it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliPath, repoRoot } from "../src/testing/index.js";

function stele(args: readonly string[], cwd = repoRoot): string {
  console.log(`\n$ stele ${args.join(" ")}`);
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd, encoding: "utf8" });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) {
    console.error(`stele ${args[0]} exited ${r.status}`);
    process.exit(r.status ?? 1);
  }
  return r.stdout;
}

const work = mkdtempSync(join(tmpdir(), "stele-demo-"));
for (const example of ["kubernetes", "database", "api"]) {
  stele(["check", `examples/${example}`]);
  stele(["test", `examples/${example}`]);
}
const bundle = join(work, "api.bundle.json");
stele(["build", "examples/api", "-o", bundle]);

const request = (overrides: Record<string, unknown>) => ({
  env: "prod",
  action: "read",
  principal: { id: "ana", roles: ["reader"], department: "finance", clearance: 2, mfa: true },
  resource: { type: "report", id: "r-1", owner: "ben", department: "finance", classification: 1 },
  ...overrides,
});
const allowed = join(work, "read.json");
writeFileSync(allowed, JSON.stringify(request({})));
const denied = join(work, "delete.json");
writeFileSync(denied, JSON.stringify(request({ action: "delete" })));
stele(["eval", bundle, "--input", allowed]);
stele(["eval", bundle, "--input", denied]);
console.log(`\nbundle and inputs are in ${work}`);
