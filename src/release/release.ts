import { type Digest, type LoadedBundle, loadBundle } from "../bundle/index.js";
import { type DiffResult, diffSets } from "../diff/index.js";
import { SteleError } from "../errors.js";
import {
  approvalDigest,
  checkReleaseGates,
  configInForce,
  type Entry,
  type LedgerView,
  latestRelease,
  type ReleaseRecord,
  usedApprovals,
} from "../ledger/index.js";
import {
  appendEntries,
  coverTail,
  readView,
  requireCheckpointMatches,
  type Store,
  storedBundle,
} from "../store/index.js";
import {
  type CountedApproval,
  countedApprovals,
  type Envelope,
  toEnvelope,
  toReviewers,
} from "../trust/index.js";
import { checkRecordedRelease } from "./verify.js";

/** What to release, where, and on whose word. */
export interface ReleaseRequest {
  readonly bundle: Uint8Array;
  readonly env: string;
  /** Approval envelopes from files (`--approval`); those in the ledger are found there. */
  readonly approvals?: readonly unknown[];
  readonly justification?: string | undefined;
  /** Defaults to the environment's current version plus one. */
  readonly version?: number | undefined;
  readonly releasedBy: string;
  readonly now: Date;
  readonly promotedFrom?: string | undefined;
}

/** A release that was recorded: the record, where it sits, and the diff that classed it. */
export interface ReleaseOutcome {
  readonly record: ReleaseRecord;
  readonly index: number;
  readonly treeSize: number;
  readonly diff: DiffResult | undefined;
  readonly approvers: readonly string[];
}

// a writer that lost a race re-reads the ledger and checks every gate again
const ATTEMPTS = 8;

/**
 * Releases a bundle to an environment: every gate must hold (digest, clean tree, quorum under the
 * config in force, version order, promotion, weakening), then the bundle is stored and the record
 * appended with a new signed checkpoint. Refusals say what was expected, found, and how to fix it.
 */
export async function release(store: Store, request: ReleaseRequest): Promise<ReleaseOutcome> {
  const bundle = loadBundle(request.bundle);
  const files = (request.approvals ?? []).map((a) => toEnvelope(a));
  await store.putObject(request.bundle);
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptRelease(store, request, bundle, files);
    } catch (e) {
      if (!(e instanceof SteleError) || e.code !== "store.conflict" || attempt >= ATTEMPTS) throw e;
    }
  }
}

// the reasons the counted approvals give (`stele approve --justification`), where the release
// gives none of its own: one text when they agree, else each with its reviewer
function approversJustification(counted: readonly CountedApproval[]): string | undefined {
  const given = counted.flatMap((c) => {
    const text = c.verified.approval.justification?.trim();
    return text ? [{ reviewer: c.reviewer, text }] : [];
  });
  const texts = new Set(given.map((g) => g.text));
  if (texts.size <= 1) return [...texts][0];
  return given.map((g) => `${g.reviewer}: ${g.text}`).join("; ");
}

// refuses a bundle whose config lists a reviewer key that cannot be read, or asks more approvals
// of the env it goes to than it lists reviewers
function readableReviewers(bundle: LoadedBundle, env: string): void {
  const { reviewers, environments } = bundle.set.project;
  let why: string | undefined;
  try {
    toReviewers(reviewers.map((r) => ({ name: r.name, keys: r.keys })));
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    why = e.message;
  }
  const target = environments.find((e) => e.name === env);
  const most = target ? Math.max(target.quorum, target.weakeningQuorum) : 0;
  if (why === undefined && most > reviewers.length)
    why = `environment \`${env}\` needs ${most} approvals but the config lists ${reviewers.length} reviewer${reviewers.length === 1 ? "" : "s"}`;
  if (why !== undefined)
    throw new SteleError(
      "release.bad_config",
      `${bundle.digest} cannot be released: its stele.yaml would leave no release after it approvable (${why})`,
      {
        hint: "fix stele.yaml (`stele check` shows where: a reviewer's key, or a quorum more than its reviewers), then build and approve again",
      },
    );
}

async function attemptRelease(
  store: Store,
  request: ReleaseRequest,
  bundle: LoadedBundle,
  files: readonly Envelope[],
): Promise<ReleaseOutcome> {
  let view = await openLedger(store);
  const bundles = (digest: string) =>
    digest === bundle.digest ? Promise.resolve(bundle) : storedBundle(store, digest);
  const current = latestRelease(view, request.env);
  if (current?.record.bundle === bundle.digest)
    throw new SteleError(
      "release.already_running",
      `\`${request.env}\` already runs ${bundle.digest} (v${current.record.version})`,
      { hint: "nothing to release; build and approve a new bundle" },
    );
  // the bundle's own config is the one in force after it: were a reviewer's key in it
  // unreadable, no approval of the next release could be counted, and the env would be locked
  // for good
  readableReviewers(bundle, request.env);
  const currentBundle = current ? await storedBundle(store, current.record.bundle) : undefined;
  const diff = currentBundle ? diffSets(currentBundle.set, bundle.set) : undefined;

  // the approvals that count: unused ones in the ledger plus those given as files
  const config = await configInForce(current, bundle, bundles);
  const reviewers = toReviewers(config.reviewers.map((r) => ({ name: r.name, keys: r.keys })));
  const used = usedApprovals(view, view.size);
  const inLedger = view.approvals.filter((a) => !used.has(a.digest));
  const known = new Set(inLedger.map((a) => a.digest));
  const candidates: Envelope[] = [];
  for (const a of inLedger) {
    try {
      candidates.push(toEnvelope(a.envelope));
    } catch {
      // a malformed approval in the ledger counts for nothing
    }
  }
  candidates.push(...files.filter((f) => !known.has(approvalDigest(f))));
  const counted = countedApprovals(candidates, reviewers, bundle.digest, request.env);
  const fresh = counted.map((c) => c.envelope).filter((e) => !known.has(approvalDigest(e)));
  if (fresh.length > 0) {
    // approvals are history too: they enter the ledger before the record that uses them
    view = await appendEntries(
      store,
      view,
      fresh.map((envelope): Entry => ({ type: "stele.approval/v1", envelope })),
    );
  }

  const record: ReleaseRecord = {
    type: "stele.release/v1",
    env: request.env,
    version: request.version ?? (current?.record.version ?? 0) + 1,
    bundle: bundle.digest as Digest,
    previous: (current?.record.bundle ?? null) as Digest | null,
    approvals: counted.map((c) => approvalDigest(c.envelope)).sort(),
    class: diff ? diff.class : "initial",
    changes: diff
      ? diff.changes.map((c) => ({
          class: c.class,
          subject: c.subject,
          description: c.description,
        }))
      : [],
    justification: request.justification?.trim() || approversJustification(counted) || null,
    git: bundle.doc.git,
    promotedFrom: request.promotedFrom ?? null,
    time: request.now.toISOString(),
    releasedBy: request.releasedBy,
  };
  const checked = await checkReleaseGates(view, record, view.size, bundles);
  const after = await appendEntries(store, view, [record]);
  return {
    record,
    index: view.size,
    treeSize: after.size,
    diff,
    approvers: checked.approvers,
  };
}

/**
 * Reads the ledger, checks it against its latest checkpoint, and covers an interrupted tail: the
 * entries a release wrote before it was stopped, and only once each passes every gate again.
 */
export async function openLedger(store: Store): Promise<LedgerView> {
  const view = await readView(store);
  await requireCheckpointMatches(store, view);
  await requireTailPasses(store, view);
  await coverTail(store, view);
  return view;
}

// DESIGN promise 8: entries past the last checkpoint are signed only if they are what a release
// would have written; anything appended by hand is refused, never signed into the history
async function requireTailPasses(store: Store, view: LedgerView): Promise<void> {
  const covered = (await store.latestCheckpoint())?.size ?? 0;
  if (view.size <= covered) return;
  const refuse = (index: number, e: unknown) =>
    new SteleError(
      "ledger.tampered",
      `ledger entry ${index} has no checkpoint and is not what a release writes: ${e instanceof Error ? e.message : String(e)}`,
      {
        hint: "nothing was signed; run `stele verify` for the full report and restore the store from a copy",
        cause: e,
      },
    );
  for (const a of view.approvals) {
    if (a.index < covered) continue;
    try {
      toEnvelope(a.envelope);
    } catch (e) {
      throw refuse(a.index, e);
    }
  }
  for (const r of view.releases) {
    if (r.index < covered) continue;
    try {
      await checkRecordedRelease(store, view, r.record, r.index);
    } catch (e) {
      throw refuse(r.index, e);
    }
  }
}

/**
 * Promotes what one environment runs to the next (DESIGN promise 10): the same bundle digest,
 * never rebuilt, through every release gate of the target environment.
 */
export async function promote(
  store: Store,
  request: Omit<ReleaseRequest, "bundle" | "promotedFrom"> & { readonly from: string },
): Promise<ReleaseOutcome> {
  const view = await openLedger(store);
  const source = latestRelease(view, request.from);
  if (!source)
    throw new SteleError(
      "release.nothing_to_promote",
      `\`${request.from}\` has no release to promote`,
      {
        hint: `release a bundle to \`${request.from}\` first with \`stele release BUNDLE --env ${request.from}\``,
      },
    );
  const bytes = await store.getObject(source.record.bundle);
  if (!bytes)
    throw new SteleError("store.not_found", `bundle ${source.record.bundle} is not in the store`);
  return release(store, { ...request, bundle: bytes, promotedFrom: request.from });
}

/**
 * Records a signed approval in the ledger (it is part of the history) and returns its digest.
 * Recording the same envelope twice records it once.
 */
export async function recordApproval(store: Store, envelope: unknown): Promise<Digest> {
  const checked = toEnvelope(envelope);
  const digest = approvalDigest(checked);
  for (let attempt = 1; ; attempt++) {
    const view = await openLedger(store);
    if (view.approvals.some((a) => a.digest === digest)) return digest;
    try {
      await appendEntries(store, view, [{ type: "stele.approval/v1", envelope: checked }]);
      return digest;
    } catch (e) {
      if (!(e instanceof SteleError) || e.code !== "store.conflict" || attempt >= ATTEMPTS) throw e;
    }
  }
}
