/** Inputs from either version's tests that the old set denies and the new one allows. */
export { type Counterexample, counterexamples } from "./counterexample.js";
export type { Change, ChangeClass, DiffResult } from "./diff.js";
/** Diffs two policy sets; any change not provably stronger is classed as weakening. */
export { diffSets } from "./diff.js";
