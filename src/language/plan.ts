import type { Position } from "../errors.js";

/** What a rule or a policy's default does when it applies. */
export type Effect = "allow" | "deny";

/** `warn` rules are reported and never block; enforce→warn is a weakening. */
export type Enforcement = "enforce" | "warn";

/** A checked CEL condition: its source text and the compiled test the engine runs. */
export interface Condition {
  /** The CEL text exactly as written in the document. */
  readonly source: string;
  /** Evaluates the condition on a request input; throws when it cannot be evaluated. */
  readonly test: (input: unknown) => boolean;
}

/** One rule of a policy, compiled. */
export interface RulePlan {
  readonly name: string;
  readonly effect: Effect;
  readonly enforcement: Enforcement;
  readonly message: string;
  readonly when: Condition;
  readonly position: Position;
}

/**
 * Every rule condition of a policy in one pass, each with its own CEL semantics and budget:
 * finds for each rule `rules[i]` its outcome: 0 (no match), 1 (match) or 2 (cannot be evaluated,
 * the error in `errors[i]`), exactly as `rules[i].when.test` would return or throw. Returns either
 * a bit mask of the rules whose outcome is not 0 (bit i for rule i), with
 * `outcome[rules.length]` the mask of those whose outcome is 2 (no other entry is set), or -1:
 * `outcome[i]` is set for every rule.
 */
export type RulesEvaluator = (input: unknown, outcome: number[], errors: unknown[]) => number;

/** A policy, compiled: its rules in source order. */
export interface PolicyPlan {
  readonly name: string;
  readonly description: string | undefined;
  /** Name of the input schema (`schemas/<subject>.json`) the rules were checked against. */
  readonly subject: string | undefined;
  readonly default: Effect;
  readonly rules: readonly RulePlan[];
  readonly position: Position;
  /** The rules' conditions fused (when they could be); the engine prefers it to each `test`. */
  readonly evaluate?: RulesEvaluator;
  /**
   * `evaluate` behind a walk that first proves the input within the limits (the project's
   * `maxInputBytes` and `maxInputDepth`, passed in) and of the subject's types, reading each field
   * once for both. Returns NOT_PROVEN (-2) and judges nothing when it cannot vouch for the input:
   * the engine then checks the input itself and runs `evaluate`.
   */
  readonly evaluateChecked?: CheckedRulesEvaluator;
}

/** `RulesEvaluator` that proves its input first; see `PolicyPlan.evaluateChecked`. */
export type CheckedRulesEvaluator = (
  input: unknown,
  outcome: number[],
  errors: unknown[],
  maxBytes: number,
  maxDepth: number,
) => number;

/** A time-boxed waiver of named deny rules of one policy. */
export interface ExceptionPlan {
  readonly name: string;
  readonly description: string | undefined;
  readonly policy: string;
  readonly rules: readonly string[];
  readonly when: Condition;
  /** RFC 3339 as written, normalised to `toISOString()` form. */
  readonly expires: string;
  /** `expires` in milliseconds since the epoch. */
  readonly expiresAt: number;
  readonly owner: string;
  readonly justification: string;
  readonly position: Position;
}

/** One test case: an input and the decision it must get. */
export interface TestCasePlan {
  readonly name: string;
  readonly input: unknown;
  readonly expect: Effect;
  /** Rules that must have matched (enforced matches), if given. */
  readonly rules: readonly string[] | undefined;
  /** Exceptions that must have been used, if given. */
  readonly exceptions: readonly string[] | undefined;
  /** Rules that must have warned, if given. */
  readonly warnings: readonly string[] | undefined;
  /** RFC 3339, overrides the test's `now`. */
  readonly now: string | undefined;
  readonly position: Position;
}

/** A test document: which policies judge, a fixed clock, cases. */
export interface TestPlan {
  readonly name: string;
  readonly policies: readonly string[] | undefined;
  readonly subject: string | undefined;
  readonly now: string | undefined;
  readonly cases: readonly TestCasePlan[];
  readonly position: Position;
}

/** A reviewer listed in the project config. */
export interface ReviewerPlan {
  readonly name: string;
  /** Public keys exactly as written (`key` or `keys`): `ssh-ed25519 …`, PEM, or base64. */
  readonly keys: readonly string[];
  readonly email: string | undefined;
}

/** An environment and its release rules. */
export interface EnvironmentPlan {
  readonly name: string;
  readonly quorum: number;
  /** Defaults to `quorum`; never lower than it. */
  readonly weakeningQuorum: number;
  readonly promoteFrom: string | undefined;
}

/** Bounds on the work one decision may do. */
export interface LimitsPlan {
  readonly maxInputBytes: number;
  readonly maxInputDepth: number;
}

/** The project config (`stele.yaml`). */
export interface ProjectPlan {
  readonly name: string;
  readonly reviewers: readonly ReviewerPlan[];
  readonly environments: readonly EnvironmentPlan[];
  readonly exceptions: { readonly maxDuration: string; readonly maxDurationMs: number };
  readonly limits: LimitsPlan;
}

/** Everything a policy repository compiles to; what the engine runs and the bundle ships. */
export interface PolicySet {
  readonly project: ProjectPlan;
  readonly policies: readonly PolicyPlan[];
  readonly exceptions: readonly ExceptionPlan[];
  readonly tests: readonly TestPlan[];
  /** Input schemas by subject name (`schemas/<name>.json`), as parsed JSON. */
  readonly schemas: Readonly<Record<string, unknown>>;
}

/** Default bounds when `stele.yaml` sets none. */
export const DEFAULT_LIMITS: LimitsPlan = { maxInputBytes: 1024 * 1024, maxInputDepth: 64 };
