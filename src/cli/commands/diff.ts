import { type DiffResult, diffSets } from "../../diff/index.js";
import { type Command, Exit, parseNow, stringOpt, usageError } from "../command.js";
import { openTarget } from "../tree.js";

interface DiffOutput extends DiffResult {
  readonly old: string;
  readonly new: string;
}

/** `stele diff OLD NEW`: semantic diff of two bundles or directories. */
export const diff: Command<DiffOutput> = {
  summary: "semantic diff of two bundles or directories; exit 3 when the new one weakens policy",
  usage: "OLD NEW",
  options: { now: { type: "string" } },
  help: { now: "the time exception expiries are checked against, for directories (default: now)" },
  async run(args, io) {
    const [a, b] = args.positionals;
    if (!a || !b)
      throw usageError(
        "OLD and NEW are required",
        "e.g. `stele diff old.bundle.json build/acme.bundle.json`",
      );
    const now = parseNow(stringOpt(args, "now"));
    const [old, next] = [await openTarget(a, now, io), await openTarget(b, now, io)];
    return { old: old.digest, new: next.digest, ...diffSets(old.set, next.set) };
  },
  exit: (r) => (r.class === "weakening" ? Exit.weakening : Exit.ok),
  human: (r) =>
    [
      ...r.changes.map((c) => `${c.class.padEnd(13)} ${c.subject}: ${c.description}`),
      r.changes.length > 0 ? "" : "no changes",
      `${r.class}: ${r.old} → ${r.new}`,
    ]
      .filter((l, i, all) => l !== "" || i < all.length - 1)
      .join("\n"),
};
