import { execFile } from "node:child_process";
import { userInfo } from "node:os";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Who is acting, for the record: git's user.email, else the OS user. */
export async function whoAmI(cwd: string): Promise<string> {
  try {
    const { stdout } = await run("git", ["config", "user.email"], { cwd });
    if (stdout.trim()) return stdout.trim();
  } catch {
    // no git identity here
  }
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
