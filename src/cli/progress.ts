import type { Io } from "./command.js";

/**
 * Progress lines on standard error, for work that may take a while: nothing with `--json`,
 * nothing for work done within `after` ms, then a line at most every `every` ms. The line is
 * made only when it is printed.
 */
export function progress(
  io: Io,
  { clock = Date.now, after = 2_000, every = 2_000 } = {},
): (line: () => string) => void {
  const start = clock();
  let next = start + after;
  return (line) => {
    if (io.json) return;
    const now = clock();
    if (now < next) return;
    next = now + every;
    io.err(line());
  };
}

/** `n` of `total` things, with the share done: `1,200 of 4,000 decisions (30%)`. */
export function ofTotal(n: number, total: number, things: string): string {
  const share = total > 0 ? ` (${Math.min(100, Math.floor((100 * n) / total))}%)` : "";
  return `${n.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} ${things}${share}`;
}
