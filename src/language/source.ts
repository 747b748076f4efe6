import type { Position } from "../errors.js";

/** One source file: its repo-relative path and text. Positions stay offsets until shown. */
export class Source {
  #lineStarts: number[] | undefined;

  constructor(
    /** Path relative to the policy repository, with `/` separators. */
    readonly file: string,
    readonly text: string,
  ) {}

  /** The 1-based line and column (in characters, as editors count) of an offset. */
  position(offset: number): Position {
    const starts = this.#starts();
    const at = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= at) lo = mid;
      else hi = mid - 1;
    }
    const lineStart = starts[lo] ?? 0;
    const col = [...this.text.slice(lineStart, at)].length + 1;
    return { file: this.file, line: lo + 1, col };
  }

  /** The text of a 1-based line, without its line break. */
  lineText(line: number): string {
    const starts = this.#starts();
    const start = starts[line - 1];
    if (start === undefined) return "";
    const end = starts[line] ?? this.text.length + 1;
    return this.text.slice(start, end - 1).replace(/\r$/, "");
  }

  #starts(): number[] {
    if (!this.#lineStarts) {
      const starts = [0];
      for (let i = 0; i < this.text.length; i++)
        if (this.text.charCodeAt(i) === 10) starts.push(i + 1);
      this.#lineStarts = starts;
    }
    return this.#lineStarts;
  }
}
