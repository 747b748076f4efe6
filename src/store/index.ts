/** The store's checkpoint key and origin (made on first write). */
/** The verifier key text of the store's checkpoints. */
/** Reads the whole ledger from a store. */
/** Checks the latest checkpoint against the ledger entries. */
/** Appends entries then signs a checkpoint; `store.conflict` when someone appended first. */
/** Signs a checkpoint for entries an interrupted writer left uncovered. */
/** A stored bundle by digest, fully verified. */
export {
  appendEntries,
  coverTail,
  declaredEnvs,
  ledgerKey,
  ledgerVerifier,
  readView,
  requireCheckpointMatches,
  storedBundle,
} from "./ledger.js";
/** Opens a store by URL (`file:PATH`, the embedded default). */
export { openStore } from "./open.js";
export type { LogBatch, Store, StoredCheckpoint } from "./store.js";
/**
 * A log batch from entries one by one, its bytes checked to hold exactly its entries; a log's
 * entries read whole (tests and small logs: `scanLog` reads a run at a time).
 */
export { checkLogBatch, readLog, toLogBatch } from "./store.js";
