import {
  type Counterexample,
  counterexamples,
  type DiffResult,
  diffSets,
} from "../../diff/index.js";
import { type Command, Exit, parseNow, stringOpt, usageError } from "../command.js";
import { openTarget } from "../tree.js";

interface DiffOutput extends DiffResult {
  readonly old: string;
  readonly new: string;
  /** For a weakening: inputs of either version's tests the old denied and the new allows. */
  readonly counterexamples?: readonly Counterexample[];
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
    const result = diffSets(old.set, next.set);
    const shown = result.class === "weakening" ? counterexamples(old.set, next.set, now) : [];
    return {
      old: old.digest,
      new: next.digest,
      ...result,
      ...(shown.length > 0 && { counterexamples: shown }),
    };
  },
  exit: (r) => (r.class === "weakening" ? Exit.weakening : Exit.ok),
  human: (r) =>
    [
      ...r.changes.map((c) => `${c.class.padEnd(13)} ${c.subject}: ${c.description}`),
      ...(r.counterexamples ?? []).map(
        (x) =>
          `  e.g. test ${x.source}: denied before${x.deniedBy.length > 0 ? ` (${x.deniedBy.join(", ")})` : ""}, allowed now: ${clip(JSON.stringify(x.input))}`,
      ),
      r.changes.length > 0 ? "" : "no changes",
      `${r.class}: ${r.old} → ${r.new}`,
    ]
      .filter((l, i, all) => l !== "" || i < all.length - 1)
      .join("\n"),
};

const clip = (text: string) => (text.length > 160 ? `${text.slice(0, 159)}…` : text);
