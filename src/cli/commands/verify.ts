import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { type VerifyReport, verifyLedger } from "../../release/index.js";
import { ledgerVerifier, openStore } from "../../store/index.js";
import { type Command, Exit, stringOpt } from "../command.js";

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
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    try {
      const verifier = await ledgerVerifier(store);
      const path = stringOpt(args, "witness") ?? (verifier && defaultWitness(verifier.vkey));
      const witness = path ? await readFile(path, "utf8").catch(() => undefined) : undefined;
      const report = await verifyLedger(store, witness !== undefined ? { witness } : {});
      if (report.ok && path && report.checkpoint) {
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
      ? `ok: ${r.size} ledger entries (${r.releases} releases, ${r.approvals} approvals), ${r.checkpoints} checkpoints verified${r.uncovered > 0 ? `; ${r.uncovered} entries after the last checkpoint (an interrupted write; the next release signs them)` : ""}`
      : `TAMPERED: ${r.problem?.message} [${r.problem?.code}]${r.problem?.hint ? `\n  hint: ${r.problem.hint}` : ""}`,
};

// witnesses live outside the store, so whoever can rewrite the store cannot rewrite them
function defaultWitness(vkey: string): string {
  const base =
    process.env.STELE_STATE_DIR ??
    join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "stele");
  return join(base, "witness", createHash("sha256").update(vkey).digest("hex").slice(0, 32));
}
