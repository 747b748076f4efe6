import { type History, history } from "../../release/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, stringOpt } from "../command.js";

/** `stele log [--env ENV]`: the release history. */
export const log: Command<History> = {
  summary: "show the release history from the ledger",
  usage: "[--env ENV]",
  options: { env: { type: "string" } },
  help: { env: "only this environment's releases" },
  async run(args) {
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    try {
      return await history(store, stringOpt(args, "env"));
    } finally {
      await store.close();
    }
  },
  exit: () => Exit.ok,
  human: (r) => {
    if (r.releases.length === 0) return "no releases yet";
    const first = r.size - r.uncovered;
    const rows = r.releases.map(({ index, record: x }) => [
      // an entry no checkpoint vouches for yet
      index >= first ? `${index}*` : String(index),
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
    const note =
      r.uncovered > 0
        ? [
            `* ${r.uncovered} ledger entr${r.uncovered === 1 ? "y" : "ies"} past the last signed checkpoint: not vouched for yet (the next release covers them only if they pass every gate; \`stele verify\` checks them now)`,
          ]
        : [];
    return [fmt(head), ...rows.map(fmt), ...note].join("\n");
  },
  json: (r) => ({
    size: r.size,
    uncovered: r.uncovered,
    current: r.current,
    releases: r.releases.map((x) => ({ index: x.index, ...x.record })),
  }),
};
