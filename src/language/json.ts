import type { Diagnostics } from "./diagnostics.js";
import type { Source } from "./source.js";
import { MAX_FILE_BYTES } from "./yaml.js";

/**
 * Parses an input schema (`schemas/<subject>.json`): valid JSON, an object, at most 1 MiB.
 * Syntax errors are reported at their line and column.
 */
export function parseJsonSchema(source: Source, out: Diagnostics): unknown {
  if (source.text.length > MAX_FILE_BYTES) {
    out.at(source, 0, 0, "language.too_large", `file is larger than ${MAX_FILE_BYTES} bytes`);
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(source.text);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const at = /position (\d+)/.exec(message);
    const offset = at ? Number(at[1]) : 0;
    out.at(
      source,
      offset,
      offset + 1,
      "language.input_schema",
      `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, "").replace(/^JSON\.parse: /, "")}`,
    );
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    out.at(
      source,
      0,
      1,
      "language.input_schema",
      "an input schema must be a JSON object (a JSON Schema)",
    );
    return undefined;
  }
  return value;
}
