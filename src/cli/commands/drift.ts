import { stat } from "node:fs/promises";
import { type DriftReport, detectDrift } from "../../drift/index.js";
import { SteleError } from "../../errors.js";
import { readSources } from "../../language/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, listOpt, stringOpt } from "../command.js";

/** `stele drift [--env ENV] [--pdp URL…] [dir]`: the ledger against enforcement points and source. */
export const drift: Command<DriftReport> = {
  summary: "compare the ledger with every enforcement point and the working tree; exit 4 on drift",
  usage: "[dir] [--env ENV] [--pdp URL…]",
  options: { env: { type: "string" }, pdp: { type: "string", multiple: true } },
  help: {
    env: "only this environment (and the one whose released sources the tree is compared with)",
    pdp: "a decision point to ask for its live /v1/status (repeatable)",
  },
  async run(args) {
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    try {
      const dir = args.positionals[0];
      let sources: Map<string, string> | undefined;
      if (dir !== undefined) {
        if (!(await stat(dir).catch(() => undefined))?.isDirectory())
          throw new SteleError("cli.io", `no policy directory \`${dir}\``, {
            hint: "pass the policy repository to compare with what was released",
          });
        sources = new Map((await readSources(dir)).map((s) => [s.file, s.text]));
      }
      return await detectDrift(store, {
        env: stringOpt(args, "env"),
        pdpUrls: listOpt(args, "pdp"),
        ...(sources && { sources }),
      });
    } finally {
      await store.close();
    }
  },
  exit: (r) => (r.drift ? Exit.drift : Exit.ok),
  human: (r) => {
    const lines: string[] = [];
    for (const e of r.envs) {
      lines.push(
        `${e.env}: ledger ${e.version === null ? "has no release" : `v${e.version} ${e.bundle}`}`,
      );
      if (e.pdps.length === 0) lines.push("  no enforcement point reported");
      for (const p of e.pdps)
        lines.push(`  ${p.status.padEnd(10)} ${p.pdp}${p.url ? ` (${p.url})` : ""}: ${p.detail}`);
    }
    if (r.source) {
      lines.push(`source vs ${r.source.env} (${r.source.bundle}):`);
      if (r.source.files.length === 0) lines.push("  no differences");
      for (const f of r.source.files) lines.push(`  ${f.change.padEnd(9)} ${f.path}`);
    }
    lines.push(r.drift ? "drift found" : "no drift");
    return lines.join("\n");
  },
};
