export type {
  DriftOptions,
  DriftReport,
  EnvDrift,
  PdpDrift,
  PdpStatus,
  SourceDrift,
} from "./drift.js";
/** Compares the ledger with enforcement points and a source tree; drift is a result, not an error. */
export { detectDrift } from "./drift.js";
