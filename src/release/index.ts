export type { History } from "./history.js";
/** The release history, read only: what each environment runs, and entries not vouched for yet. */
export { history } from "./history.js";
export type { ReleaseOutcome, ReleaseRequest } from "./release.js";
/** Releases a bundle to an environment through every gate, appending the record. */
/** Releases the digest one environment runs to the next, through the target's gates. */
/** Reads the ledger, checks it against its checkpoint, and covers an interrupted tail. */
/** Records a signed approval in the ledger and returns its digest. */
export { openLedger, promote, recordApproval, release } from "./release.js";
export type { VerifyReport } from "./verify.js";
/** Verifies the whole ledger, every checkpoint, bundle and release gate; reports the first bad entry. */
export { verifyLedger } from "./verify.js";
