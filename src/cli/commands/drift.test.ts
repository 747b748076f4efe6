import assert from "node:assert/strict";
import { test } from "node:test";
import type { DriftReport, PdpDrift } from "../../drift/index.js";
import { drift } from "./drift.js";

const pdp = (n: number, status: PdpDrift["status"]): PdpDrift => ({
  pdp: `pdp-prod-${String(n).padStart(16, "0")}`,
  url: status === "stopped" ? null : `http://10.0.0.${n}:8181`,
  status,
  version: 3,
  bundle: "sha256:ab",
  detail: status === "stopped" ? "stopped 2d ago, running v3" : "runs v3",
});

const report = (pdps: PdpDrift[]): DriftReport => ({
  drift: false,
  envs: [{ env: "prod", version: 3, bundle: "sha256:ab", pdps }],
});

test("drift's table lists a few stopped decision points one by one, and many in one line", () => {
  const few = drift.human(report([pdp(1, "in-sync"), pdp(2, "stopped"), pdp(3, "stopped")]));
  assert.equal(few.match(/^ {2}stopped /gm)?.length, 2);
  // pods come and go: forty that stopped on purpose do not bury the one that runs
  const many = drift.human(
    report([pdp(1, "in-sync"), ...Array.from({ length: 40 }, (_, i) => pdp(i + 2, "stopped"))]),
  );
  const lines = many.split("\n");
  assert.equal(lines.filter((l) => l.startsWith("  stopped ")).length, 1, many);
  assert.match(
    many,
    /^ {2}stopped {4}40 decision points that stopped on purpose: no drift \(--json lists them\)$/m,
  );
  assert.match(many, /^ {2}in-sync {4}pdp-prod-0+1 \(http:\/\/10\.0\.0\.1:8181\): runs v3$/m);
});
