import {
  conditionImplies,
  type ExceptionPlan,
  type PolicyPlan,
  type PolicySet,
  type ProjectPlan,
  type RulePlan,
} from "../language/index.js";

/**
 * How a change moves what is allowed. `weakening`: it may allow something the old version
 * denied (DESIGN promise 5; anything not provably safe counts here). `strengthening`: it can
 * only deny more. `neutral`: it changes no decision (messages, tests, descriptions).
 */
export type ChangeClass = "weakening" | "strengthening" | "neutral";

/** One semantic change between two versions, with why it has its class. */
export interface Change {
  readonly class: ChangeClass;
  /** What changed: `policy/rule`, `exception/name`, `project/limits`… */
  readonly subject: string;
  readonly description: string;
}

/** The whole diff: every change, and the class of the release as a whole. */
export interface DiffResult {
  /** `weakening` if any change is; else `strengthening` if any is; else `equivalent`. */
  readonly class: "weakening" | "strengthening" | "equivalent";
  readonly changes: readonly Change[];
}

/**
 * Diffs two compiled policy sets and classifies every change conservatively: a change is
 * weakening unless it provably only denies more (or changes no decision).
 */
export function diffSets(old: PolicySet, next: PolicySet): DiffResult {
  const changes: Change[] = [
    ...diffPolicies(old.policies, next.policies, waivable(old, next)),
    ...diffExceptions(old.exceptions, next.exceptions),
    ...diffProject(old.project, next.project),
  ];
  if (JSON.stringify(old.schemas) !== JSON.stringify(next.schemas))
    changes.push({
      class: "neutral",
      subject: "schemas",
      description: "input schemas changed (type checking only)",
    });
  const cls = changes.some((c) => c.class === "weakening")
    ? "weakening"
    : changes.some((c) => c.class === "strengthening")
      ? "strengthening"
      : "equivalent";
  return { class: cls, changes };
}

function byName<T extends { readonly name: string }>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((i) => [i.name, i]));
}

// the rules (`policy/rule`) an exception of either version may waive
function waivable(old: PolicySet, next: PolicySet): ReadonlySet<string> {
  return new Set(
    [...old.exceptions, ...next.exceptions].flatMap((e) => e.rules.map((r) => `${e.policy}/${r}`)),
  );
}

function diffPolicies(
  old: readonly PolicyPlan[],
  next: readonly PolicyPlan[],
  waived: ReadonlySet<string>,
): Change[] {
  const changes: Change[] = [];
  const before = byName(old);
  const after = byName(next);
  for (const [name, p] of before) {
    const q = after.get(name);
    if (!q) {
      changes.push({
        class: "weakening",
        subject: `policy/${name}`,
        description: "policy removed: its denies no longer apply",
      });
      continue;
    }
    if (p.subject !== q.subject)
      changes.push({
        class: "weakening",
        subject: `policy/${name}`,
        description: `subject changed from \`${p.subject ?? "none"}\` to \`${q.subject ?? "none"}\`: requests may select it differently`,
      });
    if (p.default !== q.default)
      changes.push({
        class: q.default === "allow" ? "weakening" : "strengthening",
        subject: `policy/${name}`,
        description: `default changed from ${p.default} to ${q.default}`,
      });
    changes.push(...diffRules(name, p.rules, q.rules, waived));
  }
  for (const name of after.keys()) {
    if (!before.has(name))
      changes.push({
        class: "strengthening",
        subject: `policy/${name}`,
        description: "policy added: one more policy must allow",
      });
  }
  return changes;
}

// the class of a rule's presence: an enforced deny restricts, an enforced allow grants
function presenceClass(rule: RulePlan, added: boolean): ChangeClass {
  if (rule.enforcement === "warn") return "neutral";
  const restricts = rule.effect === "deny";
  return restricts === added ? "strengthening" : "weakening";
}

function diffRules(
  policy: string,
  old: readonly RulePlan[],
  next: readonly RulePlan[],
  waived: ReadonlySet<string>,
): Change[] {
  const changes: Change[] = [];
  const before = byName(old);
  const after = byName(next);
  for (const [name, r] of before) {
    const subject = `policy/${policy}/${name}`;
    const s = after.get(name);
    if (!s) {
      changes.push({
        class: presenceClass(r, false),
        subject,
        description: `${describe(r)} removed`,
      });
      continue;
    }
    if (r.effect !== s.effect || r.enforcement !== s.enforcement) {
      // model the change as removing the old rule and adding the new one
      const parts = [presenceClass(r, false), presenceClass(s, true)];
      const cls = parts.includes("weakening")
        ? "weakening"
        : parts.includes("strengthening")
          ? "strengthening"
          : "neutral";
      changes.push({
        class: cls,
        subject,
        description: `changed from ${describe(r)} to ${describe(s)}`,
      });
    } else if (normalise(r.when.source) !== normalise(s.when.source)) {
      changes.push(conditionChange(subject, r, s, waived.has(`${policy}/${name}`)));
    } else if (r.message !== s.message) {
      changes.push({ class: "neutral", subject, description: "message changed" });
    }
  }
  for (const [name, s] of after) {
    if (!before.has(name))
      changes.push({
        class: presenceClass(s, true),
        subject: `policy/${policy}/${name}`,
        description: `${describe(s)} added`,
      });
  }
  return changes;
}

function conditionChange(subject: string, r: RulePlan, s: RulePlan, waivable: boolean): Change {
  if (r.enforcement === "warn")
    return { class: "neutral", subject, description: "warn rule condition changed" };
  const a = r.when.source;
  const b = s.when.source;
  // a deny holds where its condition is true or fails (a failure never allows), an allow where
  // it is true: conditionImplies proves either. A deny an exception may waive must also fail
  // wherever it failed: a failing deny is never waived, a matching one may be
  const exact = r.effect === "deny" && waivable;
  const widened = conditionImplies(a, b, { exact });
  const narrowed = conditionImplies(b, a, { exact });
  if (widened && narrowed)
    return {
      class: "neutral",
      subject,
      description: `${describe(r)} condition rewritten, matching the same inputs: \`${a}\` → \`${b}\``,
    };
  if (r.effect === "deny" && widened)
    return {
      class: "strengthening",
      subject,
      description: `deny condition widened: it matches every input it did, and more: \`${a}\` → \`${b}\``,
    };
  if (r.effect === "allow" && narrowed)
    return {
      class: "strengthening",
      subject,
      description: `allow condition narrowed: it matches only inputs it did: \`${a}\` → \`${b}\``,
    };
  return {
    class: "weakening",
    subject,
    description: `${describe(r)} condition changed and is not provably stronger: \`${a}\` → \`${b}\``,
  };
}

function diffExceptions(old: readonly ExceptionPlan[], next: readonly ExceptionPlan[]): Change[] {
  const changes: Change[] = [];
  const before = byName(old);
  const after = byName(next);
  for (const [name, e] of before) {
    const subject = `exception/${name}`;
    const f = after.get(name);
    if (!f) {
      changes.push({ class: "strengthening", subject, description: "exception removed" });
      continue;
    }
    if (f.policy !== e.policy || f.rules.some((r) => !e.rules.includes(r)))
      changes.push({
        class: "weakening",
        subject,
        description: "exception now waives other rules",
      });
    else if (f.rules.length < e.rules.length)
      changes.push({
        class: "strengthening",
        subject,
        description: "exception waives fewer rules",
      });
    if (f.expiresAt > e.expiresAt)
      changes.push({
        class: "weakening",
        subject,
        description: `exception extended from ${e.expires} to ${f.expires}`,
      });
    else if (f.expiresAt < e.expiresAt)
      changes.push({
        class: "strengthening",
        subject,
        description: `exception shortened from ${e.expires} to ${f.expires}`,
      });
    if (normalise(e.when.source) !== normalise(f.when.source))
      changes.push(
        // an exception applies where its condition is true (one that fails waives nothing)
        conditionImplies(f.when.source, e.when.source)
          ? {
              class: conditionImplies(e.when.source, f.when.source) ? "neutral" : "strengthening",
              subject,
              description: `exception scope narrowed or rewritten: it applies only where it did: \`${e.when.source}\` → \`${f.when.source}\``,
            }
          : {
              class: "weakening",
              subject,
              description: `exception scope changed and is not provably narrower: \`${e.when.source}\` → \`${f.when.source}\``,
            },
      );
    if (f.owner !== e.owner || f.justification !== e.justification)
      changes.push({ class: "neutral", subject, description: "owner or justification changed" });
  }
  for (const [name, f] of after) {
    if (!before.has(name))
      changes.push({
        class: "weakening",
        subject: `exception/${name}`,
        description: `exception added: waives ${f.rules.map((r) => `${f.policy}/${r}`).join(", ")} until ${f.expires}`,
      });
  }
  return changes;
}

function diffProject(old: ProjectPlan, next: ProjectPlan): Change[] {
  const changes: Change[] = [];
  const limit = (what: string, a: number, b: number) => {
    if (a !== b)
      changes.push({
        class: b > a ? "weakening" : "strengthening",
        subject: `project/limits/${what}`,
        description: `${what} changed from ${a} to ${b}`,
      });
  };
  limit("maxInputBytes", old.limits.maxInputBytes, next.limits.maxInputBytes);
  limit("maxInputDepth", old.limits.maxInputDepth, next.limits.maxInputDepth);
  if (next.exceptions.maxDurationMs !== old.exceptions.maxDurationMs)
    changes.push({
      class:
        next.exceptions.maxDurationMs > old.exceptions.maxDurationMs
          ? "weakening"
          : "strengthening",
      subject: "project/exceptions/maxDuration",
      description: `maximum exception duration changed from ${old.exceptions.maxDuration} to ${next.exceptions.maxDuration}`,
    });
  // reviewers and quorums are gated by the release rules (the old config's quorum), not here
  if (
    JSON.stringify(old.reviewers) !== JSON.stringify(next.reviewers) ||
    JSON.stringify(old.environments) !== JSON.stringify(next.environments)
  )
    changes.push({
      class: "neutral",
      subject: "project/review",
      description: "reviewers or environments changed (needs the released config's quorum)",
    });
  return changes;
}

function describe(rule: RulePlan): string {
  return `${rule.enforcement === "warn" ? "warn " : ""}${rule.effect} rule`;
}

function normalise(source: string): string {
  return source.replace(/\s+/g, " ").trim();
}
