import { join } from "node:path";
import type { Diagnostic, Source } from "../language/index.js";
import { formatDiagnostic } from "../language/index.js";

/** A diagnostic with its file shown relative to where stele ran. */
export function shownDiagnostic(dir: string, d: Diagnostic): Diagnostic {
  return { ...d, position: { ...d.position, file: shownPath(dir, d.position.file) } };
}

/** Every diagnostic as `file:line:col: message` with the source line and a caret. */
export function formatDiagnostics(
  dir: string,
  diagnostics: readonly Diagnostic[],
  sources: readonly Source[],
): string {
  const byFile = new Map(sources.map((s) => [s.file, s]));
  return diagnostics
    .map((d) => formatDiagnostic(shownDiagnostic(dir, d), byFile.get(d.position.file)))
    .join("\n");
}

/** "3 errors, 1 warning" */
export function countProblems(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  return `${plural(errors, "error")}, ${plural(warnings, "warning")}`;
}

/** "1 policy", "2 policies" */
export function plural(n: number, word: string): string {
  if (n === 1) return `1 ${word}`;
  return `${n} ${word.endsWith("y") ? `${word.slice(0, -1)}ies` : `${word}s`}`;
}

/** How a path inside `dir` is shown to the user (relative to where they ran stele). */
export function shownPath(dir: string, file: string): string {
  return dir === "." || dir === "" ? file : join(dir, file);
}

// what `printable` shows as escapes: C0 and C1 controls but newline and tab, DEL, the
// characters that reorder text (bidirectional marks, embeddings, overrides and isolates), line
// and paragraph separators, and invisible ones (zero-width space, word joiner, invisible
// operators, byte order mark). Zero-width (non-)joiners stay: scripts need them
const UNPRINTABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/**
 * Text safe to write to a terminal: control characters (but newlines and tabs) and the ones that
 * reorder text shown as escapes. Store contents (log names, messages) reach the output, and an
 * escape sequence in one could redraw what was printed before it.
 */
export function printable(text: string): string {
  return text.replace(
    UNPRINTABLE,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}
