import type { Scalar } from "yaml";
import { compileCel, toCondition } from "./cel.js";
import { compileCelGroup } from "./cel-fuse.js";
import { type Diagnostic, Diagnostics } from "./diagnostics.js";
import {
  type Doc,
  type ExceptionDoc,
  type PolicyDoc,
  type ProjectDoc,
  readDocument,
  type TestDoc,
} from "./documents.js";
import { parseJsonSchema } from "./json.js";
import { type Condition, DEFAULT_LIMITS, type PolicySet, type ProjectPlan } from "./plan.js";
import { type At, type ReadContext, report } from "./reader.js";
import { scalarOffsets } from "./scalar-map.js";
import type { Source } from "./source.js";
import { didYouMean } from "./suggest.js";
import { parseYaml } from "./yaml.js";

/** The result of compiling a repository: a policy set, or every problem (warnings either way). */
export type CompileResult =
  | { readonly ok: true; readonly set: PolicySet; readonly diagnostics: Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: Diagnostic[] };

/** Options of a compile. */
export interface CompileOptions {
  /** The time exception expiries are checked against (ms); undefined skips those checks (loading a bundle). */
  readonly now: number | undefined;
  /**
   * Why a reviewer's key cannot be read, or undefined when it can (the trust module's parser:
   * the language does not parse keys); without it, keys are not checked.
   */
  readonly checkKey?: (key: string) => string | undefined;
}

interface Unit {
  readonly sources: readonly Source[];
  readonly docs: Doc[];
  readonly schemas: Map<string, { value: unknown; source: Source }>;
  project?: ProjectDoc;
  conditions: Map<Scalar, Condition>;
  set?: PolicySet;
}

interface Stage {
  readonly name: string;
  readonly run: (unit: Unit, out: Diagnostics, options: CompileOptions) => void;
  /** Runs even when an earlier stage found problems (it needs only the documents that read). */
  readonly always?: boolean;
}

// the whole compiler, in order; a stage runs when the ones above it succeeded, or is `always`
const STAGES: readonly Stage[] = [
  { name: "parse", run: parseSources }, // YAML and JSON → documents with node ranges
  { name: "resolve", run: resolveNames }, // duplicate names, references between documents
  { name: "check", run: checkConditions, always: true }, // CEL parse + type-check against the subject schema
  { name: "lower", run: lower }, // documents → the plan the engine runs
];

/** Compiles a policy repository's sources into the plan the engine runs, or reports every problem. */
export function compile(sources: readonly Source[], options: CompileOptions): CompileResult {
  const unit: Unit = { sources, docs: [], schemas: new Map(), conditions: new Map() };
  const out = new Diagnostics();
  for (const stage of STAGES) if (stage.always || !out.hasErrors) stage.run(unit, out, options);
  const diagnostics = out.sorted();
  return unit.set && !out.hasErrors
    ? { ok: true, set: unit.set, diagnostics }
    : { ok: false, diagnostics };
}

function parseSources(unit: Unit, out: Diagnostics): void {
  let sawProject = false;
  for (const source of unit.sources) {
    const ctx: ReadContext = { source, out };
    if (/^schemas\/[^/]+\.json$/.test(source.file)) {
      const value = parseJsonSchema(source, out);
      if (value !== undefined)
        unit.schemas.set(source.file.slice("schemas/".length, -".json".length), { value, source });
      continue;
    }
    if (!/\.ya?ml$/.test(source.file)) continue;
    for (const yamlDoc of parseYaml(source, out)) {
      const doc = readDocument(yamlDoc, ctx);
      if (!doc) continue;
      if (doc.kind === "Project") {
        if (source.file !== "stele.yaml")
          report(
            ctx,
            doc.node,
            "language.bad_value",
            "a `kind: Project` document belongs in stele.yaml",
          );
        else if (unit.project)
          report(
            ctx,
            doc.node,
            "language.duplicate_name",
            "stele.yaml holds more than one Project",
          );
        else unit.project = doc;
        sawProject ||= source.file === "stele.yaml";
        continue;
      }
      if (source.file === "stele.yaml")
        report(
          ctx,
          doc.node,
          "language.bad_value",
          `stele.yaml holds the Project, not a ${doc.kind}`,
        );
      unit.docs.push(doc);
    }
    if (source.file === "stele.yaml") sawProject = true;
  }
  if (!sawProject)
    out.add({
      code: "language.missing_field",
      severity: "error",
      message: "no stele.yaml: a policy repository needs its project config",
      position: { file: "stele.yaml", line: 1, col: 1 },
      hint: "run `stele init` to make one",
    });
}

function ctxOf(doc: Doc, out: Diagnostics): ReadContext {
  return { source: doc.source, out };
}

function duplicates<T>(
  items: readonly T[],
  nameOf: (t: T) => At<string>,
  what: string,
  ctx: (t: T) => ReadContext,
): void {
  const seen = new Map<string, T>();
  for (const item of items) {
    const name = nameOf(item);
    const first = seen.get(name.value);
    if (first) {
      const at = ctx(first).source.position(nameOf(first).node.range?.[0] ?? 0);
      report(
        ctx(item),
        name.node,
        "language.duplicate_name",
        `${what} \`${name.value}\` is defined twice`,
        `the first is at ${at.file}:${at.line}:${at.col}`,
      );
    } else seen.set(name.value, item);
  }
}

function byKind<K extends Doc["kind"]>(unit: Unit, kind: K): Extract<Doc, { kind: K }>[] {
  return unit.docs.filter((d): d is Extract<Doc, { kind: K }> => d.kind === kind);
}

function resolveNames(unit: Unit, out: Diagnostics, options: CompileOptions): void {
  const policies = byKind(unit, "Policy");
  const exceptions = byKind(unit, "Exception");
  const tests = byKind(unit, "Test");
  for (const kind of ["Policy", "Exception", "Test"] as const)
    duplicates(
      byKind(unit, kind),
      (d) => d.name,
      kind.toLowerCase(),
      (d) => ctxOf(d, out),
    );
  for (const p of policies) {
    duplicates(
      p.rules,
      (r) => r.name,
      `rule of policy \`${p.name.value}\``,
      () => ctxOf(p, out),
    );
    if (p.subject && !unit.schemas.has(p.subject.value))
      report(
        ctxOf(p, out),
        p.subject.node,
        "language.unknown_reference",
        `no schema for subject \`${p.subject.value}\``,
        subjectHint(p.subject.value, [...unit.schemas.keys()]),
      );
  }
  const byName = new Map(policies.map((p) => [p.name.value, p]));
  for (const e of exceptions) {
    const ctx = ctxOf(e, out);
    const policy = byName.get(e.policy.value);
    if (!policy) {
      report(
        ctx,
        e.policy.node,
        "language.unknown_reference",
        `no policy named \`${e.policy.value}\``,
        hintNames(byName.keys()),
      );
      continue;
    }
    for (const r of e.rules) {
      const rule = policy.rules.find((x) => x.name.value === r.value);
      if (!rule)
        report(
          ctx,
          r.node,
          "language.unknown_reference",
          `policy \`${policy.name.value}\` has no rule \`${r.value}\``,
          hintNames(policy.rules.map((x) => x.name.value)),
        );
      else if (rule.effect !== "deny" || rule.enforcement !== "enforce")
        report(
          ctx,
          r.node,
          "language.bad_value",
          `rule \`${r.value}\` is not an enforced deny rule; only those can be waived`,
        );
    }
  }
  for (const t of tests) checkTest(t, unit, byName, exceptions, out);
  const project = unit.project;
  if (project) checkProject(project, out, options.checkKey);
}

// a subject's likeliest meant among the schemas there are, else how to add its schema
function subjectHint(subject: string, schemas: readonly string[]): string {
  const near = didYouMean(subject, schemas);
  return near
    ? `did you mean \`${near}\`? (schemas/${near}.json)`
    : `add schemas/${subject}.json (a JSON Schema of the input)`;
}

function hintNames(names: Iterable<string>): string {
  const list = [...names];
  return list.length > 0 ? `known: ${list.map((n) => `\`${n}\``).join(", ")}` : "there are none";
}

function checkTest(
  t: TestDoc,
  unit: Unit,
  byName: Map<string, PolicyDoc>,
  exceptions: readonly ExceptionDoc[],
  out: Diagnostics,
): void {
  const ctx = ctxOf(t, out);
  duplicates(
    t.cases,
    (c) => c.name,
    `case of test \`${t.name.value}\``,
    () => ctx,
  );
  for (const p of t.policies ?? [])
    if (!byName.has(p.value))
      report(
        ctx,
        p.node,
        "language.unknown_reference",
        `no policy named \`${p.value}\``,
        hintNames(byName.keys()),
      );
  if (t.subject && ![...byName.values()].some((p) => p.subject?.value === t.subject?.value))
    report(
      ctx,
      t.subject.node,
      "language.unknown_reference",
      `no policy has subject \`${t.subject.value}\``,
    );
  const judged = t.policies
    ? t.policies.flatMap((p) => byName.get(p.value) ?? [])
    : [...byName.values()].filter((p) => !t.subject || p.subject?.value === t.subject.value);
  const rules = new Set(
    judged.flatMap((p) =>
      p.rules.filter((r) => r.enforcement === "enforce").map((r) => r.name.value),
    ),
  );
  const warns = new Set(
    judged.flatMap((p) => p.rules.filter((r) => r.enforcement === "warn").map((r) => r.name.value)),
  );
  const known = new Set(exceptions.map((e) => e.name.value));
  for (const c of t.cases) {
    for (const r of c.rules ?? [])
      if (!rules.has(r.value))
        report(
          ctx,
          r.node,
          "language.unknown_reference",
          `no enforced rule \`${r.value}\` in the policies this test judges by`,
        );
    for (const w of c.warnings ?? [])
      if (!warns.has(w.value))
        report(
          ctx,
          w.node,
          "language.unknown_reference",
          `no warn rule \`${w.value}\` in the policies this test judges by`,
        );
    for (const e of c.exceptions ?? [])
      if (!known.has(e.value))
        report(ctx, e.node, "language.unknown_reference", `no exception named \`${e.value}\``);
  }
  void unit;
}

function checkProject(
  project: ProjectDoc,
  out: Diagnostics,
  checkKey: CompileOptions["checkKey"],
): void {
  const ctx = ctxOf(project, out);
  // a key no one can read: released, it would leave no approval of the next release countable
  for (const r of project.reviewers)
    for (const k of r.keys) {
      const why = checkKey?.(k.value);
      if (why !== undefined)
        report(
          ctx,
          k.node,
          "language.bad_value",
          `reviewer \`${r.name.value}\`'s key cannot be read: ${why}`,
          "paste the whole public key line `stele keygen` printed (or the reviewer's `.pub` file)",
        );
    }
  duplicates(
    project.reviewers,
    (r) => r.name,
    "reviewer",
    () => ctx,
  );
  duplicates(
    project.environments,
    (e) => e.name,
    "environment",
    () => ctx,
  );
  const emails = project.reviewers.flatMap((r) => (r.email ? [{ ...r, name: r.email }] : []));
  duplicates(
    emails,
    (r) => r.name,
    "reviewer email",
    () => ctx,
  );
  const keys = project.reviewers.flatMap((r) =>
    r.keys.map((k) => ({
      name: { value: k.value.trim().split(/\s+/).slice(0, 2).join(" "), node: k.node },
    })),
  );
  duplicates(
    keys,
    (k) => k.name,
    "reviewer key",
    () => ctx,
  );
  // a quorum more reviewers than there are could never be met: released, it would lock the env
  // (`stele release` refuses it). A warning here: a project may be listing its reviewers
  const people = project.reviewers.length;
  for (const e of project.environments) {
    const most = Math.max(e.quorum, e.weakeningQuorum);
    const [start, end] = e.name.node.range ?? [0, 0];
    // a project listing no one yet is a template: nothing can be released from it anyway
    if (people > 0 && most > people)
      out.at(
        project.source,
        start,
        end,
        "language.bad_value",
        `environment \`${e.name.value}\` needs ${most} approval${most === 1 ? "" : "s"} (${most === e.quorum ? "`quorum`" : "`weakeningQuorum`"}) but stele.yaml lists ${people} reviewer${people === 1 ? "" : "s"}: no release to it could be approved`,
        {
          severity: "warning",
          hint: "list more reviewers (`stele keygen --name NAME` makes a key), or lower the quorum",
        },
      );
  }
  const envs = new Set(project.environments.map((e) => e.name.value));
  for (const e of project.environments) {
    if (!e.promoteFrom) continue;
    if (e.promoteFrom.value === e.name.value)
      report(
        ctx,
        e.promoteFrom.node,
        "language.bad_value",
        "an environment cannot be promoted from itself",
      );
    else if (!envs.has(e.promoteFrom.value))
      report(
        ctx,
        e.promoteFrom.node,
        "language.unknown_reference",
        `no environment named \`${e.promoteFrom.value}\``,
        hintNames(envs),
      );
  }
}

function checkConditions(unit: Unit, out: Diagnostics, options: CompileOptions): void {
  const policies = new Map(byKind(unit, "Policy").map((p) => [p.name.value, p]));
  const condition = (
    doc: Doc,
    when: At<string> & { node: Scalar },
    subject: string | undefined,
  ) => {
    const schema = subject === undefined ? undefined : unit.schemas.get(subject)?.value;
    if (subject !== undefined && schema === undefined) return; // reported by resolve
    const program = compileCel(when.value, schema === undefined ? {} : { input: schema });
    if (!program.ok) {
      const map = scalarOffsets(when.node, doc.source.text);
      for (const p of program.problems) {
        const start = map(p.start);
        const end = p.end > p.start ? map(p.end - 1) + 1 : start + 1;
        out.at(doc.source, start, end, p.code, p.message, { hint: p.hint });
      }
      return;
    }
    if (program.type !== "bool" && program.type !== "dyn") {
      report(
        ctxOf(doc, out),
        when.node,
        "language.cel_type",
        `a condition must be a bool, found \`${program.type}\``,
      );
      return;
    }
    const evaluate = program.evaluate;
    // invariant: a `bool` expression's compiled function returns a boolean or throws
    const test =
      program.type === "bool"
        ? (evaluate as (input: unknown) => boolean)
        : (input: unknown) => toCondition(evaluate(input));
    unit.conditions.set(when.node, { source: when.value, test });
  };
  for (const p of policies.values())
    for (const r of p.rules) condition(p, r.when, p.subject?.value);
  const max = unit.project?.maxDuration ?? { text: "7d", ms: 7 * 86_400_000 };
  for (const e of byKind(unit, "Exception")) {
    const policy = policies.get(e.policy.value);
    if (policy) condition(e, e.when, policy.subject?.value);
    if (options.now === undefined) continue;
    const ctx = ctxOf(e, out);
    // DESIGN promise 9: an exception is time-boxed by the project's maximum
    const left = e.expires.value - options.now;
    if (left > max.ms)
      report(
        ctx,
        e.expires.node,
        "language.exception_expiry",
        `exception \`${e.name.value}\` expires ${formatDays(left)} from now; the project allows at most ${max.text}`,
        `set \`expires\` no later than ${new Date(options.now + max.ms).toISOString()}`,
      );
    else if (left <= 0)
      out.at(
        e.source,
        e.expires.node.range?.[0] ?? 0,
        e.expires.node.range?.[1] ?? 0,
        "language.exception_expired",
        `exception \`${e.name.value}\` expired at ${new Date(e.expires.value).toISOString()} and is no longer honoured`,
        {
          severity: "warning",
          hint: "remove it, or ship a new exception with a new expiry (a weakening)",
        },
      );
  }
}

function formatDays(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48 ? `in ${(hours / 24).toFixed(1)} days` : `in ${hours.toFixed(1)} hours`;
}

function lower(unit: Unit): void {
  const project = unit.project;
  if (!project) return;
  const cond = (node: Scalar): Condition => unit.conditions.get(node) as Condition;
  const pos = (doc: Doc, node: { range?: [number, number, number] | null }) =>
    doc.source.position(node.range?.[0] ?? 0);
  const byName = <T extends { name: string }>(a: T, b: T) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  const projectPlan: ProjectPlan = {
    name: project.name.value,
    reviewers: project.reviewers.map((r) => ({
      name: r.name.value,
      keys: r.keys.map((k) => k.value),
      email: r.email?.value,
    })),
    environments: project.environments.map((e) => ({
      name: e.name.value,
      quorum: e.quorum,
      weakeningQuorum: e.weakeningQuorum,
      promoteFrom: e.promoteFrom?.value,
    })),
    exceptions: { maxDuration: project.maxDuration.text, maxDurationMs: project.maxDuration.ms },
    limits: {
      maxInputBytes: project.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes,
      maxInputDepth: project.limits.maxInputDepth ?? DEFAULT_LIMITS.maxInputDepth,
    },
  };
  // every rule of a policy in one function; the conditions alone stay the reference
  const fuse = (p: PolicyDoc) => {
    const schema = p.subject ? unit.schemas.get(p.subject.value)?.value : undefined;
    const members = p.rules.map((r) => ({
      expression: r.when.value,
      test: cond(r.when.node).test,
    }));
    return compileCelGroup(members, schema === undefined ? {} : { input: schema }) ?? {};
  };
  unit.set = {
    project: projectPlan,
    policies: byKind(unit, "Policy")
      .map((p) => ({
        name: p.name.value,
        description: p.description,
        subject: p.subject?.value,
        default: p.default,
        position: pos(p, p.node),
        rules: p.rules.map((r) => ({
          name: r.name.value,
          effect: r.effect,
          enforcement: r.enforcement,
          message: r.message ?? r.name.value,
          when: cond(r.when.node),
          position: pos(p, r.node),
        })),
        ...fuse(p),
      }))
      .sort(byName),
    exceptions: byKind(unit, "Exception")
      .map((e) => ({
        name: e.name.value,
        description: e.description,
        policy: e.policy.value,
        rules: e.rules.map((r) => r.value),
        when: cond(e.when.node),
        expires: new Date(e.expires.value).toISOString(),
        expiresAt: e.expires.value,
        owner: e.owner,
        justification: e.justification,
        position: pos(e, e.node),
      }))
      .sort(byName),
    tests: byKind(unit, "Test")
      .map((t) => ({
        name: t.name.value,
        policies: t.policies?.map((p) => p.value),
        subject: t.subject?.value,
        now: t.now ? new Date(t.now.value).toISOString() : undefined,
        position: pos(t, t.node),
        cases: t.cases.map((c) => ({
          name: c.name.value,
          input: c.input,
          expect: c.expect,
          rules: c.rules?.map((r) => r.value),
          exceptions: c.exceptions?.map((e) => e.value),
          warnings: c.warnings?.map((w) => w.value),
          now: c.now ? new Date(c.now.value).toISOString() : undefined,
          position: pos(t, c.node),
        })),
      }))
      .sort(byName),
    schemas: Object.fromEntries(
      [...unit.schemas.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => [k, v.value]),
    ),
  };
}
