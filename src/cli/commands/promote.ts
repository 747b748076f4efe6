import type { ReleaseOutcome } from "../../release/index.js";
import { promote } from "../../release/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, listOpt, stringOpt, usageError } from "../command.js";
import { readEnvelopeFile } from "../files.js";
import { whoAmI } from "../identity.js";
import { describeRelease, releaseCommand } from "./release.js";

/** `stele promote --from ENV --to ENV`: release what one environment runs to the next. */
export const promoteCommand: Command<ReleaseOutcome> = {
  summary: "release the exact digest one environment runs to another",
  usage: "--from ENV --to ENV [--approval FILE…] [--justification TEXT]",
  options: {
    from: { type: "string" },
    to: { type: "string" },
    approval: { type: "string", multiple: true },
    justification: { type: "string" },
  },
  help: {
    from: "the environment whose current bundle is promoted",
    to: "the environment to release it to (its own quorum and gates apply)",
    approval: "an approval envelope written by `stele approve -o FILE` (repeatable)",
    justification: "why: required when the promotion weakens the target's policy",
  },
  async run(args) {
    const from = stringOpt(args, "from");
    const to = stringOpt(args, "to");
    if (!from || !to)
      throw usageError(
        "--from and --to are required",
        "e.g. `stele promote --from staging --to prod`",
      );
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    try {
      return await promote(store, {
        from,
        env: to,
        approvals: await Promise.all(listOpt(args, "approval").map(readEnvelopeFile)),
        justification: stringOpt(args, "justification"),
        releasedBy: await whoAmI(process.cwd()),
        now: new Date(),
      });
    } finally {
      await store.close();
    }
  },
  exit: () => Exit.ok,
  human: describeRelease,
  json: (r) => releaseCommand.json?.(r),
};
