import { parseDocument } from "yaml";
import { SteleError } from "../errors.js";

/**
 * Parses an input document given as JSON or YAML (one document, YAML 1.2 core schema, no
 * aliases) into a plain JSON value.
 */
export function parseInputDocument(text: string, file: string): unknown {
  // untrusted: a file or standard input
  try {
    return JSON.parse(text);
  } catch {
    // not JSON: read it as YAML below
  }
  const doc = parseDocument(text, { version: "1.2", schema: "core", uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const [line, col] = error.linePos?.[0] ? [error.linePos[0].line, error.linePos[0].col] : [1, 1];
    throw new SteleError(
      "language.yaml_syntax",
      `input is neither JSON nor YAML: ${error.message.split("\n")[0]}`,
      {
        position: { file, line, col },
      },
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 0 });
  } catch (e) {
    throw new SteleError("language.yaml_alias", "input may not use YAML aliases", {
      position: { file, line: 1, col: 1 },
      cause: e,
    });
  }
}
