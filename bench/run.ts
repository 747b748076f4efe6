// npm run bench: the compiled engine against hand-written JS and @marcbachmann/cel-js on the
// `api` example. Correctness first (all three agree on every input), then interleaved rounds
// with a fixed iteration count, printed as ratios measured in this same run.
import { loadavg } from "node:os";
import { join } from "node:path";
import { Environment } from "@marcbachmann/cel-js";
import { decide } from "../src/engine/index.js";
import { compile, type PolicySet, readSources } from "../src/language/index.js";
import { repoRoot } from "../src/testing/index.js";
import { handwritten, makeInputs } from "./api-workload.js";

type Decide = (input: unknown) => { decision: string; matched: readonly string[] };

async function loadApi(): Promise<PolicySet> {
  const result = compile(await readSources(join(repoRoot, "examples", "api")), { now: Date.now() });
  if (!result.ok)
    throw new Error(`examples/api does not compile: ${JSON.stringify(result.diagnostics)}`);
  return result.set;
}

// the library's own evaluator, with the same combining as the engine (no exception applies)
function celJs(set: PolicySet): Decide {
  const env = new Environment({ unlistedVariablesAreDyn: true });
  const policies = set.policies.map((p) => ({
    default: p.default,
    rules: p.rules
      .filter((r) => r.enforcement === "enforce")
      .map((r) => ({ name: r.name, effect: r.effect, run: env.parse(r.when.source) })),
  }));
  return (input) => {
    const matched: string[] = [];
    let decision = "allow";
    for (const p of policies) {
      let denied = false;
      let allowed = false;
      for (const r of p.rules) {
        let hit: boolean;
        try {
          hit = r.run({ input }) === true;
        } catch {
          hit = r.effect === "deny";
        }
        if (!hit) continue;
        matched.push(r.name);
        if (r.effect === "deny") denied = true;
        else allowed = true;
      }
      const effect = denied ? "deny" : allowed ? "allow" : p.default;
      if (effect === "deny") decision = "deny";
    }
    return { decision, matched };
  };
}

function checkAgreement(inputs: readonly unknown[], candidates: Record<string, Decide>): void {
  const names = Object.keys(candidates);
  let allow = 0;
  for (const input of inputs) {
    const results = names.map((n) => candidates[n]?.(input));
    const want = JSON.stringify(results[0]);
    for (let i = 1; i < results.length; i++) {
      if (JSON.stringify(results[i]) !== want)
        throw new Error(
          `disagreement on ${JSON.stringify(input)}:\n${names.map((n, j) => `  ${n}: ${JSON.stringify(results[j])}`).join("\n")}`,
        );
    }
    if (results[0]?.decision === "allow") allow++;
  }
  console.log(
    `correctness: ${names.join(", ")} agree on all ${inputs.length} inputs (${allow} allow, ${inputs.length - allow} deny)`,
  );
}

// decisions per second over `repeat` passes of the inputs; every result is consumed
function throughput(fn: Decide, inputs: readonly unknown[], repeat: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let r = 0; r < repeat; r++) for (const input of inputs) sink += fn(input).decision.length;
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === 0) throw new Error("no result consumed");
  return (inputs.length * repeat) / (ns / 1e9);
}

function latencies(fn: Decide, inputs: readonly unknown[]): { p50: number; p99: number } {
  const ns: number[] = [];
  for (const input of inputs) {
    const start = process.hrtime.bigint();
    fn(input);
    ns.push(Number(process.hrtime.bigint() - start));
  }
  ns.sort((a, b) => a - b);
  return { p50: ns[Math.floor(ns.length * 0.5)] ?? 0, p99: ns[Math.floor(ns.length * 0.99)] ?? 0 };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const set = await loadApi();
  const inputs = makeInputs(10_000, 1);
  // one time for every decision of the run, as a caller judging a set of inputs passes it
  const options = { now: Date.now() };
  const engine: Decide = (input) => {
    const d = decide(set, { input }, options);
    // one policy judges the api example: its matched list is the decision's
    const only = d.policies.length === 1 ? d.policies[0] : undefined;
    const matched = only ? only.matched : d.policies.flatMap((p) => p.matched);
    return { decision: d.decision, matched };
  };
  const candidates: Record<string, Decide> = { handwritten, engine, "cel-js": celJs(set) };
  checkAgreement(inputs, candidates);

  const rounds = 7;
  const repeat: Record<string, number> = { handwritten: 20, engine: 20, "cel-js": 1 };
  const rates: Record<string, number[]> = { handwritten: [], engine: [], "cel-js": [] };
  for (const fn of Object.values(candidates)) throughput(fn, inputs, 1); // warm up
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of Object.entries(candidates))
      rates[name]?.push(throughput(fn, inputs, repeat[name] ?? 1));
  }
  const rate = (n: string) => median(rates[n] ?? []);
  console.log(
    `load average: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} (shared machine: absolute numbers drift, ratios less so)`,
  );
  for (const [name, fn] of Object.entries(candidates)) {
    const { p50, p99 } = latencies(fn, inputs);
    console.log(
      `${name.padEnd(12)} ${(rate(name) / 1e6).toFixed(2).padStart(7)} M decisions/s   p50 ${(p50 / 1000).toFixed(2)} µs   p99 ${(p99 / 1000).toFixed(2)} µs`,
    );
  }
  console.log(
    `engine / handwritten: ${(rate("engine") / rate("handwritten")).toFixed(2)}x   (target >= 0.50x)`,
  );
  console.log(`engine / cel-js:      ${(rate("engine") / rate("cel-js")).toFixed(1)}x`);
}

await main();
