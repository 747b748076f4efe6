import { isMap, isScalar, type Node, type Scalar } from "yaml";
import type { Effect, Enforcement } from "./plan.js";
import {
  type At,
  checkName,
  type MapReader,
  parseDuration,
  type ReadContext,
  readMap,
  readTime,
  report,
} from "./reader.js";
import type { Source } from "./source.js";
import type { YamlDoc } from "./yaml.js";

/** What every document shares: where it is and its metadata. */
interface DocBase {
  readonly source: Source;
  readonly node: Node;
  readonly name: At<string>;
  readonly description: string | undefined;
}

/** A rule as written. */
export interface RuleDoc {
  readonly node: Node;
  readonly name: At<string>;
  readonly effect: Effect;
  readonly enforcement: Enforcement;
  readonly message: string | undefined;
  readonly when: At<string> & { readonly node: Scalar };
}

/** `kind: Policy` as written. */
export interface PolicyDoc extends DocBase {
  readonly kind: "Policy";
  readonly subject: At<string> | undefined;
  readonly default: Effect;
  readonly rules: readonly RuleDoc[];
}

/** `kind: Exception` as written. */
export interface ExceptionDoc extends DocBase {
  readonly kind: "Exception";
  readonly policy: At<string>;
  readonly rules: readonly At<string>[];
  readonly when: At<string> & { readonly node: Scalar };
  readonly expires: At<number>;
  readonly owner: string;
  readonly justification: string;
}

/** One test case as written. */
export interface CaseDoc {
  readonly node: Node;
  readonly name: At<string>;
  readonly input: unknown;
  readonly expect: Effect;
  readonly rules: readonly At<string>[] | undefined;
  readonly exceptions: readonly At<string>[] | undefined;
  readonly warnings: readonly At<string>[] | undefined;
  readonly now: At<number> | undefined;
}

/** `kind: Test` as written. */
export interface TestDoc extends DocBase {
  readonly kind: "Test";
  readonly policies: readonly At<string>[] | undefined;
  readonly subject: At<string> | undefined;
  readonly now: At<number> | undefined;
  readonly cases: readonly CaseDoc[];
}

/** `kind: Project` (stele.yaml) as written. */
export interface ProjectDoc extends DocBase {
  readonly kind: "Project";
  readonly reviewers: readonly {
    name: At<string>;
    keys: At<string>[];
    email: At<string> | undefined;
  }[];
  readonly environments: readonly {
    name: At<string>;
    quorum: number;
    weakeningQuorum: number;
    promoteFrom: At<string> | undefined;
  }[];
  readonly maxDuration: { text: string; ms: number };
  readonly limits: { maxInputBytes: number | undefined; maxInputDepth: number | undefined };
}

/** Any document. */
export type Doc = PolicyDoc | ExceptionDoc | TestDoc | ProjectDoc;

const KINDS = ["Project", "Policy", "Exception", "Test"] as const;

/** Reads one YAML document strictly into its kind; every problem is reported, nothing thrown. */
export function readDocument(doc: YamlDoc, ctx: ReadContext): Doc | undefined {
  const top = readMap(ctx, doc.root, "a document", ["apiVersion", "kind", "metadata", "spec"]);
  if (!top) return undefined;
  const api = top.str("apiVersion", true);
  if (api && api.value !== "stele/v1")
    report(
      ctx,
      api.node,
      "language.bad_value",
      `\`apiVersion\` must be \`stele/v1\`, found \`${api.value}\``,
    );
  const kind = top.str("kind", true);
  if (kind && !(KINDS as readonly string[]).includes(kind.value))
    report(
      ctx,
      kind.node,
      "language.unknown_kind",
      `unknown kind \`${kind.value}\``,
      `use one of ${KINDS.join(", ")}`,
    );
  if (!top.has("metadata")) top.missing("metadata", "`name:`");
  const meta = top.has("metadata")
    ? readMap(ctx, top.get("metadata"), "`metadata`", ["name", "description", "labels"])
    : undefined;
  const name = meta?.str("name", true);
  if (name) checkName(ctx, name, "name");
  const description = meta?.str("description")?.value;
  if (meta?.has("labels")) {
    const labels = meta.map("labels", false);
    for (const pair of labels?.items ?? []) {
      const v = pair.value as Node | null;
      if (!isScalar(v) || typeof v.value !== "string")
        report(ctx, v ?? (pair.key as Node), "language.wrong_type", "label values must be strings");
    }
  }
  const specNode = top.get("spec");
  if (!specNode) top.missing("spec", "the document's body");
  if (!kind || !name || !specNode || !(KINDS as readonly string[]).includes(kind.value))
    return undefined;
  const base = { source: doc.source, node: doc.root, name, description };
  const where = `\`spec\` of ${kind.value} \`${name.value}\``;
  switch (kind.value as (typeof KINDS)[number]) {
    case "Policy":
      return readPolicy(ctx, base, specNode, where);
    case "Exception":
      return readException(ctx, base, specNode, where);
    case "Test":
      return readTest(ctx, base, specNode, where);
    case "Project":
      return readProject(ctx, base, specNode, where);
  }
}

function whenOf(
  ctx: ReadContext,
  r: MapReader,
  key: string,
): (At<string> & { node: Scalar }) | undefined {
  // `when: true` is YAML's boolean, and CEL's `true` too
  const raw = r.get(key);
  if (isScalar(raw) && typeof raw.value === "boolean")
    return { value: String(raw.value), node: raw };
  const s = r.str(key, true);
  if (!s) return undefined;
  if (s.value.trim() === "") {
    report(
      ctx,
      s.node,
      "language.bad_value",
      `\`${key}\` may not be empty`,
      "write a CEL condition, e.g. input.env == 'prod'",
    );
    return undefined;
  }
  return s as At<string> & { node: Scalar };
}

function readPolicy(
  ctx: ReadContext,
  base: DocBase,
  node: Node,
  where: string,
): PolicyDoc | undefined {
  const r = readMap(ctx, node, where, ["subject", "default", "rules"]);
  if (!r) return undefined;
  const subject = r.str("subject");
  const def = r.oneOf("default", ["allow", "deny"] as const, true);
  const items = r.list("rules", true, true) ?? [];
  const rules: RuleDoc[] = [];
  items.forEach((item, i) => {
    const rr = readMap(ctx, item, `rule ${i + 1} of policy \`${base.name.value}\``, [
      "name",
      "effect",
      "enforcement",
      "when",
      "message",
    ]);
    if (!rr) return;
    const name = rr.str("name", true);
    if (name) checkName(ctx, name, "rule name");
    const effect = rr.oneOf("effect", ["allow", "deny"] as const, true);
    const enforcement = rr.oneOf("enforcement", ["enforce", "warn"] as const, false);
    const when = whenOf(ctx, rr, "when");
    const message = rr.str("message")?.value;
    if (name && effect && when)
      rules.push({
        node: item,
        name,
        effect: effect.value,
        enforcement: enforcement?.value ?? "enforce",
        message,
        when,
      });
  });
  if (!def) return undefined;
  return { ...base, kind: "Policy", subject, default: def.value, rules };
}

function readException(
  ctx: ReadContext,
  base: DocBase,
  node: Node,
  where: string,
): ExceptionDoc | undefined {
  const r = readMap(ctx, node, where, [
    "policy",
    "rules",
    "when",
    "expires",
    "owner",
    "justification",
  ]);
  if (!r) return undefined;
  const policy = r.str("policy", true);
  const rules = r.strings("rules", true, true);
  const when = whenOf(ctx, r, "when");
  const expires = readTime(ctx, r, "expires", true);
  const owner = r.str("owner", true);
  const justification = r.str("justification", true);
  if (justification && justification.value.trim() === "")
    report(
      ctx,
      justification.node,
      "language.bad_value",
      "`justification` may not be empty",
      "say why this exception exists",
    );
  if (!policy || !rules || !when || !expires || !owner || !justification) return undefined;
  return {
    ...base,
    kind: "Exception",
    policy,
    rules,
    when,
    expires,
    owner: owner.value,
    justification: justification.value,
  };
}

function readTest(ctx: ReadContext, base: DocBase, node: Node, where: string): TestDoc | undefined {
  const r = readMap(ctx, node, where, ["policies", "subject", "now", "cases"]);
  if (!r) return undefined;
  const policies = r.strings("policies", false, true);
  const subject = r.str("subject");
  if (policies && subject)
    report(
      ctx,
      subject.node,
      "language.bad_value",
      "a test names `policies` or a `subject`, not both",
    );
  const now = readTime(ctx, r, "now", false);
  const items = r.list("cases", true, true) ?? [];
  const cases: CaseDoc[] = [];
  items.forEach((item, i) => {
    const c = readMap(ctx, item, `case ${i + 1} of test \`${base.name.value}\``, [
      "name",
      "input",
      "expect",
      "rules",
      "exceptions",
      "warnings",
      "now",
    ]);
    if (!c) return;
    const name = c.str("name", true);
    const inputNode = c.get("input");
    if (!inputNode) c.missing("input", "the input document");
    const expect = c.oneOf("expect", ["allow", "deny"] as const, true);
    const rules = c.strings("rules", false);
    const exceptions = c.strings("exceptions", false);
    const warnings = c.strings("warnings", false);
    const caseNow = readTime(ctx, c, "now", false);
    if (name && inputNode && expect)
      cases.push({
        node: item,
        name,
        input: toValue(inputNode),
        expect: expect.value,
        rules,
        exceptions,
        warnings,
        now: caseNow,
      });
  });
  return { ...base, kind: "Test", policies, subject, now, cases };
}

function readProject(
  ctx: ReadContext,
  base: DocBase,
  node: Node,
  where: string,
): ProjectDoc | undefined {
  const r = readMap(ctx, node, where, ["reviewers", "environments", "exceptions", "limits"]);
  if (!r) return undefined;
  const reviewers: ProjectDoc["reviewers"][number][] = [];
  (r.list("reviewers", false) ?? []).forEach((item, i) => {
    const rr = readMap(ctx, item, `reviewer ${i + 1}`, ["name", "key", "keys", "email"]);
    if (!rr) return;
    const name = rr.str("name", true);
    const key = rr.str("key");
    const keys = rr.strings("keys", false, true);
    if (!key && !keys && !rr.has("keys"))
      rr.missing("key", "the reviewer's public key (`stele keygen` makes one)");
    if (key && keys)
      report(ctx, keys[0]?.node ?? item, "language.bad_value", "give `key` or `keys`, not both");
    const email = rr.str("email");
    if (name) reviewers.push({ name, keys: [...(key ? [key] : []), ...(keys ?? [])], email });
  });
  const environments: ProjectDoc["environments"][number][] = [];
  (r.list("environments", false) ?? []).forEach((item, i) => {
    const er = readMap(ctx, item, `environment ${i + 1}`, [
      "name",
      "quorum",
      "weakeningQuorum",
      "promoteFrom",
    ]);
    if (!er) return;
    const name = er.str("name", true);
    if (name) checkName(ctx, name, "environment name");
    const quorum = er.int("quorum", true, 1);
    const weakening = er.int("weakeningQuorum", false, 1);
    if (quorum && weakening && weakening.value < quorum.value)
      report(
        ctx,
        weakening.node,
        "language.bad_value",
        `\`weakeningQuorum\` (${weakening.value}) may not be lower than \`quorum\` (${quorum.value})`,
        "weakening needs at least the normal quorum",
      );
    const promoteFrom = er.str("promoteFrom");
    if (name && quorum)
      environments.push({
        name,
        quorum: quorum.value,
        weakeningQuorum: weakening?.value ?? quorum.value,
        promoteFrom,
      });
  });
  let maxDuration = { text: "7d", ms: 7 * 86_400_000 };
  const ex = r.has("exceptions")
    ? readMap(ctx, r.get("exceptions"), "`exceptions`", ["maxDuration"])
    : undefined;
  const md = ex?.str("maxDuration");
  if (md) {
    const ms = parseDuration(md.value);
    if (ms === undefined)
      report(
        ctx,
        md.node,
        "language.bad_value",
        `\`maxDuration\` must be a duration like 7d, 36h or 1d12h, found \`${md.value}\``,
      );
    else maxDuration = { text: md.value, ms };
  }
  const lim = r.has("limits")
    ? readMap(ctx, r.get("limits"), "`limits`", ["maxInputBytes", "maxInputDepth"])
    : undefined;
  return {
    ...base,
    kind: "Project",
    reviewers,
    environments,
    maxDuration,
    limits: {
      maxInputBytes: lim?.int("maxInputBytes", false, 1)?.value,
      maxInputDepth: lim?.int("maxInputDepth", false, 1)?.value,
    },
  };
}

/** A YAML node as a plain JSON value. */
export function toValue(node: Node): unknown {
  if (isMap(node) || !isScalar(node)) return (node as { toJSON(): unknown }).toJSON();
  return node.value;
}
