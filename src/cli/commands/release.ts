import type { ReleaseOutcome } from "../../release/index.js";
import { release } from "../../release/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, listOpt, stringOpt, usageError } from "../command.js";
import { readBundleFile, readEnvelopeFile } from "../files.js";
import { whoAmI } from "../identity.js";

/** `stele release BUNDLE --env ENV`: every gate, then append to the ledger. */
export const releaseCommand: Command<ReleaseOutcome> = {
  summary: "release a bundle to an environment: quorum, versions, promotion and weakening gates",
  usage: "BUNDLE --env ENV [--approval FILE…] [--justification TEXT] [--version N]",
  options: {
    env: { type: "string" },
    approval: { type: "string", multiple: true },
    justification: { type: "string" },
    version: { type: "string" },
  },
  help: {
    env: "the environment to release to",
    approval: "an approval envelope written by `stele approve -o FILE` (repeatable)",
    justification: "why: required when the release weakens policy; kept in the record forever",
    version: "the version to release as (default: the current one plus one)",
  },
  async run(args) {
    const path = args.positionals[0];
    const env = stringOpt(args, "env");
    if (!path || !env)
      throw usageError(
        "BUNDLE and --env are required",
        "e.g. `stele release build/acme.bundle.json --env staging`",
      );
    // `--approval a.json b.json`: the files after the bundle are approvals too, where
    // --approval was given; otherwise a second file is a mistake, never silently ignored
    const approvals = listOpt(args, "approval");
    const extra = args.positionals.slice(1);
    if (extra.length > 0 && approvals.length === 0)
      throw usageError(
        `one bundle at a time: what is \`${extra[0]}\`?`,
        "approval files go after --approval: `stele release BUNDLE --env ENV --approval FILE…`",
      );
    const version = parseVersion(stringOpt(args, "version"));
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    try {
      return await release(store, {
        bundle: await readBundleFile(path),
        env,
        approvals: await Promise.all([...approvals, ...extra].map(readEnvelopeFile)),
        justification: stringOpt(args, "justification"),
        version,
        releasedBy: await whoAmI(process.cwd()),
        now: new Date(),
      });
    } finally {
      await store.close();
    }
  },
  exit: () => Exit.ok,
  human: (r) => describeRelease(r),
  json: (r) => ({ ...r.record, index: r.index, treeSize: r.treeSize, approvers: r.approvers }),
};

/** The human summary of a release or promotion. */
export function describeRelease(r: ReleaseOutcome): string {
  const lines = [
    `released ${r.record.bundle} to ${r.record.env} as v${r.record.version} (ledger entry ${r.index})`,
    `  change: ${r.record.class}${r.record.previous ? ` from ${r.record.previous}` : ""}`,
    `  approved by: ${r.approvers.join(", ")}`,
  ];
  if (r.record.justification) lines.push(`  justification: ${r.record.justification}`);
  for (const c of r.record.changes.filter((c) => c.class !== "neutral"))
    lines.push(`  ${c.class}: ${c.subject}: ${c.description}`);
  return lines.join("\n");
}

function parseVersion(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw usageError(`--version must be a positive whole number, found \`${text}\``);
  return n;
}
