import { Counter, Gauge, type Metric, type MetricValue, Registry } from "prom-client";
import type { Runtime } from "./runtime.js";

/** The decision point's Prometheus metrics, in a registry of its own. */
export interface Metrics {
  readonly registry: Registry;
  readonly decisions: Counter<"decision" | "policy" | "effect">;
  readonly latency: RouteLatency;
  readonly requestErrors: Counter<"code">;
  readonly verificationFailures: Counter<"reason">;
  readonly decisionLogDrops: Counter;
  readonly decisionLogAppended: Counter;
  /** Where `stele_decision_log_pending` reads how many decisions wait to be written. */
  watchDecisionLog(pending: () => number): void;
  /** Counts one decision (or one policy's effect in it); cheap enough for every request. */
  countDecision(decision: string, policy: string, effect: string): void;
  /** Observes one request's latency on a route. */
  observeLatency(route: string, seconds: number): void;
}

/** Creates the metrics; gauges read the runtime when scraped. */
export function createMetrics(runtime: Runtime): Metrics {
  const registry = new Registry();
  // decision → policy → effect → count, kept as plain numbers and handed over when scraped:
  // labelled increments hash their labels on every call, and there is one per policy per request
  const counts = new Map<string, Map<string, Map<string, number>>>();
  const countDecision = (decision: string, policy: string, effect: string) => {
    let byPolicy = counts.get(decision);
    if (!byPolicy) {
      byPolicy = new Map();
      counts.set(decision, byPolicy);
    }
    let byEffect = byPolicy.get(policy);
    if (!byEffect) {
      byEffect = new Map();
      byPolicy.set(policy, byEffect);
    }
    byEffect.set(effect, (byEffect.get(effect) ?? 0) + 1);
  };
  const decisions = new Counter({
    name: "stele_decisions_total",
    help: "Decisions made, by outcome and by each policy's effect",
    labelNames: ["decision", "policy", "effect"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [decision, byPolicy] of counts)
        for (const [policy, byEffect] of byPolicy)
          for (const [effect, n] of byEffect) this.inc({ decision, policy, effect }, n);
    },
  });
  const latency = new RouteLatency();
  // the registry writes any metric that has a name, help, type and get(): prom-client's types
  // name only its own classes
  registry.registerMetric(latency as unknown as Metric);
  const requestErrors = new Counter({
    name: "stele_request_errors_total",
    help: "Requests refused or failed, by error code",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  const verificationFailures = new Counter({
    name: "stele_verification_failures_total",
    help: "Releases or stored objects that failed verification, by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const decisionLogDrops = new Counter({
    name: "stele_decision_log_dropped_total",
    help: "Decisions not written to the decision log: it could not keep up, or could not serialize one",
    registers: [registry],
  });
  const decisionLogAppended = new Counter({
    name: "stele_decision_log_appended_total",
    help: "Decisions written to the decision log",
    registers: [registry],
  });
  let pending: (() => number) | undefined;
  new Gauge({
    name: "stele_decision_log_pending",
    help: "Decisions queued for the decision log and not written yet (a store falling behind)",
    registers: [registry],
    collect() {
      this.set(pending?.() ?? 0);
    },
  });
  new Gauge({
    name: "stele_bundle_info",
    help: "The release being served (value 1), labelled by env, version and digest",
    labelNames: ["env", "version", "digest"] as const,
    registers: [registry],
    collect() {
      this.reset();
      const a = runtime.active;
      if (a) this.set({ env: a.env, version: String(a.version), digest: a.digest }, 1);
    },
  });
  new Gauge({
    name: "stele_ready",
    help: "1 when a verified release is being served",
    registers: [registry],
    collect() {
      this.set(runtime.active ? 1 : 0);
    },
  });
  new Gauge({
    name: "stele_health",
    help: "The decision point's state (value 1 on the current state)",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.set({ state: runtime.health }, 1);
    },
  });
  new Gauge({
    name: "stele_clock_behind_seconds",
    help: "How far the clock was behind the latest time this decision point trusted (0 when not)",
    registers: [registry],
    collect() {
      this.set(runtime.clockBehindMs / 1000);
    },
  });
  new Gauge({
    name: "stele_ledger_age_seconds",
    help: "Seconds since the ledger was last read and verified",
    registers: [registry],
    collect() {
      if (runtime.lastLedgerRead !== undefined)
        this.set((Date.now() - runtime.lastLedgerRead) / 1000);
    },
  });
  return {
    registry,
    decisions,
    latency,
    requestErrors,
    verificationFailures,
    decisionLogDrops,
    decisionLogAppended,
    watchDecisionLog: (source) => {
      pending = source;
    },
    countDecision,
    observeLatency: (route, seconds) => latency.observe(route, seconds),
  };
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];

/**
 * `stele_decision_duration_seconds`, a Prometheus histogram by route, kept as plain numbers and
 * written out when scraped, as prom-client writes its own: a prom-client histogram hashes its
 * labels on every observation, and there is one per request.
 */
export class RouteLatency {
  readonly name = "stele_decision_duration_seconds";
  readonly help = "Time to answer a decision request";
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #routes = new Map<string, { counts: number[]; sum: number; count: number }>();

  observe(route: string, seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    let r = this.#routes.get(route);
    if (!r) {
      r = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#routes.set(route, r);
    }
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
    if (i < LATENCY_BUCKETS.length) r.counts[i] = (r.counts[i] as number) + 1;
    r.sum += seconds;
    r.count++;
  }

  async get() {
    const values: MetricValue<string>[] = [];
    for (const [route, r] of this.#routes) {
      let cumulative = 0;
      for (const [i, le] of LATENCY_BUCKETS.entries()) {
        cumulative += r.counts[i] as number;
        values.push(this.#value("bucket", { le, route }, cumulative));
      }
      values.push(this.#value("bucket", { le: "+Inf", route }, r.count));
      values.push(this.#value("sum", { route }, r.sum));
      values.push(this.#value("count", { route }, r.count));
    }
    return {
      name: this.name,
      help: this.help,
      type: "histogram" as never,
      values,
      aggregator: "sum",
    };
  }

  reset(): void {
    this.#routes.clear();
  }

  #value(
    part: string,
    labels: Record<string, string | number>,
    value: number,
  ): MetricValue<string> {
    return { labels, value, metricName: `${this.name}_${part}` } as MetricValue<string>;
  }
}
