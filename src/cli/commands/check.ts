import type { Diagnostic } from "../../language/index.js";
import { type Command, Exit, parseNow, stringOpt } from "../command.js";
import { countProblems, formatDiagnostics, plural, shownDiagnostic } from "../output.js";
import { compileTree } from "../tree.js";

interface CheckResult {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly text: string;
  readonly summary: string;
}

/** `stele check [dir]`: parse, validate and type-check every document. */
export const check: Command<CheckResult> = {
  summary: "parse, validate and type-check a policy repository",
  usage: "[dir] [--now TIME]",
  options: { now: { type: "string" } },
  help: { now: "the time exception expiries are checked against (RFC 3339; default: now)" },
  async run(args) {
    const dir = args.positionals[0] ?? ".";
    const now = parseNow(stringOpt(args, "now"));
    const tree = await compileTree(dir, now);
    const diagnostics = tree.result.diagnostics.map((d) => shownDiagnostic(dir, d));
    const summary = tree.result.ok
      ? `ok: ${plural(tree.result.set.policies.length, "policy")}, ${plural(tree.result.set.exceptions.length, "exception")}, ${plural(tree.result.set.tests.length, "test")} checked${diagnostics.length > 0 ? ` (${countProblems(diagnostics)})` : ""}`
      : countProblems(diagnostics);
    return {
      ok: tree.result.ok,
      diagnostics,
      text: formatDiagnostics(dir, tree.result.diagnostics, tree.sources),
      summary,
    };
  },
  exit: (r) => (r.ok ? Exit.ok : Exit.problems),
  human: (r) => (r.text ? `${r.text}\n${r.summary}` : r.summary),
  json: (r) => ({ ok: r.ok, diagnostics: r.diagnostics }),
};
