import { type Code, SteleError } from "../errors.js";
import {
  type CheckedRulesEvaluator,
  checkInput,
  type Effect,
  type ExceptionPlan,
  type InputProof,
  makeInputProof,
  NOT_PROVEN,
  type PolicyPlan,
  type PolicySet,
  type RulePlan,
  runConditions,
} from "../language/index.js";

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

type RulesEvaluator = NonNullable<PolicyPlan["evaluate"]>;

// one policy made ready to judge: where its rules' outcomes go, and what it reports per rule
interface Judge {
  readonly policy: PolicyPlan;
  readonly evaluate: RulesEvaluator;
  // each rule's own compiled condition: the reference path
  readonly tests: readonly ((input: unknown) => boolean)[];
  // per rule, what a match means: one small integer each, so the loop reads no rule object
  readonly kinds: readonly number[];
  readonly outcome: number[];
  readonly errors: unknown[];
  // per rule: the exceptions that may waive it, if any
  readonly waivers: readonly (readonly ExceptionPlan[] | undefined)[];
  // frozen: the same reason object goes into every decision the rule counts in
  readonly reasons: readonly Reason[];
  readonly warnings: readonly string[];
  // the rules' conditions behind a proof of the input (of the policy's subject) within the limits
  readonly checked: CheckedRulesEvaluator | undefined;
  // that proof alone, for a policy whose conditions could not be fused
  readonly proof: InputProof | undefined;
  // rules a match of which is decided per input (an exception may waive it): bit i for rule i
  readonly waivable: number;
  // verdicts by the mask of matching rules, when every match is clean (no error, no waiver):
  // the verdict is then a function of the mask alone, so it is made once and shared (at most
  // MAX_MEMO of them; past it, verdicts are made per decision as usual)
  readonly memo: Map<number, Memo>;
  // in front of it, a place per hash of the mask (MEMO_SLOTS) for the last verdict of that hash
  readonly slotKeys: Int32Array;
  readonly slots: (Memo | undefined)[];
}

// a shared verdict, and the whole decision made of it alone (per bundle digest)
interface Memo {
  readonly policy: PolicyDecision;
  whole: Decision | undefined;
}

// bounds each policy's shared verdicts
const MAX_MEMO = 4096;
// places in front of them (a power of 2), and the shift that hashes a mask to one
const MEMO_SLOTS = 1024;
const MEMO_SHIFT = 32 - Math.log2(MEMO_SLOTS);
const memoSlot = (mask: number) => Math.imul(mask, 0x9e3779b1) >>> MEMO_SHIFT;
// the memo entry of the last verdict decidePolicy returned from its memo, else undefined
let lastMemo: Memo | undefined;

interface Prepared {
  readonly all: readonly Judge[];
  readonly byName: ReadonlyMap<string, Judge>;
  readonly bySubject: ReadonlyMap<string, readonly Judge[]>;
}

const prepared = new WeakMap<PolicySet, Prepared>();
// the set of the previous decision: servers judge by one set for a long time
let lastSet: PolicySet | undefined;
let lastPrepared: Prepared | undefined;
// shared by every decision that has nothing to list; frozen so no caller can fill it
const NONE: readonly never[] = Object.freeze([]);

function prepare(set: PolicySet): Prepared {
  if (set === lastSet && lastPrepared) return lastPrepared;
  let result = prepared.get(set);
  if (!result) {
    const waivers = new Map<string, Map<string, ExceptionPlan[]>>();
    for (const e of set.exceptions) {
      const rules = waivers.get(e.policy) ?? new Map<string, ExceptionPlan[]>();
      for (const r of e.rules) rules.set(r, [...(rules.get(r) ?? []), e]);
      waivers.set(e.policy, rules);
    }
    const proofs = new Map<string, InputProof | undefined>();
    const proof = (subject: string | undefined) => {
      if (subject === undefined) return undefined;
      if (!proofs.has(subject)) proofs.set(subject, makeInputProof(set.schemas[subject]));
      return proofs.get(subject);
    };
    const all = set.policies.map((p) => makeJudge(p, waivers.get(p.name), proof(p.subject)));
    const byName = new Map(all.map((j) => [j.policy.name, j]));
    const bySubject = new Map<string, Judge[]>();
    for (const j of all) {
      if (j.policy.subject === undefined) continue;
      const list = bySubject.get(j.policy.subject) ?? [];
      list.push(j);
      bySubject.set(j.policy.subject, list);
    }
    result = { all, byName, bySubject };
    prepared.set(set, result);
  }
  lastSet = set;
  lastPrepared = result;
  return result;
}

function makeJudge(
  policy: PolicyPlan,
  waivers: ReadonlyMap<string, readonly ExceptionPlan[]> | undefined,
  proof: InputProof | undefined,
): Judge {
  const rules = policy.rules;
  const tests = rules.map((r) => r.when.test);
  const kinds = rules.map((r) => ruleKind(r, waivers?.get(r.name) !== undefined));
  let waivable = 0;
  for (const [i, k] of kinds.entries()) if (k === WAIVABLE_DENY && i < 31) waivable |= 1 << i;
  return {
    policy,
    tests,
    evaluate:
      policy.evaluate ?? ((input, outcome, errors) => runConditions(tests, input, outcome, errors)),
    kinds,
    // one more: a mask's errors (RulesEvaluator)
    outcome: new Array<number>(rules.length + 1).fill(0),
    errors: new Array<unknown>(rules.length).fill(undefined),
    waivers: rules.map((r) => waivers?.get(r.name)),
    reasons: rules.map((r) =>
      Object.freeze({ rule: r.name, effect: r.effect, message: r.message }),
    ),
    warnings: rules.map((r) => `${policy.name}/${r.name}: ${r.message}`),
    checked: policy.evaluateChecked,
    proof,
    waivable,
    memo: new Map(),
    // no mask is -1: every place starts empty
    slotKeys: new Int32Array(MEMO_SLOTS).fill(-1),
    slots: new Array<Memo | undefined>(MEMO_SLOTS).fill(undefined),
  };
}

// what a rule's match means (Judge.kinds)
const ALLOW = 0;
const DENY = 1;
const WAIVABLE_DENY = 2;
const WARN_DENY = 3;
const WARN_ALLOW = 4;

function ruleKind(rule: RulePlan, waivable: boolean): number {
  if (rule.enforcement === "warn") return rule.effect === "deny" ? WARN_DENY : WARN_ALLOW;
  if (rule.effect !== "deny") return ALLOW;
  return waivable ? WAIVABLE_DENY : DENY;
}

function selectJudges(set: PolicySet, selector: Selector): readonly Judge[] {
  const { all, byName, bySubject } = prepare(set);
  if (selector.policies && selector.policies.length > 0) {
    return selector.policies.map((name) => {
      const judge = byName.get(name);
      if (!judge)
        throw new SteleError("engine.unknown_policy", `no policy named \`${name}\``, {
          hint: `known policies: ${[...byName.keys()].join(", ") || "none"}`,
        });
      return judge;
    });
  }
  if (selector.subject !== undefined) {
    const judges = bySubject.get(selector.subject);
    if (!judges)
      throw new SteleError(
        "engine.unknown_subject",
        `no policy judges subject \`${selector.subject}\``,
        {
          hint: `known subjects: ${[...bySubject.keys()].join(", ") || "none"}`,
        },
      );
    return judges;
  }
  if (all.length === 0)
    throw new SteleError("engine.no_policies", "the policy set has no policies", {
      hint: "add a `kind: Policy` document under policies/",
    });
  return all;
}

/** The policies a selector names; throws `engine.unknown_policy`/`engine.unknown_subject`. */
export function selectPolicies(set: PolicySet, selector: Selector): readonly PolicyPlan[] {
  return selectJudges(set, selector).map((j) => j.policy);
}

/**
 * Judges a request: every selected policy must allow. Fails closed: an input over the limits,
 * a deny that cannot be evaluated, or an allow that cannot be evaluated never yields an allow.
 */
export function decide(set: PolicySet, request: DecisionRequest, options: DecideOptions): Decision {
  const judges =
    request.policies === undefined && request.subject === undefined && set.policies.length > 0
      ? prepare(set).all
      : selectJudges(set, request);
  // the schema-shaped walk proves most inputs fine (and the first policy's conditions run on the
  // fields it read); anything else gets the generic one
  const { input } = request;
  const limits = set.project.limits;
  const first = judges[0] as Judge | undefined;
  // the first policy's mask when its conditions ran behind the proof
  let firstMask = NOT_PROVEN;
  let fine = false;
  if (first !== undefined) {
    // the walks read fields the generic walk may not (a getter that throws): anything they cannot
    // answer is left to the generic walk and each rule's own function
    try {
      if (first.checked !== undefined) {
        firstMask = first.checked(
          input,
          first.outcome,
          first.errors,
          limits.maxInputBytes,
          limits.maxInputDepth,
        );
        fine = firstMask !== NOT_PROVEN;
      } else if (first.proof !== undefined) {
        fine = first.proof(input, limits.maxInputBytes, limits.maxInputDepth);
      }
    } catch {
      firstMask = NOT_PROVEN;
    }
  }
  if (!fine) {
    const problem = checkInput(input, limits);
    if (problem) {
      return {
        decision: "deny",
        policies: [],
        warnings: [],
        exceptions: [],
        errors: [problem],
        bundle: options.bundle,
      };
    }
  }
  if (judges.length === 1) {
    const judge = first as Judge;
    // the common case: a clean mask (no error, nothing to waive) decided before
    if (firstMask >= 0 && ((firstMask & judge.waivable) | errorMask(judge)) === 0) {
      const whole = sharedVerdict(judge, firstMask)?.whole;
      if (whole !== undefined && whole.bundle === options.bundle) return whole;
    }
    // one policy, whose lists are the decision's lists
    lastMemo = undefined;
    const only = decidePolicy(judge, input, options.now, firstMask);
    const memo = lastMemo as Memo | undefined;
    if (memo?.whole !== undefined && memo.whole.bundle === options.bundle) return memo.whole;
    const whole: Decision = {
      decision: only.effect,
      policies: [only],
      warnings: only.warnings,
      exceptions: only.exceptions,
      errors: only.errors,
      bundle: options.bundle,
    };
    if (memo) memo.whole = deepFreeze(whole);
    return whole;
  }
  const results = judges.map((j, i) =>
    decidePolicy(j, request.input, options.now, i === 0 ? firstMask : NOT_PROVEN),
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
 * A deny that cannot be evaluated counts as matched and no exception waives it. `given` is the
 * rules' mask when they already ran (behind the input's proof), else NOT_PROVEN.
 */
function decidePolicy(judge: Judge, input: unknown, now: number, given: number): PolicyDecision {
  const { policy, outcome, kinds } = judge;
  const rules = policy.rules;
  let mask = given;
  if (mask === NOT_PROVEN) {
    try {
      mask = judge.evaluate(input, outcome, judge.errors);
    } catch {
      // the fused path reads fields outside any rule (a getter that throws, on an input that is
      // not JSON): each rule's own function then decides, with its own error
      mask = runConditions(judge.tests, input, outcome, judge.errors);
    }
  }
  // a mask whose every match is clean (outcome 1, no exception that waives it) decides alone
  const clean =
    mask >= 0 &&
    errorMask(judge) === 0 &&
    ((mask & judge.waivable) === 0 || !mayWaive(judge, mask, input, now));
  const shared = clean ? sharedVerdict(judge, mask) : undefined;
  if (shared) {
    lastMemo = shared;
    return shared.policy;
  }
  // lists are made only when something goes in them: most decisions fill one or two
  let matched: string[] | undefined;
  let reasons: Reason[] | undefined;
  let warned: string[] | undefined;
  let warnings: string[] | undefined;
  let exceptions: (ExceptionUse & { rules: string[] })[] | undefined;
  let errors: EvalError[] | undefined;
  let denied = false;
  let allowed = false;

  // the rules whose outcome is not 0, in rule order: from the mask, or by looking at each
  const failed = mask === -1 ? 0 : errorMask(judge);
  let left = mask;
  let i = -1;
  for (;;) {
    if (mask === -1) {
      if (++i >= rules.length) break;
      if (outcome[i] === 0) continue;
    } else {
      if (left === 0) break;
      const bit = left & -left;
      left ^= bit;
      i = 31 - Math.clz32(bit);
    }
    const o = mask === -1 ? outcome[i] : (failed & (1 << i)) !== 0 ? 2 : 1;
    const kind = kinds[i];
    if (o === 2) {
      errors = append(errors, evalError(policy, rules[i] as RulePlan, judge.errors[i]));
      // DESIGN: fail closed; an allow that cannot be evaluated grants nothing, a deny matches
      // and no exception waives it
      if (kind === ALLOW || kind === WARN_ALLOW) continue;
    } else if (kind === WAIVABLE_DENY) {
      const rule = rules[i] as RulePlan;
      errors ??= [];
      const waiver = findWaiver(policy, rule, judge.waivers[i] ?? NONE, input, now, errors);
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
    if (kind === WARN_DENY || kind === WARN_ALLOW) {
      warned = append(warned, (rules[i] as RulePlan).name);
      warnings = append(warnings, judge.warnings[i] as string);
      continue;
    }
    const reason = judge.reasons[i] as Reason;
    matched = append(matched, reason.rule);
    reasons = append(reasons, reason);
    if (kind === ALLOW) allowed = true;
    else denied = true;
  }

  const effect: Effect = denied ? "deny" : allowed ? "allow" : policy.default;
  const verdict: PolicyDecision = {
    policy: policy.name,
    effect,
    matched: matched ?? NONE,
    reasons: reasons ?? NONE,
    warned: warned ?? NONE,
    warnings: warnings ?? NONE,
    exceptions: exceptions ?? NONE,
    errors: errors === undefined || errors.length === 0 ? NONE : errors,
  };
  if (clean && judge.memo.size < MAX_MEMO) {
    const memo: Memo = { policy: deepFreeze(verdict), whole: undefined };
    judge.memo.set(mask, memo);
    lastMemo = memo;
  }
  return verdict;
}

// the shared verdict of a clean mask, if made already
function sharedVerdict(judge: Judge, mask: number): Memo | undefined {
  const slot = memoSlot(mask);
  if (judge.slotKeys[slot] === mask) return judge.slots[slot];
  const memo = judge.memo.get(mask);
  if (memo) {
    judge.slotKeys[slot] = mask;
    judge.slots[slot] = memo;
  }
  return memo;
}

// the rules of the last mask that could not be evaluated (RulesEvaluator)
function errorMask(judge: Judge): number {
  return judge.outcome[judge.policy.rules.length] as number;
}

// a shared verdict and everything in it: no caller can change what another is given
function deepFreeze<T extends object>(value: T): T {
  for (const v of Object.values(value))
    if (typeof v === "object" && v !== null && !Object.isFrozen(v)) deepFreeze(v);
  return Object.freeze(value);
}

// whether an exception may waive a rule of the mask: one that holds, or one that cannot be
// evaluated (its error is reported), for any of the mask's waivable rules
function mayWaive(judge: Judge, mask: number, input: unknown, now: number): boolean {
  for (let left = mask & judge.waivable; left !== 0; ) {
    const bit = left & -left;
    left ^= bit;
    for (const exception of judge.waivers[31 - Math.clz32(bit)] ?? NONE) {
      if (!(now < exception.expiresAt)) continue;
      try {
        if (exception.when.test(input)) return true;
      } catch {
        return true;
      }
    }
  }
  return false;
}

// DESIGN promise 9: an exception waives only while unexpired and its condition holds
function findWaiver(
  policy: PolicyPlan,
  rule: RulePlan,
  candidates: readonly ExceptionPlan[],
  input: unknown,
  now: number,
  errors: EvalError[],
): ExceptionPlan | undefined {
  for (const exception of candidates) {
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
