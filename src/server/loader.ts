import { digestOf } from "../bundle/index.js";
import { SteleError } from "../errors.js";
import {
  type Checkpoint,
  checkReleaseGates,
  encodeEntry,
  type LedgerView,
  latestRelease,
  leafHash,
  requireConsistent,
  verifyCheckpoint,
  verifyInclusion,
  verifyStoredCheckpoint,
  verifyWitness,
} from "../ledger/index.js";
import {
  declaredEnvs,
  ledgerVerifier,
  readView,
  type Store,
  storedBundle,
} from "../store/index.js";
import type { Runtime } from "./runtime.js";
import type { PdpState, StateFile } from "./state.js";

/** What the loader reports on each check, for logs and metrics. */
export interface LoadEvent {
  readonly outcome: "loaded" | "unchanged" | "refused" | "tampered" | "unavailable";
  readonly message: string;
  readonly code?: string;
}

/** How a loader checks. */
export interface LoaderOptions {
  readonly clock?: () => number;
  /**
   * A checkpoint note of this store's ledger verified elsewhere (`stele verify --witness`
   * writes one): held to from the very first start, as one this decision point had seen.
   * Without one, a new decision point trusts the ledger it first finds.
   */
  readonly witness?: string;
  /**
   * How long what runs may go without a re-verification that could read the store before the
   * decision point is `stale` (default: never): a store that stays unreadable is not waited on
   * for ever, whatever made it so.
   */
  readonly maxUnverifiedMs?: number;
}

/**
 * Resolves the environment's latest release from the ledger and verifies all of it before it is
 * served: the checkpoint's signature (by the key this PDP pinned), its consistency with the last
 * checkpoint this PDP trusted, the record's inclusion proof, every release gate, the bundle's
 * digest, and a version never below the highest this PDP ever ran. A release that fails any of
 * these is refused and the last verified one keeps serving (DESIGN promises 3 and 6).
 */
export class Loader {
  private readonly clock: () => number;
  // why what runs has not been re-verified for too long (the store unreadable), if so
  #unverified: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly runtime: Runtime,
    private readonly stateFile: StateFile,
    private readonly options: LoaderOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
  }

  // why there is nothing to serve: nothing released to this env yet, or (a mistyped --env) no
  // such env in the newest released config
  async #noRelease(view: Awaited<ReturnType<typeof readView>>, covered: number): Promise<string> {
    const env = this.runtime.env;
    const declared = await declaredEnvs(this.store, view, covered);
    return declared && !declared.includes(env)
      ? `no environment \`${env}\` in the released config (${declared.join(", ")}): check --env`
      : `no release of \`${env}\` yet`;
  }

  async refresh(): Promise<LoadEvent> {
    const now = this.clock();
    this.runtime.lastCheck = now;
    try {
      const event = await this.#refresh(now);
      this.runtime.lastLedgerRead = now;
      // a refusal's reason lasts until the ledger verifies again; tampering with what runs lasts
      // until a newly verified release replaces it
      if (this.runtime.health !== "tampered" || event.outcome === "loaded") {
        this.runtime.health = !this.runtime.active
          ? "starting"
          : this.#unverified !== undefined
            ? "stale"
            : "ok";
        // with nothing to serve, why (the ledger empty, nothing released to this env)
        this.runtime.reason = this.runtime.active ? this.#unverified : event.message;
      }
      return event;
    } catch (e) {
      if (!(e instanceof SteleError)) throw e;
      const tampered = e.kind === "tampered";
      const unavailable = e.kind === "unavailable";
      if (!unavailable && this.runtime.health !== "tampered")
        this.runtime.health = tampered ? "tampered" : "refusing";
      // a refused read is no fresh view of the ledger: staleness goes on counting
      this.runtime.reason = `${e.code}: ${e.message}`;
      return {
        outcome: tampered ? "tampered" : unavailable ? "unavailable" : "refused",
        message: e.message,
        code: e.code,
      };
    }
  }

  /** Re-checks what runs: the in-memory bundle bytes, and the stored object, against the digest. */
  async reverify(): Promise<LoadEvent> {
    const active = this.runtime.active;
    if (!active) return { outcome: "unchanged", message: "nothing loaded yet" };
    try {
      if (digestOf(active.bytes) !== active.digest)
        throw new SteleError(
          "bundle.digest_mismatch",
          `the running bundle's bytes no longer match ${active.digest}`,
        );
      const stored = await this.store.getObject(active.digest as `sha256:${string}`);
      if (!stored)
        throw new SteleError("store.corrupt", `bundle ${active.digest} disappeared from the store`);
      this.runtime.lastVerified = this.clock();
      if (this.#unverified !== undefined && this.runtime.health === "stale") {
        this.runtime.health = "ok";
        this.runtime.reason = undefined;
      }
      this.#unverified = undefined;
      return { outcome: "unchanged", message: `re-verified ${active.digest}` };
    } catch (e) {
      if (!(e instanceof SteleError)) throw e;
      // a store that did not answer in time (or could not be read) says nothing of the bytes:
      // checked again at the next round, as a refresh that cannot read the ledger is; but not
      // for ever: past the limit, what runs is no longer vouched for, and it is stale
      if (e.kind === "unavailable") {
        const since = this.runtime.lastVerified ?? active.verifiedAt;
        const limit = this.options.maxUnverifiedMs;
        if (limit !== undefined && this.clock() - since > limit) {
          this.#unverified = `not re-verified for ${Math.round((this.clock() - since) / 1000)} s, the store unreadable: ${e.code}: ${e.message}`;
          if (this.runtime.health === "ok") {
            this.runtime.health = "stale";
            this.runtime.reason = this.#unverified;
          }
        }
        return { outcome: "unavailable", message: e.message, code: e.code };
      }
      // keep serving the verified in-memory bundle; never load the tampered one
      this.runtime.health = "tampered";
      this.runtime.reason = `${e.code}: ${e.message}`;
      return { outcome: "tampered", message: e.message, code: e.code };
    }
  }

  async #refresh(now: number): Promise<LoadEvent> {
    const state = await this.stateFile.read();
    const verifier = await ledgerVerifier(this.store);
    // it has seen a checkpoint: the one it last trusted, or the one it was given to start from
    const seenOne = state.checkpoint !== undefined || this.options.witness !== undefined;
    if (!verifier) {
      if (seenOne) throw emptied();
      return { outcome: "unchanged", message: "the ledger is empty" };
    }
    // pin the ledger key on first use; a different key later is a different (forged) ledger
    if (state.vkey && state.vkey !== verifier.vkey)
      throw new SteleError(
        "ledger.bad_signature",
        "the store's ledger key changed since this decision point pinned it",
        {
          hint: "a store rebuilt or swapped under a running PDP is refused; investigate, then start with a fresh --state",
        },
      );
    const view = await readView(this.store);
    const latest = await this.store.latestCheckpoint();
    if (!latest) {
      // DESIGN promise 6: a ledger that lost what this PDP trusted is a rollback, not a fresh read
      if (seenOne) throw emptied();
      return { outcome: "unchanged", message: "no checkpoint yet" };
    }
    const checkpoint = verifyStoredCheckpoint(view, latest.note, verifier.vkey, verifier.origin);
    // the ledger only grew since each: the one it last trusted, and the witness it was given
    const seen: Checkpoint[] = [];
    if (state.checkpoint)
      seen.push(verifyCheckpoint(state.checkpoint, verifier.vkey, verifier.origin));
    if (this.options.witness !== undefined)
      seen.push(
        verifyWitness(this.options.witness, verifier, "the --witness checkpoint", WITNESS_HINT),
      );
    for (const s of seen) requireConsistent(s, checkpoint, proof(view, s, checkpoint));
    this.#checkClock(state, view, checkpoint.size, now);
    // only records a signed checkpoint covers can be proven included
    const found = latestRelease(view, this.runtime.env, checkpoint.size);
    if (!found) {
      await this.#save(state, verifier.vkey, latest.note);
      return { outcome: "unchanged", message: await this.#noRelease(view, checkpoint.size) };
    }
    const { record, index } = found;
    // DESIGN promise 6: never below what this PDP ran, even across restarts
    if (state.highestVersion !== undefined && record.version < state.highestVersion)
      throw new SteleError(
        "ledger.rollback",
        `the ledger's latest \`${record.env}\` release is v${record.version}, but this decision point already ran v${state.highestVersion}`,
        {
          hint: "the store was rolled back; keep serving the last verified release and investigate",
        },
      );
    const active = this.runtime.active;
    if (active && active.digest === record.bundle && active.version === record.version) {
      await this.#save(state, verifier.vkey, latest.note);
      return { outcome: "unchanged", message: `still v${record.version}` };
    }
    verifyInclusion({
      index,
      size: checkpoint.size,
      leafHash: leafHash(encodeEntry(record)),
      proof: view.tree.inclusionProof(index, checkpoint.size),
      root: checkpoint.root,
    });
    const checked = await checkReleaseGates(view, record, index, (d) =>
      storedBundle(this.store, d),
    );
    const bytes = await this.store.getObject(record.bundle);
    if (!bytes)
      throw new SteleError("store.corrupt", `bundle ${record.bundle} is missing from the store`);
    this.runtime.activate({
      env: record.env,
      version: record.version,
      digest: record.bundle,
      set: checked.bundle.set,
      bytes,
      treeSize: checkpoint.size,
      checkpoint: latest.note,
      verifiedAt: now,
    });
    // the release that replaces what was refused or tampered with: status says so from the moment
    // it serves, not once the state file is written
    this.runtime.health = "ok";
    this.runtime.reason = undefined;
    this.runtime.lastVerified = now;
    await this.#save(
      { ...state, highestVersion: Math.max(record.version, state.highestVersion ?? 0) },
      verifier.vkey,
      latest.note,
    );
    return {
      outcome: "loaded",
      message: `serving \`${record.env}\` v${record.version} (${record.bundle})`,
    };
  }

  // DESIGN: a clock earlier than the last checkpoint this PDP trusted is reported. What it judges
  // by never goes back past its own earlier readings (persisted); a release's time, stamped by
  // another machine's clock, is reported against but never judged by, so one release dated in
  // the future cannot move every decision point's time
  #checkClock(state: PdpState, view: LedgerView, size: number, now: number): void {
    const own = Math.max(state.trustedTime ?? 0, this.runtime.trustedTime);
    let seen = own;
    for (const r of view.releases) {
      if (r.index >= size) break;
      const t = Date.parse(r.record.time);
      if (t > seen) seen = t;
    }
    this.runtime.clockBehindMs = seen > now ? seen - now : 0;
    this.runtime.trustedTime = Math.max(own, now);
  }

  async #save(state: PdpState, vkey: string, checkpoint: string): Promise<void> {
    await this.stateFile.write({
      ...state,
      vkey,
      checkpoint,
      trustedTime: this.runtime.trustedTime,
    });
  }
}

const WITNESS_HINT =
  "the store was replaced or rewritten under a new key, or the witness is of another store; compare the store with its backups";

function emptied(): SteleError {
  return new SteleError(
    "ledger.rollback",
    "the store has no signed checkpoint, but this decision point already trusted one",
    {
      hint: "the store was removed or rolled back; keep serving the last verified release and investigate",
    },
  );
}

function proof(view: LedgerView, seen: Checkpoint, next: Checkpoint): Uint8Array[] {
  return seen.size === 0 || seen.size >= next.size
    ? []
    : view.tree.consistencyProof(seen.size, next.size);
}
