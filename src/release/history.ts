import { SteleError } from "../errors.js";
import { type IndexedRecord, latestRelease } from "../ledger/index.js";
import { declaredEnvs, readView, requireCheckpointMatches, type Store } from "../store/index.js";

/** The release history as `stele log` shows it. */
export interface History {
  readonly size: number;
  /** Entries past the last signed checkpoint: not vouched for yet (`stele verify` checks them). */
  readonly uncovered: number;
  readonly releases: readonly IndexedRecord[];
  /** What each environment runs: its latest release a checkpoint vouches for. */
  readonly current: Readonly<Record<string, { version: number; bundle: string }>>;
}

/**
 * The release history, read only: it never signs anything into the ledger, so entries no
 * checkpoint covers yet are shown (and counted) but never count as what an environment runs.
 */
export async function history(store: Store, env?: string): Promise<History> {
  const view = await readView(store);
  await requireCheckpointMatches(store, view);
  const covered = Math.min(view.size, (await store.latestCheckpoint())?.size ?? 0);
  const envs = [...new Set(view.releases.map((r) => r.record.env))];
  // an env asked for that nothing released and the newest config does not declare: a typo,
  // not an env with no releases yet
  if (env !== undefined && !envs.includes(env)) {
    const declared = await declaredEnvs(store, view);
    if (declared && !declared.includes(env))
      throw new SteleError("release.unknown_env", `no environment \`${env}\``, {
        hint: `environments: ${declared.join(", ") || "none"}`,
      });
  }
  const current = Object.fromEntries(
    envs.flatMap((e) => {
      const r = latestRelease(view, e, covered)?.record;
      return r ? [[e, { version: r.version, bundle: r.bundle }]] : [];
    }),
  );
  return {
    size: view.size,
    uncovered: view.size - covered,
    releases: view.releases.filter((r) => env === undefined || r.record.env === env),
    current,
  };
}
