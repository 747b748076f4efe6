import { spawnSync } from "node:child_process";
import { cliPath, tempDir } from "../src/testing/index.js";

// witnesses and PDP state go to a folder of this test process, never the user's home
const stateDir = tempDir("stele-state-");

/** What one run of the built CLI did. */
export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `stele` CLI in `cwd` with `args` (and optional standard input). */
export function stele(cwd: string, args: readonly string[], input?: string): Run {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    cwd,
    input,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", STELE_STATE_DIR: stateDir },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
