import { readFile, stat } from "node:fs/promises";
import { SteleError } from "../errors.js";
import { type Envelope, parseEnvelope } from "../trust/index.js";

// a bundle larger than this is refused before reading
const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

/** Reads a bundle file whole, refusing a missing or oversized one. */
export async function readBundleFile(path: string): Promise<Buffer> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile())
    throw new SteleError("bundle.not_found", `no bundle file \`${path}\``, {
      hint: "build one with `stele build`",
    });
  if (info.size > MAX_BUNDLE_BYTES)
    throw new SteleError(
      "bundle.malformed",
      `\`${path}\` is larger than ${MAX_BUNDLE_BYTES} bytes`,
    );
  return readFile(path);
}

/**
 * An approval envelope file, parsed strictly (exact shape, no duplicate keys): what a reviewer
 * signed is read only one way.
 */
export async function readEnvelopeFile(path: string): Promise<Envelope> {
  const text = await readTextFile(path, "");
  try {
    return parseEnvelope(text);
  } catch (e) {
    if (!(e instanceof SteleError)) throw e;
    throw new SteleError(e.code, `\`${path}\`: ${e.message}`, {
      cause: e,
      hint: e.hint ?? "an approval file is what `stele approve -o FILE` wrote, unedited",
    });
  }
}

/**
 * A text file the user named, read whole; one that cannot be read is `cli.io`, saying which
 * (`what`: "key ", "input ", …), why ("no such file", …), and `hint`, how to make one.
 */
export async function readTextFile(path: string, what: string, hint?: string): Promise<string> {
  const text = await readTextFileIfAny(path, what, hint);
  if (text === undefined) throw unreadable(path, what, { code: "ENOENT" }, hint);
  return text;
}

/** As `readTextFile`, but a file that is not there is undefined (any other failure is not). */
export async function readTextFileIfAny(
  path: string,
  what: string,
  hint?: string,
): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw unreadable(path, what, e, hint);
  }
}

function unreadable(path: string, what: string, e: unknown, hint?: string): SteleError {
  return new SteleError("cli.io", `cannot read ${what}\`${path}\`: ${whyUnreadable(e)}`, {
    cause: e,
    ...(hint !== undefined && { hint }),
  });
}

/** Why a file could not be read, in words: "no such file", "permission denied", … */
export function whyUnreadable(e: unknown): string {
  switch ((e as { code?: string }).code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a folder";
    default:
      return e instanceof Error ? e.message : String(e);
  }
}
