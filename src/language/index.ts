export type { CelOptions, CelProblem, CelProgram } from "./cel.js";
/** Parses, type-checks and compiles one CEL expression to a JavaScript function. */
/** Raised when a condition cannot be evaluated on an input; the engine fails closed on it. */
export { CelEvalError, compileCel } from "./cel.js";
/**
 * Runs each rule's own function, one by one (a policy's rules unfused); NOT_PROVEN is what a
 * proving group returns for an input it cannot vouch for.
 */
export { NOT_PROVEN, runEach as runConditions } from "./cel-fuse.js";
export type { CompileOptions, CompileResult } from "./compile.js";
/** Compiles a repository's sources into the plan the engine runs, or reports every problem. */
export { compile } from "./compile.js";
export type { Diagnostic } from "./diagnostics.js";
/** `file:line:col: message` with the source line and a caret, then the hint. */
export { formatDiagnostic } from "./diagnostics.js";
export { conditionImplies } from "./implies.js";
/** Parses an input document given as JSON or YAML into a plain JSON value. */
export { parseInputDocument } from "./input.js";
export type { InputProblem } from "./input-limits.js";
/** Checks an input is a JSON value within the project's limits (size, depth). */
export { checkInput } from "./input-limits.js";
export type { InputProof } from "./input-proof.js";
/** A fast proof that an input of a schema's shape is within the limits (else run checkInput). */
export { makeInputProof } from "./input-proof.js";
/** Reads a policy repository's sources from disk, sorted, paths relative to the repo. */
export { readSources } from "./load.js";
export type {
  CheckedRulesEvaluator,
  Condition,
  Effect,
  Enforcement,
  EnvironmentPlan,
  ExceptionPlan,
  LimitsPlan,
  PolicyPlan,
  PolicySet,
  ProjectPlan,
  ReviewerPlan,
  RulePlan,
  TestCasePlan,
  TestPlan,
} from "./plan.js";
/** Default bounds on one decision's input when stele.yaml sets none. */
export { DEFAULT_LIMITS } from "./plan.js";
/** One source file: path and text; positions are computed from offsets when shown. */
export { Source } from "./source.js";
export { didYouMean } from "./suggest.js";
