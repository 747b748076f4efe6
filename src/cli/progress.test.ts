import assert from "node:assert/strict";
import { test } from "node:test";
import type { Io } from "./command.js";
import { ofTotal, progress } from "./progress.js";

const io = (json: boolean, lines: string[]): Io => ({
  json,
  out: () => undefined,
  err: (text) => lines.push(text),
  readStdin: async () => "",
});

test("progress says nothing for short work, then a line every interval, and nothing with --json", () => {
  let now = 1_000;
  const lines: string[] = [];
  let made = 0;
  const report = progress(io(false, lines), { clock: () => now, after: 2_000, every: 500 });
  const line = () => `line ${++made}`;
  for (const t of [1_000, 2_500, 2_999, 3_000, 3_100, 3_499, 3_500, 9_000, 9_100]) {
    now = t;
    report(line);
  }
  // at 3,000 (2 s in), 3,500 (500 ms later) and 9,000; the line is made only when printed
  assert.deepEqual(lines, ["line 1", "line 2", "line 3"]);
  const quiet: string[] = [];
  const json = progress(io(true, quiet), { clock: () => now, after: 0 });
  now += 10_000;
  json(() => "never");
  assert.deepEqual(quiet, []);
});

test("a count of a total reads with its share", () => {
  assert.equal(ofTotal(1_200, 4_000, "decisions"), "1,200 of 4,000 decisions (30%)");
  assert.equal(ofTotal(5, 0, "decisions"), "5 of 0 decisions");
  assert.equal(ofTotal(9, 8, "decisions"), "9 of 8 decisions (100%)");
});
