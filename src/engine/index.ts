export type {
  DecideOptions,
  Decision,
  DecisionRequest,
  EvalError,
  ExceptionUse,
  PolicyDecision,
  Reason,
  Selector,
} from "./decide.js";
/** Judges a request by the selected policies; fails closed on any evaluation failure. */
/** The policies a selector names; throws on an unknown policy or subject. */
export { decide, selectPolicies } from "./decide.js";
export type { CaseResult, TestReport } from "./tests.js";
/** Runs every policy test case and reports each difference between expected and actual. */
export { runTests } from "./tests.js";
