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
