import { didYouMean } from "../../language/index.js";
import {
  type AuditProgress,
  type DecisionLogsReport,
  isPdpName,
  type Replay,
  replayDecision,
  verifyDecisionLogs,
} from "../../server/index.js";
import { openStore } from "../../store/index.js";
import { type Command, Exit, listOpt, stringOpt, usageError } from "../command.js";
import { ofTotal, progress } from "../progress.js";

type DecisionsResult =
  | ({ readonly action: "verify" } & DecisionLogsReport)
  | { readonly action: "replay"; readonly replay: Replay };

/** `stele decisions verify` / `stele decisions replay ID`. */
export const decisions: Command<DecisionsResult> = {
  summary: "verify the decision logs, or re-run one logged decision on the bundle that made it",
  usage: "verify [--pdp URL…] [--trust-pdp NAME…] | replay ID [--trust-pdp NAME…]",
  options: {
    pdp: { type: "string", multiple: true },
    "trust-pdp": { type: "string", multiple: true },
  },
  help: {
    pdp: "a running decision point whose last checkpoint the store must hold: decisions removed from a log's end show (repeatable)",
    "trust-pdp":
      "a decision point whose log you trust, by name (`pdp` in its /v1/status): a log of any other fails verify, and a decision in one is not proven (repeatable)",
  },
  async run(args, io) {
    const [action, id] = args.positionals;
    const named = listOpt(args, "trust-pdp");
    for (const name of named)
      if (!isPdpName(name))
        throw usageError(
          `--trust-pdp \`${name}\` is not a decision point's name`,
          "a name is `pdp-<env>-<16 hex>`: `pdp` in its /v1/status, or its heartbeat's",
        );
    const trust = named.length > 0 ? named : undefined;
    if (action !== "verify" && action !== "replay") {
      const near = action === undefined ? undefined : didYouMean(action, ["verify", "replay"]);
      throw usageError(
        action === undefined
          ? "say `verify` or `replay ID`"
          : `unknown action \`${action}\`: say \`verify\` or \`replay ID\``,
        near ? `did you mean \`stele decisions ${near}\`?` : "e.g. `stele decisions verify`",
      );
    }
    if (action === "replay" && !id)
      throw usageError(
        "replay needs the id of a logged decision",
        "e.g. `stele decisions replay 6f1c…`, with the `id` of a decision's response",
      );
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    // a long log: a line every few seconds on standard error
    const report = progress(io);
    const onProgress = (p: AuditProgress) =>
      report(() => `${doing(p)}: ${ofTotal(p.read, p.total, "decisions")}`);
    try {
      if (action === "verify") {
        const pdps = listOpt(args, "pdp");
        return {
          action,
          ...(await verifyDecisionLogs(store, { pdps, onProgress, ...(trust && { trust }) })),
        };
      }
      // invariant: a replay has its id (refused above without one)
      return {
        action,
        replay: await replayDecision(store, id as string, { onProgress, ...(trust && { trust }) }),
      };
    } finally {
      await store.close();
    }
  },
  exit: (r) =>
    r.action === "verify"
      ? r.ok
        ? Exit.ok
        : Exit.problems
      : r.replay.same && r.replay.proven
        ? Exit.ok
        : Exit.problems,
  human: (r) => {
    if (r.action === "verify") {
      const pdps = (r.pdps ?? []).map((p) =>
        p.ok
          ? `ok: ${p.url}: ${p.log === undefined ? "logs no decisions" : `the store holds the ${p.size} decisions of ${p.log} it has signed`}`
          : `${PDP_LABEL[p.problem?.code ?? ""] ?? "TAMPERED"}: ${p.url}${p.log ? ` (${p.log})` : ""}: ${p.problem?.message} [${p.problem?.code}]`,
      );
      if (r.logs.length === 0) return [...pdps, "no decision logs"].join("\n");
      return [
        ...pdps,
        ...r.logs.map((l) =>
          l.ok
            ? `ok: ${l.log}: ${l.entries} decisions, ${l.checkpoints} checkpoints${l.uncovered > 0 ? `, ${l.uncovered} after the last checkpoint` : ""}${(l.unvouched ?? 0) > 0 ? `; ${l.unvouched} not vouched for (found without a checkpoint when the decision point started again: it cannot tell them from decisions written behind its back)` : ""}${l.heartbeat === false && l.checkpoints > 0 ? "; no heartbeat of its decision point names its end (decisions removed from the end would not show here: --pdp asks the decision point)" : ""}`
            : `${l.problem?.code === "server.untrusted_pdp" ? "UNTRUSTED" : "TAMPERED"}: ${l.log}: ${l.problem?.message} [${l.problem?.code}]`,
        ),
      ].join("\n");
    }
    const { replay } = r;
    return [
      `decision ${replay.id} (${replay.log} #${replay.index}) at ${replay.logged.time} on ${replay.logged.bundle}`,
      `  logged:   ${replay.logged.decision.decision}`,
      `  replayed: ${replay.replayed.decision}`,
      replay.same ? "same decision" : "DIFFERENT decision",
      replay.proven
        ? `proven: a checkpoint signed by ${replay.log}'s key covers it, and the log verifies up to it`
        : `NOT PROVEN: ${replay.problem?.message} [${replay.problem?.code}]`,
    ].join("\n");
  },
};

// what a decision point's failed word is, by its code (else what it says of the store)
const PDP_LABEL: Record<string, string> = {
  "server.unreachable": "UNREACHABLE",
  "server.bad_status": "NOT A DECISION POINT",
};

// what a long read is doing, for its progress line
function doing(p: AuditProgress): string {
  switch (p.kind) {
    case "verify":
      return `verifying ${p.log}`;
    case "find":
      return `looking for ${p.id} in ${p.log}`;
    case "check":
      return `checking ${p.log} up to ${p.id}`;
  }
}
