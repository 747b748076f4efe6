export type { Change, ChangeClass, DiffResult } from "./diff.js";
/** Diffs two policy sets; any change not provably stronger is classed as weakening. */
export { diffSets } from "./diff.js";
