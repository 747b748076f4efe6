import { readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Digest, digestOf, isDigest } from "../../bundle/index.js";
import { SteleError } from "../../errors.js";
import {
  checkLogBatch,
  type LogBatch,
  type Store,
  type StoredCheckpoint,
  toLogBatch,
} from "../store.js";
import { createOnce, replace } from "./atomic.js";

// layout (documented in the README):
//   objects/sha256/<2 hex>/<62 hex>   content-addressed, write-once
//   ledger/entries/<20-digit index>    write-once, contiguous from 0
//   ledger/checkpoints/<20-digit size> signed notes, write-once
//   docs/<name>                        small documents, replaced atomically
//   logs/<name>/batches/<first>-<count>  decision log batches (JSON lines), write-once
//   logs/<name>/checkpoints/<size>     the log owner's signed checkpoints, write-once
//   tmp/                               temp files; leftovers from a crash are harmless

const pad = (n: number) => String(n).padStart(20, "0");
const DOC_NAME = /^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)*$/;

/** The embedded store: plain files under one directory, crash-safe and append-only. */
export class FileStore implements Store {
  readonly url: string;
  readonly #root: string;
  readonly #tmp: string;
  // per named log, its size after this store's last append (decision logs have one writer)
  readonly #logSizes = new Map<string, number>();

  constructor(url: string, root: string) {
    this.url = url;
    this.#root = resolve(root);
    this.#tmp = join(this.#root, "tmp");
  }

  async putObject(bytes: Uint8Array): Promise<Digest> {
    const digest = digestOf(bytes);
    // written once, never overwritten: an object already there must be these bytes, or the
    // store was tampered with (getObject refuses it with store.corrupt)
    if (!(await createOnce(this.#tmp, this.#objectPath(digest), bytes)))
      await this.getObject(digest);
    return digest;
  }

  async getObject(digest: Digest): Promise<Buffer | undefined> {
    if (!isDigest(digest)) throw new SteleError("store.not_found", `not a digest: \`${digest}\``);
    const bytes = await readIfExists(this.#objectPath(digest));
    if (bytes && digestOf(bytes) !== digest)
      throw new SteleError("store.corrupt", `stored object ${digest} does not match its digest`, {
        hint: "the store was modified on disk; restore it from a copy and run `stele verify`",
      });
    return bytes;
  }

  async ledgerSize(): Promise<number> {
    // entries are contiguous from 0: find the first missing index by galloping, then bisecting
    const exists = (i: number) => fileExists(this.#entryPath(i));
    if (!(await exists(0))) return 0;
    let hi = 1;
    while (await exists(hi)) hi *= 2;
    let lo = hi / 2; // exists(lo) holds, exists(hi) does not
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await exists(mid)) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  async readEntries(from: number, to: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for (let i = from; i < to; i++) {
      const bytes = await readIfExists(this.#entryPath(i));
      if (!bytes)
        throw new SteleError("store.corrupt", `ledger entry ${i} is missing`, {
          hint: "entries are never deleted; the store was modified on disk, run `stele verify`",
        });
      out.push(bytes);
    }
    return out;
  }

  async appendEntry(size: number, bytes: Uint8Array): Promise<void> {
    if (size > 0 && !(await fileExists(this.#entryPath(size - 1)))) throw conflict(size);
    if (!(await createOnce(this.#tmp, this.#entryPath(size), bytes))) throw conflict(size);
  }

  async putCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    await createOnce(
      this.#tmp,
      join(this.#root, "ledger", "checkpoints", pad(checkpoint.size)),
      Buffer.from(checkpoint.note, "utf8"),
    );
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const names = await this.#checkpointNames();
    const last = names.at(-1);
    return last === undefined ? undefined : this.#readCheckpoint(last);
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    const names = await this.#checkpointNames();
    return Promise.all(names.map((n) => this.#readCheckpoint(n)));
  }

  async readDoc(name: string): Promise<Buffer | undefined> {
    return readIfExists(this.#docPath(name));
  }

  async writeDoc(name: string, bytes: Uint8Array): Promise<void> {
    await replace(this.#tmp, this.#docPath(name), bytes);
  }

  async listDocs(folder: string): Promise<string[]> {
    const dir = this.#docPath(folder);
    const names = await listDir(dir);
    return names
      .filter((n) => DOC_NAME.test(n))
      .map((n) => `${folder}/${n}`)
      .sort();
  }

  async createDoc(name: string, bytes: Uint8Array): Promise<boolean> {
    return createOnce(this.#tmp, this.#docPath(name), bytes);
  }

  async appendLogBatch(
    log: string,
    first: number,
    entries: readonly Uint8Array[] | LogBatch,
  ): Promise<void> {
    const dir = this.#logDir(log);
    // the size this store last wrote, else what the folder says: no listing per batch
    let size = this.#logSizes.get(log) ?? (await this.#logSize(dir));
    if (size !== first) size = await this.#logSize(dir);
    if (size !== first) throw conflict(first);
    const batch = toLogBatch(entries);
    if (batch.count === 0) return;
    // exactly the newlines between entries, none inside one: searched for, or where the caller
    // gives the entries' ends (having checked them), those checked to be at newlines
    const bytes = checkLogBatch(batch);
    // named by its first index alone: whoever else appended at `first` holds the name, so a
    // writer that believed a stale size is refused here, as the ledger's entries are
    const written = await createOnce(this.#tmp, join(dir, "batches", pad(first)), bytes);
    if (!written) {
      this.#logSizes.delete(log);
      throw conflict(first);
    }
    this.#logSizes.set(log, first + batch.count);
  }

  async logSize(log: string): Promise<number> {
    const size = await this.#logSize(this.#logDir(log));
    this.#logSizes.set(log, size);
    return size;
  }

  async *scanLog(log: string, from = 0): AsyncGenerator<Buffer[]> {
    const dir = this.#logDir(log);
    const names = await this.#batchNames(dir);
    // two batches starting at one index (a `<first>-<count>` name beside a `<first>` one)
    const firsts = names.map((n) => n.split("-")[0]);
    const twice = firsts.find((f, i) => i > 0 && f === firsts[i - 1]);
    if (twice !== undefined)
      throw new SteleError(
        "store.corrupt",
        `log \`${log}\` has two batches at entry ${Number(twice)}`,
      );
    // from the batch holding entry `from` on (names sort by their first index)
    let k = 0;
    while (k + 1 < names.length && Number(names[k + 1]?.split("-")[0]) <= from) k++;
    let next = names.length > 0 ? Number(names[k]?.split("-")[0]) : 0;
    if (next > from) next = 0; // no batch starts at or before it: the gap shows below
    for (const name of names.slice(k)) {
      const [first, count] = name.split("-").map(Number);
      if (first !== next)
        throw new SteleError(
          "store.corrupt",
          `log \`${log}\` has a gap or overlap at entry ${next}`,
        );
      // the lines as stored, byte for byte (views of the file's bytes, not copies)
      const lines = splitLines(await readWhole(join(dir, "batches", name)));
      // `<first>-<count>` names (earlier stores) say how many entries they hold
      if (count !== undefined && lines.length !== count)
        throw new SteleError(
          "store.corrupt",
          `log \`${log}\` batch ${name} holds ${lines.length} entries, not ${count}`,
        );
      next += lines.length;
      const run = from > first ? lines.slice(from - first) : lines;
      if (run.length > 0) yield run;
    }
  }

  async logs(): Promise<string[]> {
    const names = await listDir(join(this.#root, "logs"));
    return names.filter((n) => DOC_NAME.test(n)).sort();
  }

  async putLogCheckpoint(log: string, checkpoint: StoredCheckpoint): Promise<void> {
    const path = join(this.#logDir(log), "checkpoints", pad(checkpoint.size));
    if (await createOnce(this.#tmp, path, Buffer.from(checkpoint.note))) return;
    if ((await readWhole(path)).toString("utf8") !== checkpoint.note)
      throw new SteleError(
        "store.conflict",
        `another checkpoint is stored for size ${checkpoint.size}`,
        { hint: "two writers share this log: each decision point needs its own key" },
      );
  }

  async logCheckpointSizes(log: string): Promise<number[]> {
    const dir = join(this.#logDir(log), "checkpoints");
    return (await listDir(dir))
      .filter((n) => /^\d{20}$/.test(n))
      .sort()
      .map(Number);
  }

  async logCheckpoints(log: string, from = 0): Promise<StoredCheckpoint[]> {
    const sizes = (await this.logCheckpointSizes(log)).filter((size) => size >= from);
    return this.logCheckpointsAt(log, sizes);
  }

  async logCheckpointsAt(log: string, sizes: readonly number[]): Promise<StoredCheckpoint[]> {
    const dir = join(this.#logDir(log), "checkpoints");
    const wanted = [...new Set(sizes)].sort((a, b) => a - b);
    // a few at a time: a busy log has a checkpoint for every batch, more than a process may
    // hold open at once (EMFILE)
    const out: (StoredCheckpoint | undefined)[] = [];
    for (let i = 0; i < wanted.length; i += 64)
      out.push(
        ...(await Promise.all(
          wanted.slice(i, i + 64).map(async (size) => {
            const note = await readIfExists(join(dir, pad(size)));
            return note === undefined ? undefined : { size, note: note.toString("utf8") };
          }),
        )),
      );
    return out.filter((c) => c !== undefined);
  }

  async close(): Promise<void> {}

  #logDir(log: string): string {
    if (!DOC_NAME.test(log) || log.includes("/"))
      throw new SteleError("store.not_found", `bad log name \`${log}\``);
    return join(this.#root, "logs", log);
  }

  async #batchNames(dir: string): Promise<string[]> {
    const names = await listDir(join(dir, "batches"));
    return names.filter((n) => /^\d{20}(-\d{20})?$/.test(n)).sort();
  }

  async #logSize(dir: string): Promise<number> {
    const last = (await this.#batchNames(dir)).at(-1);
    if (last === undefined) return 0;
    const [first, count] = last.split("-").map(Number);
    if (count !== undefined) return (first ?? 0) + count;
    const text = (await readWhole(join(dir, "batches", last))).toString("utf8");
    let lines = 1;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) lines++;
    return (first ?? 0) + lines;
  }

  #objectPath(digest: Digest): string {
    const hex = digest.slice("sha256:".length);
    return join(this.#root, "objects", "sha256", hex.slice(0, 2), hex.slice(2));
  }

  #entryPath(index: number): string {
    return join(this.#root, "ledger", "entries", pad(index));
  }

  #docPath(name: string): string {
    if (!DOC_NAME.test(name))
      throw new SteleError("store.not_found", `bad document name \`${name}\``);
    return join(this.#root, "docs", name);
  }

  async #checkpointNames(): Promise<string[]> {
    const names = await listDir(join(this.#root, "ledger", "checkpoints"));
    return names.filter((n) => /^\d{20}$/.test(n)).sort();
  }

  async #readCheckpoint(name: string): Promise<StoredCheckpoint> {
    const note = (await readWhole(join(this.#root, "ledger", "checkpoints", name))).toString(
      "utf8",
    );
    return { size: Number(name), note };
  }
}

function conflict(size: number): SteleError {
  return new SteleError("store.conflict", `the ledger no longer has ${size} entries`, {
    hint: "another release was appended at the same time; run the command again",
  });
}

// only a path that is not there is absent: one that cannot be read (a folder replaced by a file,
// no permission, an I/O error) is an error, never an empty ledger or log
function unreadable(path: string, e: unknown): SteleError {
  return new SteleError("store.unavailable", `cannot read \`${path}\``, {
    cause: e,
    hint: `${(e as NodeJS.ErrnoException).code ?? "an error"}: check the store's files and their permissions`,
  });
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw unreadable(path, e);
  }
}

// a file listed a moment ago, read whole: any error is the store's, never a crash
async function readWhole(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw unreadable(path, e);
  }
}

// a folder's names; none when it is not there
async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw unreadable(path, e);
  }
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw unreadable(path, e);
  }
}

// a batch file's lines: views of its bytes, split at each newline
function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let end = bytes.indexOf(0x0a); end >= 0; end = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, end));
    start = end + 1;
  }
  lines.push(bytes.subarray(start));
  return lines;
}
