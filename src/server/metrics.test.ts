import assert from "node:assert/strict";
import { test } from "node:test";
import { Histogram, Registry } from "prom-client";
import { createMetrics } from "./metrics.js";
import { Runtime } from "./runtime.js";

// the latency histogram is kept by hand (prom-client's hashes its labels on every observation):
// what it writes must be what prom-client's own histogram writes for the same observations

test("the latency histogram reads as prom-client's own histogram of the same observations", async () => {
  const metrics = createMetrics(new Runtime("test"));
  const reference = new Histogram({
    name: "stele_decision_duration_seconds",
    help: "Time to answer a decision request",
    labelNames: ["route"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1],
    registers: [new Registry()],
  });
  const seen = [0, 0.00005, 0.0001, 0.0003, 0.001, 0.004, 0.02, 0.5, 1, 3, 0.0025];
  for (const [i, seconds] of seen.entries()) {
    const route = i % 3 === 0 ? "batch" : "decide";
    metrics.observeLatency(route, seconds);
    reference.observe({ route }, seconds);
  }
  metrics.observeLatency("decide", Number.NaN);
  const ours = await metrics.registry.getSingleMetricAsString("stele_decision_duration_seconds");
  const theirs = await reference.get();
  const lines = (text: string) =>
    text
      .split("\n")
      .filter((l) => !l.startsWith("#"))
      .sort();
  const expected = theirs.values.map((v) => {
    const labels = Object.entries(v.labels)
      .sort(([a], [b]) => (a === "le" ? -1 : b === "le" ? 1 : a.localeCompare(b)))
      .map(([k, x]) => `${k}="${x}"`)
      .join(",");
    return `${v.metricName}{${labels}} ${v.value}`;
  });
  assert.deepEqual(lines(ours), expected.sort());
  assert.match(ours, /^# TYPE stele_decision_duration_seconds histogram$/m);
});
