import { type IndexedRecord, latestRelease } from "../../ledger/index.js";
import { openLedger } from "../../release/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, stringOpt } from "../command.js";

interface LogResult {
  readonly size: number;
  readonly releases: readonly IndexedRecord[];
  readonly current: Readonly<Record<string, { version: number; bundle: string }>>;
}

/** `stele log [--env ENV]`: the release history. */
export const log: Command<LogResult> = {
  summary: "show the release history from the ledger",
  usage: "[--env ENV]",
  options: { env: { type: "string" } },
  help: { env: "only this environment's releases" },
  async run(args) {
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    try {
      const view = await openLedger(store);
      const env = stringOpt(args, "env");
      const releases = view.releases.filter((r) => env === undefined || r.record.env === env);
      const envs = [...new Set(view.releases.map((r) => r.record.env))];
      const current = Object.fromEntries(
        envs.map((e) => {
          const r = latestRelease(view, e)?.record;
          return [e, { version: r?.version ?? 0, bundle: r?.bundle ?? "" }];
        }),
      );
      return { size: view.size, releases, current };
    } finally {
      await store.close();
    }
  },
  exit: () => Exit.ok,
  human: (r) => {
    if (r.releases.length === 0) return "no releases yet";
    const rows = r.releases.map(({ index, record: x }) => [
      String(index),
      x.time.slice(0, 19).replace("T", " "),
      x.env,
      `v${x.version}`,
      x.bundle.slice(0, 19),
      x.class,
      String(x.approvals.length),
      x.releasedBy,
      x.justification ?? (x.promotedFrom ? `promoted from ${x.promotedFrom}` : ""),
    ]);
    const head = [
      "#",
      "time (UTC)",
      "env",
      "version",
      "bundle",
      "change",
      "approvals",
      "by",
      "note",
    ];
    const widths = head.map((h, i) =>
      Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)),
    );
    const fmt = (row: string[]) =>
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd();
    return [fmt(head), ...rows.map(fmt)].join("\n");
  },
  json: (r) => ({
    size: r.size,
    current: r.current,
    releases: r.releases.map((x) => ({ index: x.index, ...x.record })),
  }),
};
