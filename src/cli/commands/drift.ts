import { stat } from "node:fs/promises";
import { type DriftReport, detectDrift } from "../../drift/index.js";
import { readSources } from "../../language/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, listOpt, stringOpt, usageError } from "../command.js";
import { requirePolicyDir } from "../tree.js";

// stopped decision points listed one by one in the table, at most
const MAX_STOPPED_SHOWN = 3;

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
      // `--pdp URL1 URL2`: an address among the arguments is a decision point too
      const isUrl = (x: string) => /^https?:\/\//i.test(x);
      const dirs = args.positionals.filter((p) => !isUrl(p));
      if (dirs.length > 1)
        throw usageError(
          `one policy directory at a time: \`${dirs[0]}\` and \`${dirs[1]}\``,
          "decision points go after --pdp, as http:// or https:// addresses",
        );
      // the working tree is compared with what was released: the one named, else this one
      // when it is a policy repository
      const dir =
        dirs[0] ?? ((await stat("stele.yaml").catch(() => undefined))?.isFile() ? "." : undefined);
      let sources: Map<string, string> | undefined;
      if (dir !== undefined) {
        await requirePolicyDir(dir);
        sources = new Map((await readSources(dir)).map((s) => [s.file, s.text]));
      }
      return await detectDrift(store, {
        env: stringOpt(args, "env"),
        pdpUrls: [...listOpt(args, "pdp"), ...args.positionals.filter(isUrl)],
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
      // decision points stopped on purpose pile up where they come and go (a Deployment's pods):
      // past a few, one line says how many (--json lists each)
      const stopped = e.pdps.filter((p) => p.status === "stopped");
      const shown =
        stopped.length > MAX_STOPPED_SHOWN ? e.pdps.filter((p) => !stopped.includes(p)) : e.pdps;
      for (const p of shown)
        lines.push(
          `  ${p.status.padEnd(10)} ${p.pdp}${p.url && p.url !== p.pdp ? ` (${p.url})` : ""}: ${p.detail}`,
        );
      if (shown.length < e.pdps.length)
        lines.push(
          `  ${"stopped".padEnd(10)} ${stopped.length} decision points that stopped on purpose: no drift (--json lists them)`,
        );
    }
    if (!r.source)
      lines.push(
        "source: not compared (no stele.yaml here, nor a policy directory given; or nothing released to compare with)",
      );
    else {
      lines.push(`source vs ${r.source.env} (${r.source.bundle}):`);
      if (r.source.problem)
        lines.push(`  cannot compare: ${r.source.problem.message} [${r.source.problem.code}]`);
      else if (r.source.files.length === 0) lines.push("  no differences");
      for (const f of r.source.files) lines.push(`  ${f.change.padEnd(9)} ${f.path}`);
    }
    lines.push(r.drift ? "drift found" : "no drift");
    return lines.join("\n");
  },
};
