import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from `dist/`, sources and data live beside it). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** The built CLI entry point. */
export const cliPath = join(repoRoot, "dist", "src", "cli", "bin.js");

/** `../shared/testdata`, the public test vectors laid beside the repository (may be absent). */
export const sharedTestdata = join(repoRoot, "..", "shared", "testdata");

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(prefix = "stele-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh git repository with a committer identity, for tests that need a real one. */
export function tempGitRepo(prefix = "stele-git-"): string {
  const dir = tempDir(prefix);
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "test@example.com");
  git("config", "user.name", "Stele Test");
  git("config", "commit.gpgsign", "false");
  return dir;
}

/** Runs git in `dir`, returning its standard output. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd: dir, stdio: "pipe" }).toString();
}

/**
 * Adds a reviewer to a policy repository's `stele.yaml` with the key `stele keygen` wrote to
 * `<keys>/<name>.pub` (the examples ship with no reviewers: every user brings their own).
 */
export function addReviewer(dir: string, name: string, keys = "keys"): void {
  const key = readFileSync(join(dir, keys, `${name}.pub`), "utf8")
    .split(" ")
    .slice(0, 2)
    .join(" ");
  const path = join(dir, "stele.yaml");
  const config = readFileSync(path, "utf8");
  if (!/^spec:\n/m.test(config))
    throw new Error(`${path} has no \`spec:\` line to add a reviewer under`);
  writeFileSync(
    path,
    config.replace(/^spec:\n/m, `spec:\n  reviewers:\n    - name: ${name}\n      key: ${key}\n`),
  );
}
