import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { buildBundle } from "../../bundle/index.js";
import { runTests } from "../../engine/index.js";
import { SteleError } from "../../errors.js";
import { UNREVIEWED_HINT } from "../../ledger/index.js";
import { type Command, Exit, parseNow, stringOpt } from "../command.js";
import { plural, shownPath } from "../output.js";
import { checkFailed, compileTree, gitInfo } from "../tree.js";

interface BuildResult {
  readonly digest: string;
  readonly path: string;
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
  readonly tests: number;
}

/** `stele build [dir] [-o FILE]`: check, test, then write the bundle and print its digest. */
export const build: Command<BuildResult> = {
  summary: "check and test a policy repository, then write its bundle",
  usage: "[dir] [-o FILE] [--now TIME]",
  options: { output: { type: "string", short: "o" }, now: { type: "string" } },
  help: {
    output: "where to write the bundle (default: DIR/build/<project>.bundle.json)",
    now: "the time exception expiries are checked against (RFC 3339; default: now)",
  },
  async run(args, io) {
    const dir = args.positionals[0] ?? ".";
    const now = parseNow(stringOpt(args, "now"));
    const tree = await compileTree(dir, now);
    if (!tree.result.ok) throw checkFailed(tree, io);
    const { set } = tree.result;
    const report = runTests(set, { now });
    if (report.failed > 0) {
      if (!io.json)
        for (const c of report.results.filter((r) => !r.ok))
          io.err(
            `${shownPath(dir, c.position.file)}:${c.position.line}:${c.position.col}: test \`${c.test}\` › \`${c.case}\`: ${c.problems.join("; ")}`,
          );
      throw new SteleError(
        "bundle.tests_failed",
        `${plural(report.failed, "test case")} failed, ${report.passed} passed`,
        {
          hint: "a bundle is built only from a tree whose tests pass; run `stele test` for details",
        },
      );
    }
    const git = await gitInfo(dir);
    const built = buildBundle(tree.sources, set, git);
    const path = stringOpt(args, "output") ?? join(dir, "build", `${set.project.name}.bundle.json`);
    await writeAtomically(path, built.bytes);
    if (!io.json) {
      io.err(`${plural(report.passed, "test case")} passed`);
      // said now, not first at `stele release` after every reviewer approved it
      const why = !git
        ? "this folder is not in a git repository"
        : git.dirty
          ? "the tree has uncommitted changes"
          : undefined;
      if (why)
        io.err(`note: ${why}, so \`stele release\` will refuse this bundle: ${UNREVIEWED_HINT}`);
      io.err(`wrote ${path}`);
    }
    return { digest: built.digest, path, git, tests: report.passed };
  },
  exit: () => Exit.ok,
  human: (r) => r.digest,
  json: (r) => ({ digest: r.digest, path: r.path, git: r.git, tests: r.tests }),
};

// temp file then rename: a reader never sees half a bundle
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}
