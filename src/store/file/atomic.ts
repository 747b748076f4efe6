import { randomBytes } from "node:crypto";
import { link, mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SteleError } from "../../errors.js";

// crash safety: a file is either absent or whole. Write a temp file, fsync it, then link (for
// write-once, fails if the name exists) or rename (for replace) it into place, and fsync the
// directory so the new name survives a power cut (a new folder's own name is synced into its
// parent when it is made).

// fault injection for the crash test: with STELE_TEST_CRASH_AT=n the process kills itself with
// SIGKILL at the n-th step below, so every point between two steps is tested
const crashAt = Number(process.env.STELE_TEST_CRASH_AT ?? "0");
let step = 0;
function crashPoint(): void {
  if (crashAt > 0 && ++step === crashAt) process.kill(process.pid, "SIGKILL");
}

// folders this process made or found: a busy store (a decision log writes a batch and its
// checkpoint several times a second) does not ask for them again with every file. A folder
// removed behind its back is made again where a write finds it missing.
const folders = new Set<string>();

async function inFolder<T>(dir: string, write: () => Promise<T>): Promise<T> {
  if (!folders.has(dir)) await makeFolder(dir);
  try {
    return await write();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    folders.delete(dir);
    await makeFolder(dir);
    return await write();
  }
}

// `dir` and any folder above it missing, each name synced into its parent, so that a file
// written into a new folder survives a power cut with the folder
async function makeFolder(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first !== undefined)
    for (let made = dir; ; made = dirname(made)) {
      await syncDir(dirname(made));
      if (made === first || dirname(made) === made) break;
    }
  folders.add(dir);
}

async function writeTemp(tmpDir: string, bytes: Uint8Array): Promise<string> {
  const tmp = join(tmpDir, `${process.pid}-${randomBytes(8).toString("hex")}`);
  const handle = await inFolder(tmpDir, () => open(tmp, "wx", 0o644));
  try {
    if (crashAt > 0) {
      await handle.writeFile(bytes.subarray(0, bytes.length >> 1));
      crashPoint(); // half a temp file
      await handle.writeFile(bytes.subarray(bytes.length >> 1));
    } else await handle.writeFile(bytes);
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
  return writing(path, async () => {
    const tmp = await writeTemp(tmpDir, bytes);
    try {
      await inFolder(dirname(path), () => link(tmp, path));
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
  });
}

/** Replaces `path` with `bytes` atomically: readers see the old or the new file, never half. */
export async function replace(tmpDir: string, path: string, bytes: Uint8Array): Promise<void> {
  await writing(path, async () => {
    const tmp = await writeTemp(tmpDir, bytes);
    await inFolder(dirname(path), () => rename(tmp, path));
    crashPoint();
    await syncDir(dirname(path));
  });
}

// a write the file system refused (a folder where a file goes, a file where a folder goes, no
// permission, a full disk) is the store's error, with the path, never a raw one
async function writing<T>(path: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (e instanceof SteleError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? "an error";
    throw new SteleError("store.unavailable", `cannot write \`${path}\` (${code})`, {
      cause: e,
      hint: "check the store's files, their permissions and the free space",
    });
  }
}
