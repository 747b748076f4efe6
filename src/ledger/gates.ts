import type { LoadedBundle } from "../bundle/index.js";
import { SteleError } from "../errors.js";
import type { EnvironmentPlan, ProjectPlan } from "../language/index.js";
import { countedApprovals, type Envelope, toEnvelope, toReviewers } from "../trust/index.js";
import type { IndexedRecord, LedgerView } from "./log.js";
import type { ReleaseRecord } from "./record.js";

/** Fetches a stored bundle by digest, fully verified (`loadBundle` with the expected digest). */
export type BundleSource = (digest: string) => Promise<LoadedBundle>;

/** What a release record was checked against, for the caller to use (e.g. the diff gate). */
export interface CheckedRelease {
  readonly bundle: LoadedBundle;
  /** The config in force: of the env's current release, or (first release) the bundle's own. */
  readonly config: ProjectPlan;
  readonly environment: EnvironmentPlan;
  readonly previous: IndexedRecord | undefined;
  /** Reviewers whose approvals counted. */
  readonly approvers: readonly string[];
}

/**
 * Checks one release record against the ledger before it (entries `[0, index)`): the release
 * gates of DESIGN promises 3–6 and 10, evaluated under the config in force at that point. Used
 * both to gate a new release and to re-verify every recorded one; throws the gate's code.
 */
export async function checkReleaseGates(
  view: LedgerView,
  record: ReleaseRecord,
  index: number,
  bundles: BundleSource,
  used: ReadonlySet<string> = usedApprovals(view, index),
): Promise<CheckedRelease> {
  const before = view.releases.filter((r) => r.index < index);
  const previous = before.filter((r) => r.record.env === record.env).at(-1);
  if (
    previous === undefined ? record.previous !== null : record.previous !== previous.record.bundle
  )
    throw new SteleError(
      "ledger.tampered",
      `release of \`${record.env}\` v${record.version} names previous ${record.previous ?? "none"}, but the environment ran ${previous?.record.bundle ?? "nothing"}`,
    );
  // DESIGN promise 6: versions per environment only go up
  if (previous && record.version <= previous.record.version)
    throw new SteleError(
      "release.version_not_newer",
      `\`${record.env}\` runs v${previous.record.version}; a release must have a higher version, found v${record.version}`,
      { hint: "omit --version to take the next one" },
    );
  if ((previous === undefined) !== (record.class === "initial"))
    throw new SteleError(
      "ledger.tampered",
      `release of \`${record.env}\` v${record.version} has class \`${record.class}\``,
    );

  const bundle = await bundles(record.bundle);
  // DESIGN promise 3: a release is of reviewed source, so never of an uncommitted tree
  const unreviewed = unreviewedSource(bundle);
  if (unreviewed)
    throw new SteleError("release.dirty_tree", `bundle ${record.bundle} was ${unreviewed}`, {
      hint: UNREVIEWED_HINT,
    });
  const config = await configInForce(previous, bundle, bundles);
  const environment = config.environments.find((e) => e.name === record.env);
  if (!environment)
    throw new SteleError(
      "release.unknown_env",
      `environment \`${record.env}\` is not in the config in force`,
      {
        hint: `known environments: ${config.environments.map((e) => e.name).join(", ") || "none"}`,
      },
    );
  if (!bundle.set.project.environments.some((e) => e.name === record.env))
    throw new SteleError(
      "release.unknown_env",
      `the bundle's own config drops environment \`${record.env}\``,
      {
        hint: "keep the environment in stele.yaml",
      },
    );

  // DESIGN promise 10: prod only takes what ran where it is promoted from
  if (environment.promoteFrom !== undefined) {
    const ran = before.some(
      (r) => r.record.env === environment.promoteFrom && r.record.bundle === record.bundle,
    );
    if (!ran)
      throw new SteleError(
        "release.not_promoted",
        `\`${record.env}\` takes only bundles released to \`${environment.promoteFrom}\` first; ${record.bundle} never was`,
        {
          hint: `release it to \`${environment.promoteFrom}\` first, then \`stele promote --from ${environment.promoteFrom} --to ${record.env}\``,
        },
      );
  }

  const envelopes = approvalsFor(view, record, index, used);
  const reviewers = toReviewers(config.reviewers.map((r) => ({ name: r.name, keys: r.keys })));
  const counted = countedApprovals(envelopes, reviewers, record.bundle, record.env);
  const weakening = record.class === "weakening";
  // DESIGN promise 5: weakening needs the higher quorum and a written reason
  const need = weakening ? environment.weakeningQuorum : environment.quorum;
  if (counted.length < need) {
    const names = counted.map((a) => `\`${a.reviewer}\``).sort();
    throw new SteleError(
      weakening ? "release.weakening_quorum_not_met" : "trust.quorum_not_met",
      `${weakening ? "weakening " : ""}release of ${record.bundle} to \`${record.env}\` needs ${need} approval${need === 1 ? "" : "s"} from reviewers in the config in force, found ${counted.length}${names.length > 0 ? ` (${names.join(", ")})` : ""}`,
      {
        hint: `${need - counted.length} more reviewer${need - counted.length === 1 ? "" : "s"} must run \`stele approve BUNDLE --env ${record.env} --key FILE\``,
      },
    );
  }
  if (weakening && !record.justification?.trim())
    throw new SteleError(
      "release.justification_required",
      `release to \`${record.env}\` weakens policy and has no justification`,
      {
        hint: "say why with `stele release --justification TEXT`, or in the approvals (`stele approve --justification TEXT`); the record keeps it forever",
      },
    );
  // by name: the order approvals were handed in, or stored in, means nothing
  const approvers = counted.map((a) => a.reviewer).sort();
  return { bundle, config, environment, previous, approvers };
}

/**
 * The config whose reviewers and quorums govern a release: the one the environment runs now, or
 * for its first release the bundle's own (DESIGN promise 4: a bundle never approves itself).
 */
export async function configInForce(
  previous: IndexedRecord | undefined,
  bundle: LoadedBundle,
  bundles: BundleSource,
): Promise<ProjectPlan> {
  return previous ? (await bundles(previous.record.bundle)).set.project : bundle.set.project;
}

/** Approval digests already used by releases before `index`: an approval counts for one release. */
export function usedApprovals(view: LedgerView, index: number): Set<string> {
  return new Set(view.releases.filter((r) => r.index < index).flatMap((r) => r.record.approvals));
}

// the envelopes a record names, each an approval entry earlier in the ledger and not used before
function approvalsFor(
  view: LedgerView,
  record: ReleaseRecord,
  index: number,
  used: ReadonlySet<string>,
): Envelope[] {
  const envelopes: Envelope[] = [];
  for (const digest of record.approvals) {
    const entry = view.approvals.find((a) => a.digest === digest && a.index < index);
    if (!entry)
      throw new SteleError(
        "ledger.tampered",
        `release of \`${record.env}\` v${record.version} names approval ${digest}, which is not in the ledger before it`,
      );
    if (used.has(digest))
      throw new SteleError(
        "ledger.tampered",
        `approval ${digest} was already used by an earlier release`,
        {
          hint: "an approval counts for one release; approve again",
        },
      );
    try {
      envelopes.push(toEnvelope(entry.envelope));
    } catch {
      // a malformed envelope counts for nothing
    }
  }
  return envelopes;
}

/**
 * Why no release may take a bundle for its source (DESIGN promise 3: only committed source is
 * reviewed), or undefined when it was built from a clean commit.
 */
export function unreviewedSource(bundle: LoadedBundle): string | undefined {
  const { git } = bundle.doc;
  if (!git) return "not built from a git commit";
  return git.dirty ? "built from a tree with uncommitted changes" : undefined;
}

/** How to make a bundle whose source a release may take. */
export const UNREVIEWED_HINT =
  "commit the policy sources, then `stele build` again and approve that bundle";
