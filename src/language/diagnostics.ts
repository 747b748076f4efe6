import type { Code, Position } from "../errors.js";
import type { Source } from "./source.js";

/** One problem found in the sources, where it is, and how to fix it. */
export interface Diagnostic {
  readonly code: Code;
  readonly severity: "error" | "warning";
  readonly message: string;
  readonly position: Position;
  /** How many characters the problem spans on its line (for the caret line). */
  readonly span?: number;
  readonly hint?: string;
}

/** Collects every problem in one pass, so `stele check` reports all of them, not the first. */
export class Diagnostics {
  readonly #byKey = new Map<string, Diagnostic>();

  /** Adds a problem at an offset of a source. */
  at(
    source: Source,
    start: number,
    end: number,
    code: Code,
    message: string,
    options: { hint?: string | undefined; severity?: "error" | "warning" } = {},
  ): void {
    const position = source.position(start);
    const last = source.position(Math.max(start, end));
    const span = last.line === position.line ? Math.max(1, last.col - position.col) : 1;
    this.add({
      code,
      severity: options.severity ?? "error",
      message,
      position,
      span,
      ...(options.hint !== undefined && { hint: options.hint }),
    });
  }

  add(d: Diagnostic): void {
    const { file, line, col } = d.position;
    this.#byKey.set(`${file}:${line}:${col}:${d.code}:${d.message}`, d); // same problem twice is one problem
  }

  get hasErrors(): boolean {
    for (const d of this.#byKey.values()) if (d.severity === "error") return true;
    return false;
  }

  /** Sorted by file, line, column: stable output for people, golden files and CI. */
  sorted(): Diagnostic[] {
    return [...this.#byKey.values()].sort(
      (a, b) =>
        a.position.file.localeCompare(b.position.file) ||
        a.position.line - b.position.line ||
        a.position.col - b.position.col ||
        a.message.localeCompare(b.message),
    );
  }
}

/** `file:line:col: message`, then the source line with a caret under the problem, then the hint. */
export function formatDiagnostic(d: Diagnostic, source?: Source): string {
  const { file, line, col } = d.position;
  const lines = [
    `${file}:${line}:${col}: ${d.severity === "warning" ? "warning: " : ""}${d.message}`,
  ];
  const text = source?.lineText(line);
  if (text !== undefined && text !== "") {
    const gutter = String(line).length;
    const chars = [...text];
    const lead = chars
      .slice(0, col - 1)
      .map((c) => (c === "\t" ? "\t" : " "))
      .join("");
    lines.push(` ${line} | ${text}`);
    lines.push(
      ` ${" ".repeat(gutter)} | ${lead}${"^".repeat(Math.max(1, Math.min(d.span ?? 1, chars.length - col + 1)))}`,
    );
  }
  if (d.hint) lines.push(`  hint: ${d.hint}`);
  return lines.join("\n");
}
