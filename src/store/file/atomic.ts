import { randomBytes } from "node:crypto";
import { link, mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

// crash safety: a file is either absent or whole. Write a temp file, fsync it, then link (for
// write-once, fails if the name exists) or rename (for replace) it into place, and fsync the
// directory so the new name survives a power cut.

// fault injection for the crash test: with STELE_TEST_CRASH_AT=n the process kills itself with
// SIGKILL at the n-th step below, so every point between two steps is tested
const crashAt = Number(process.env.STELE_TEST_CRASH_AT ?? "0");
let step = 0;
function crashPoint(): void {
  if (crashAt > 0 && ++step === crashAt) process.kill(process.pid, "SIGKILL");
}

async function writeTemp(tmpDir: string, bytes: Uint8Array): Promise<string> {
  await mkdir(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `${process.pid}-${randomBytes(8).toString("hex")}`);
  const handle = await open(tmp, "wx", 0o644);
  try {
    await handle.writeFile(bytes.subarray(0, bytes.length >> 1));
    crashPoint(); // half a temp file
    await handle.writeFile(bytes.subarray(bytes.length >> 1));
    await handle.sync();
  } finally {
    await handle.close();
  }
  crashPoint();
  return tmp;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `path` with `bytes` only if it does not exist; false when it already did. */
export async function createOnce(
  tmpDir: string,
  path: string,
  bytes: Uint8Array,
): Promise<boolean> {
  const tmp = await writeTemp(tmpDir, bytes);
  try {
    await mkdir(dirname(path), { recursive: true });
    await link(tmp, path);
    crashPoint();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  crashPoint();
  await syncDir(dirname(path));
  crashPoint();
  return true;
}

/** Replaces `path` with `bytes` atomically: readers see the old or the new file, never half. */
export async function replace(tmpDir: string, path: string, bytes: Uint8Array): Promise<void> {
  const tmp = await writeTemp(tmpDir, bytes);
  await mkdir(dirname(path), { recursive: true });
  await rename(tmp, path);
  crashPoint();
  await syncDir(dirname(path));
}
