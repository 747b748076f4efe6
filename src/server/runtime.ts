import type { PolicySet } from "../language/index.js";

/** A release that verified and is being served. Immutable: a new one replaces it whole. */
export interface Active {
  readonly env: string;
  readonly version: number;
  readonly digest: string;
  readonly set: PolicySet;
  /** The verified bundle bytes, re-hashed periodically to catch tampering in memory. */
  readonly bytes: Buffer;
  /** The ledger tree size the release was verified against, and its signed checkpoint. */
  readonly treeSize: number;
  readonly checkpoint: string;
  readonly verifiedAt: number;
}

/** The decision point's health as status and metrics report it. */
export type Health = "starting" | "ok" | "stale" | "tampered" | "refusing";

/**
 * The one mutable cell of a decision point: the active release. Each request reads it once, so
 * a swap is atomic for requests (none mixes two versions), and there is no way to set it but a
 * verified release.
 */
export class Runtime {
  #active: Active | undefined;
  health: Health = "starting";
  /** Why the last update was refused, or why the state is what it is. */
  reason: string | undefined;
  lastCheck: number | undefined;
  /** When the running bundle was last re-verified. */
  lastVerified: number | undefined;
  /** When the ledger was last read successfully (freshness). */
  lastLedgerRead: number | undefined;
  /**
   * The latest time this decision point's clock read (PdpState.trustedTime): decisions never
   * judge by an earlier one, so a clock turned back cannot revive an expired exception.
   */
  trustedTime = 0;
  /**
   * How far the clock was behind the latest time trusted (its own earlier readings, and the time
   * of every release in the checkpoint it trusted) at the last read of the ledger (ms).
   */
  clockBehindMs = 0;

  constructor(readonly env: string) {}

  get active(): Active | undefined {
    return this.#active;
  }

  /** Swaps in a verified release; only the loader calls this. */
  activate(next: Active): void {
    this.#active = next;
  }
}
