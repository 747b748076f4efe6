import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { promisify } from "node:util";
import { buildBundle, type GitInfo, loadBundle } from "../bundle/index.js";
import { SteleError } from "../errors.js";
import {
  type CompileResult,
  compile,
  type PolicySet,
  readSources,
  type Source,
} from "../language/index.js";
import { parsePublicKey } from "../trust/index.js";
import type { Io } from "./command.js";
import { countProblems, formatDiagnostics, shownPath } from "./output.js";

const run = promisify(execFile);

// why a reviewer's key in stele.yaml cannot be read (the parser approvals are checked with)
function checkKey(key: string): string | undefined {
  try {
    parsePublicKey(key);
    return undefined;
  } catch (e) {
    if (e instanceof SteleError) return e.message;
    throw e;
  }
}

/** The paths of a policy repository whose changes make a tree dirty. */
export const SOURCE_PATHS = ["stele.yaml", "policies", "exceptions", "tests", "schemas"] as const;

/** A policy directory read and compiled at a given time. */
export interface Tree {
  readonly dir: string;
  readonly sources: readonly Source[];
  readonly result: CompileResult;
}

/** Refuses a policy directory that is not there (or is no folder). */
export async function requirePolicyDir(dir: string): Promise<void> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory())
    throw new SteleError("cli.io", `no policy directory \`${dir}\``, {
      hint: "name a policy repository (a folder with stele.yaml), or make one with `stele init DIR`",
    });
}

/** Reads and compiles a policy directory; `now` bounds exception expiries. */
export async function compileTree(dir: string, now: number): Promise<Tree> {
  await requirePolicyDir(dir);
  const sources = await readSources(dir);
  return { dir, sources, result: compile(sources, { now, checkKey }) };
}

/** The commit and dirty flag of the git repository holding `dir`, or null outside git. */
export async function gitInfo(dir: string): Promise<GitInfo | null> {
  try {
    const { stdout: commit } = await run("git", ["rev-parse", "HEAD"], { cwd: dir });
    const { stdout: status } = await run(
      "git",
      ["status", "--porcelain", "--untracked-files=all", "--", ...SOURCE_PATHS],
      { cwd: dir },
    );
    return { commit: commit.trim(), dirty: status.trim() !== "" };
  } catch {
    return null; // not a git repository, no commit yet, or no git: the bundle says so
  }
}

/** A compiled policy set from a directory or a bundle file, ready to judge. */
export interface Target {
  readonly set: PolicySet;
  /** The bundle's digest (for a directory: the digest its bundle would have). */
  readonly digest: string;
  readonly kind: "dir" | "bundle";
}

/**
 * Opens a directory (compiled now; its problems are refused with the diagnostics printed) or
 * a bundle file (fully verified).
 */
export async function openTarget(path: string, now: number, io: Io): Promise<Target> {
  const info = await stat(path).catch(() => undefined);
  if (!info)
    throw new SteleError("cli.io", `no such directory or bundle \`${path}\``, {
      hint: "pass a policy directory (with stele.yaml) or a bundle written by `stele build`",
    });
  if (info.isFile()) {
    const loaded = loadBundle(await readFile(path));
    return { set: loaded.set, digest: loaded.digest, kind: "bundle" };
  }
  const tree = await compileTree(path, now);
  if (!tree.result.ok) throw checkFailed(tree, io);
  const built = buildBundle(tree.sources, tree.result.set, await gitInfo(path));
  return { set: tree.result.set, digest: built.digest, kind: "dir" };
}

/** Prints a tree's diagnostics (unless --json) and returns the refusal to throw. */
export function checkFailed(tree: Tree, io: Io): SteleError {
  const { diagnostics } = tree.result;
  if (!io.json) io.err(formatDiagnostics(tree.dir, diagnostics, tree.sources));
  const first = diagnostics.find((d) => d.severity === "error");
  return new SteleError("bundle.check_failed", `check failed: ${countProblems(diagnostics)}`, {
    ...(first && {
      position: { ...first.position, file: shownPath(tree.dir, first.position.file) },
    }),
    hint: "fix the problems `stele check` reports, then run again",
  });
}
