import { type Code, SteleError } from "../errors.js";
import type { Effect, ExceptionPlan, PolicyPlan, PolicySet, RulePlan } from "../language/index.js";
import { checkInput } from "./input.js";

/** Which policies judge a request: named ones, every one of a subject, or (neither) all. */
export interface Selector {
  readonly policies?: readonly string[] | undefined;
  readonly subject?: string | undefined;
}

/** A request to judge: the policies to use and the input document. */
export interface DecisionRequest extends Selector {
  readonly input: unknown;
}

/** Why a rule counted: its name, effect and message. */
export interface Reason {
  readonly rule: string;
  readonly effect: Effect;
  readonly message: string;
}

/** An exception that waived a deny rule in this decision. */
export interface ExceptionUse {
  readonly name: string;
  readonly policy: string;
  readonly rules: readonly string[];
  readonly expires: string;
}

/** A condition that could not be evaluated; the decision failed closed around it. */
export interface EvalError {
  readonly code: Code;
  readonly message: string;
  readonly policy?: string;
  readonly rule?: string;
  readonly exception?: string;
}

/** One policy's verdict, with every reason that made it. */
export interface PolicyDecision {
  readonly policy: string;
  readonly effect: Effect;
  /** Enforced rules that matched and counted (waived denies are not here). */
  readonly matched: readonly string[];
  readonly reasons: readonly Reason[];
  /** Names of `warn` rules that matched. */
  readonly warned: readonly string[];
  /** `policy/rule: message` for each `warn` rule that matched. */
  readonly warnings: readonly string[];
  readonly exceptions: readonly ExceptionUse[];
  readonly errors: readonly EvalError[];
}

/** The answer to a request; `decision` is `allow` only when every judging policy allows. */
export interface Decision {
  readonly decision: Effect;
  readonly policies: readonly PolicyDecision[];
  readonly warnings: readonly string[];
  readonly exceptions: readonly ExceptionUse[];
  readonly errors: readonly EvalError[];
  readonly bundle: string | undefined;
}

/** Options of one decision: the clock (exception expiry) and the digest to name. */
export interface DecideOptions {
  /** Milliseconds since the epoch; exceptions expire against it. */
  readonly now: number;
  readonly bundle?: string | undefined;
}

interface Prepared {
  readonly byName: ReadonlyMap<string, PolicyPlan>;
  readonly bySubject: ReadonlyMap<string, readonly PolicyPlan[]>;
  // policy → rule → exceptions that may waive it
  readonly waivers: ReadonlyMap<string, ReadonlyMap<string, readonly ExceptionPlan[]>>;
}

const prepared = new WeakMap<PolicySet, Prepared>();
// shared by every decision that has nothing to list; frozen so no caller can fill it
const NONE: readonly never[] = Object.freeze([]);

function prepare(set: PolicySet): Prepared {
  const cached = prepared.get(set);
  if (cached) return cached;
  const byName = new Map(set.policies.map((p) => [p.name, p]));
  const bySubject = new Map<string, PolicyPlan[]>();
  for (const p of set.policies) {
    if (p.subject === undefined) continue;
    const list = bySubject.get(p.subject) ?? [];
    list.push(p);
    bySubject.set(p.subject, list);
  }
  const waivers = new Map<string, Map<string, ExceptionPlan[]>>();
  for (const e of set.exceptions) {
    const rules = waivers.get(e.policy) ?? new Map<string, ExceptionPlan[]>();
    for (const r of e.rules) rules.set(r, [...(rules.get(r) ?? []), e]);
    waivers.set(e.policy, rules);
  }
  const result = { byName, bySubject, waivers };
  prepared.set(set, result);
  return result;
}

/** The policies a selector names; throws `engine.unknown_policy`/`engine.unknown_subject`. */
export function selectPolicies(set: PolicySet, selector: Selector): readonly PolicyPlan[] {
  const { byName, bySubject } = prepare(set);
  if (selector.policies && selector.policies.length > 0) {
    return selector.policies.map((name) => {
      const policy = byName.get(name);
      if (!policy)
        throw new SteleError("engine.unknown_policy", `no policy named \`${name}\``, {
          hint: `known policies: ${[...byName.keys()].join(", ") || "none"}`,
        });
      return policy;
    });
  }
  if (selector.subject !== undefined) {
    const policies = bySubject.get(selector.subject);
    if (!policies)
      throw new SteleError(
        "engine.unknown_subject",
        `no policy judges subject \`${selector.subject}\``,
        {
          hint: `known subjects: ${[...bySubject.keys()].join(", ") || "none"}`,
        },
      );
    return policies;
  }
  if (set.policies.length === 0)
    throw new SteleError("engine.no_policies", "the policy set has no policies", {
      hint: "add a `kind: Policy` document under policies/",
    });
  return set.policies;
}

/**
 * Judges a request: every selected policy must allow. Fails closed: an input over the limits,
 * a deny that cannot be evaluated, or an allow that cannot be evaluated never yields an allow.
 */
export function decide(set: PolicySet, request: DecisionRequest, options: DecideOptions): Decision {
  const policies =
    request.policies === undefined && request.subject === undefined && set.policies.length > 0
      ? set.policies
      : selectPolicies(set, request);
  const inputProblem = checkInput(request.input, set.project.limits);
  if (inputProblem) {
    return {
      decision: "deny",
      policies: [],
      warnings: [],
      exceptions: [],
      errors: [inputProblem],
      bundle: options.bundle,
    };
  }
  const { waivers } = prepare(set);
  if (policies.length === 1) {
    // the common case: one policy, whose lists are the decision's lists
    const only = decidePolicy(
      policies[0] as PolicyPlan,
      request.input,
      waivers.get((policies[0] as PolicyPlan).name),
      options.now,
    );
    return {
      decision: only.effect,
      policies: [only],
      warnings: only.warnings,
      exceptions: only.exceptions,
      errors: only.errors,
      bundle: options.bundle,
    };
  }
  const results = policies.map((p) =>
    decidePolicy(p, request.input, waivers.get(p.name), options.now),
  );
  return {
    decision: results.every((r) => r.effect === "allow") ? "allow" : "deny",
    policies: results,
    warnings: results.flatMap((r) => r.warnings),
    exceptions: results.flatMap((r) => r.exceptions),
    errors: results.flatMap((r) => r.errors),
    bundle: options.bundle,
  };
}

/**
 * Decides one policy: a matching enforced deny wins, else a matching allow, else the default.
 * A deny that cannot be evaluated counts as matched and no exception waives it.
 */
function decidePolicy(
  policy: PolicyPlan,
  input: unknown,
  waivers: ReadonlyMap<string, readonly ExceptionPlan[]> | undefined,
  now: number,
): PolicyDecision {
  // lists are made only when something goes in them: most decisions fill one or two
  const matched: string[] = [];
  const reasons: Reason[] = [];
  let warned: string[] | undefined;
  let warnings: string[] | undefined;
  let exceptions: (ExceptionUse & { rules: string[] })[] | undefined;
  let errors: EvalError[] | undefined;
  let denied = false;
  let allowed = false;

  for (const rule of policy.rules) {
    let hit: boolean;
    let failed = false;
    try {
      hit = rule.when.test(input);
    } catch (e) {
      errors = append(errors, evalError(policy, rule, e));
      hit = rule.effect === "deny"; // DESIGN: fail closed
      failed = true;
    }
    if (!hit) continue;
    if (rule.enforcement === "warn") {
      warned = append(warned, rule.name);
      warnings = append(warnings, `${policy.name}/${rule.name}: ${rule.message}`);
      continue;
    }
    if (rule.effect === "deny" && !failed) {
      errors ??= [];
      const waiver = waivers && findWaiver(policy, rule, waivers, input, now, errors);
      if (waiver) {
        const use = exceptions?.find((u) => u.name === waiver.name);
        if (use) use.rules.push(rule.name);
        else
          exceptions = append(exceptions, {
            name: waiver.name,
            policy: policy.name,
            rules: [rule.name],
            expires: waiver.expires,
          });
        continue;
      }
    }
    matched.push(rule.name);
    reasons.push({ rule: rule.name, effect: rule.effect, message: rule.message });
    if (rule.effect === "deny") denied = true;
    else allowed = true;
  }

  const effect: Effect = denied ? "deny" : allowed ? "allow" : policy.default;
  return {
    policy: policy.name,
    effect,
    matched,
    reasons,
    warned: warned ?? NONE,
    warnings: warnings ?? NONE,
    exceptions: exceptions ?? NONE,
    errors: errors ?? NONE,
  };
}

// DESIGN promise 9: an exception waives only while unexpired and its condition holds
function findWaiver(
  policy: PolicyPlan,
  rule: RulePlan,
  waivers: ReadonlyMap<string, readonly ExceptionPlan[]>,
  input: unknown,
  now: number,
  errors: EvalError[],
): ExceptionPlan | undefined {
  for (const exception of waivers.get(rule.name) ?? NONE) {
    if (!(now < exception.expiresAt)) continue;
    try {
      if (exception.when.test(input)) return exception;
    } catch (e) {
      // an exception that cannot be evaluated waives nothing
      errors.push({ ...evalError(policy, rule, e), exception: exception.name });
    }
  }
  return undefined;
}

function evalError(policy: PolicyPlan, rule: RulePlan, e: unknown): EvalError {
  return {
    code: "engine.eval_error",
    message: e instanceof Error ? e.message : String(e),
    policy: policy.name,
    rule: rule.name,
  };
}

// a list made on its first item: most decisions leave most lists empty
function append<T>(list: T[] | undefined, item: T): T[] {
  if (!list) return [item];
  list.push(item);
  return list;
}
