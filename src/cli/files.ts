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
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new SteleError("cli.io", `cannot read \`${path}\`: ${whyUnreadable(e)}`, { cause: e });
  }
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
