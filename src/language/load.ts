import { lstat, readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { SteleError } from "../errors.js";
import { Source } from "./source.js";

const FOLDERS = ["policies", "exceptions", "tests"] as const;

/**
 * Reads a policy repository's sources: stele.yaml, every .yaml/.yml under policies/, exceptions/
 * and tests/, and schemas/*.json. Dotfiles and symbolic links are skipped; paths are relative to
 * `dir` with `/`, sorted, so the same tree always gives the same sources.
 */
export async function readSources(dir: string): Promise<Source[]> {
  const files: string[] = [];
  if (await isFile(join(dir, "stele.yaml"))) files.push(join(dir, "stele.yaml"));
  for (const folder of FOLDERS)
    await walk(join(dir, folder), files, (name) => /\.ya?ml$/.test(name));
  await walk(join(dir, "schemas"), files, (name) => name.endsWith(".json"), false);
  const sources: Source[] = [];
  for (const file of files.sort()) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new SteleError("language.io", `cannot read \`${file}\``, { cause: e });
    }
    sources.push(new Source(relative(dir, file).split(sep).join("/"), text.replace(/\r\n/g, "\n")));
  }
  return sources.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}

async function walk(
  dir: string,
  into: string[],
  want: (name: string) => boolean,
  deep = true,
): Promise<void> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new SteleError("language.io", `cannot read \`${dir}\``, { cause: e });
  }
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory() && deep) await walk(path, into, want);
    else if (entry.isFile() && want(entry.name)) into.push(path); // symbolic links are neither
  }
}
