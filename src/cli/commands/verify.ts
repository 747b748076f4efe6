import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type VerifyReport, verifyLedger } from "../../release/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, stringOpt } from "../command.js";
import { readTextFileIfAny } from "../files.js";
import { plural } from "../output.js";

const WITNESS_HINT =
  "restore it from a copy, or remove it knowingly (the next verify then trusts the store as it is)";

/** `stele verify`: the whole ledger, every bundle, every approval. */
export const verify: Command<VerifyReport> = {
  summary: "verify the ledger, its checkpoints, every release's bundle and approvals",
  usage: "[--witness FILE]",
  options: { witness: { type: "string" } },
  help: {
    witness:
      "where to remember the last checkpoint verified, to catch a store rolled back or rewritten (default: ~/.local/state/stele/witness/…)",
  },
  async run(args) {
    const url = stringOpt(args, "store") ?? "file:.stele";
    const store = await openStore(url);
    try {
      const path = stringOpt(args, "witness") ?? defaultWitness(url);
      // only a witness not there yet is none: one that cannot be read is an error, never
      // overwritten by whatever the store says now (a store rolled back would pass)
      const witness = await readTextFileIfAny(path, "the witness ", WITNESS_HINT);
      const report = await verifyLedger(store, witness !== undefined ? { witness } : {});
      if (report.ok && report.checkpoint) {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, report.checkpoint);
      }
      return report;
    } finally {
      await store.close();
    }
  },
  exit: (r) => (r.ok ? Exit.ok : Exit.problems),
  human: (r) =>
    r.ok
      ? `ok: ${plural(r.size, "ledger entry")} (${plural(r.releases, "release")}, ${plural(r.approvals, "approval")}), ${plural(r.checkpoints, "checkpoint")} verified${r.uncovered > 0 ? `; ${plural(r.uncovered, "entry")} after the last checkpoint (an interrupted write; the next release signs them)` : ""}`
      : `TAMPERED: ${r.problem?.message} [${r.problem?.code}]${r.problem?.hint ? `\n  hint: ${r.problem.hint}` : ""}`,
};

// witnesses live outside the store, so whoever can rewrite the store cannot rewrite them; they
// are named by where the store is, never by its key: a store whose key was replaced is a fork
function defaultWitness(url: string): string {
  const base =
    process.env.STELE_STATE_DIR ??
    join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "stele");
  const where = /^file:(?!\/\/)/.test(url) ? `file:${resolve(url.slice("file:".length))}` : url;
  return join(base, "witness", createHash("sha256").update(where).digest("hex").slice(0, 32));
}
