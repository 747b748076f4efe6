import assert from "node:assert/strict";
import { test } from "node:test";
import { tests as conformance } from "@bufbuild/cel-spec/testdata/conformance.js";
import { CelEvalError, CelMap, CelType, CelUint, compileCel } from "./cel.js";
import { canon } from "./cel-testing.js";

// the official CEL conformance cases (cel-spec, via @bufbuild/cel-spec) for the sections the
// compiler supports; every case either compiles and agrees, or is rejected at compile time

const SECTIONS = new Set([
  "basic",
  "comparisons",
  "conversions",
  "fp_math",
  "integer_math",
  "lists",
  "logic",
  "macros",
  "string",
  "fields",
  "parse",
]);

/** Cases where the compiler gives a different answer than the spec, each with the reason. */
const KNOWN_WRONG: Record<string, string> = {};

interface Case {
  readonly name: string;
  readonly expr: string;
  readonly value?: unknown;
  readonly evalError?: unknown;
  readonly typeEnv?: unknown;
  readonly bindings?: unknown;
  readonly disableCheck?: boolean;
  readonly checkOnly?: boolean;
}

interface Suite {
  readonly name: string;
  readonly suites?: readonly Suite[];
  readonly tests?: readonly { readonly original: unknown }[];
}

function* cases(): Generator<[string, Case]> {
  for (const section of (conformance as Suite).suites ?? []) {
    if (!SECTIONS.has(section.name)) continue;
    for (const suite of section.suites ?? []) {
      for (const t of suite.tests ?? []) {
        const c = t.original as Case;
        yield [`${section.name}/${suite.name}/${c.name}`, c];
      }
    }
  }
}

class Unrepresentable extends Error {}

// a conformance `Value` (protobuf JSON) in the dyn representation
function decode(v: Record<string, unknown>): unknown {
  if ("int64Value" in v) return BigInt(v.int64Value as string);
  if ("uint64Value" in v) return new CelUint(BigInt(v.uint64Value as string));
  if ("doubleValue" in v) return Number(v.doubleValue);
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("nullValue" in v) return null;
  if ("bytesValue" in v) return new Uint8Array(Buffer.from(v.bytesValue as string, "base64"));
  if ("typeValue" in v) return CelType.of(v.typeValue as string);
  if ("listValue" in v) {
    const list = v.listValue as { values?: Record<string, unknown>[] };
    return (list.values ?? []).map(decode);
  }
  if ("mapValue" in v) {
    const map = v.mapValue as {
      entries?: { key: Record<string, unknown>; value: Record<string, unknown> }[];
    };
    const m = new CelMap();
    for (const e of map.entries ?? []) {
      const key = decode(e.key);
      m.entries.set(key instanceof CelUint ? key.value : (key as string), [key, decode(e.value)]);
    }
    return m;
  }
  throw new Unrepresentable(Object.keys(v).join(","));
}

type Outcome = "pass" | "rejected" | "skipped" | { wrong: string };

function run(c: Case): Outcome {
  if (c.typeEnv !== undefined || c.bindings !== undefined || c.checkOnly) return "skipped";
  let expected: unknown;
  try {
    expected = c.value === undefined ? undefined : decode(c.value as Record<string, unknown>);
  } catch (e) {
    if (e instanceof Unrepresentable) return "skipped";
    throw e;
  }
  const program = compileCel(c.expr);
  if (!program.ok) return "rejected";
  let got: unknown;
  try {
    got = program.evaluate({});
  } catch (e) {
    if (!(e instanceof CelEvalError)) return { wrong: `threw a non-CEL error: ${String(e)}` };
    return c.evalError !== undefined
      ? "pass"
      : { wrong: `error \`${e.message}\`, want ${canon(expected)}` };
  }
  if (c.evalError !== undefined) return { wrong: `got ${canon(got)}, want an error` };
  if (c.value === undefined) return "skipped";
  return canon(got) === canon(expected)
    ? "pass"
    : { wrong: `got ${canon(got)}, want ${canon(expected)}` };
}

test("conformance cases either agree with the spec or are rejected at compile time", () => {
  const wrong: string[] = [];
  const stillRight: string[] = [];
  const count = { pass: 0, rejected: 0, skipped: 0 };
  for (const [name, c] of cases()) {
    const outcome = run(c);
    if (typeof outcome === "string") {
      count[outcome]++;
      if (outcome === "pass" && name in KNOWN_WRONG) stillRight.push(name);
    } else if (!(name in KNOWN_WRONG)) {
      wrong.push(`${name}: \`${c.expr}\`: ${outcome.wrong}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.deepEqual(stillRight, [], "fixed cases must leave KNOWN_WRONG");
  // a floor so that a regression into wholesale rejection cannot pass silently
  assert.ok(count.pass >= 650, `only ${count.pass} cases passed (${count.rejected} rejected)`);
});
