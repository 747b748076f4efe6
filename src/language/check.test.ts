// golden cases: testdata/language/check/<case>/ is a policy repository, expected.txt what
// `stele check` prints for it. UPDATE_GOLDEN=1 rewrites them; `git diff` is the review.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../testing/index.js";
import { compile } from "./compile.js";
import { formatDiagnostic } from "./diagnostics.js";
import { readSources } from "./load.js";

const suite = join(repoRoot, "testdata", "language", "check");
const NOW = Date.parse("2026-11-28T00:00:00Z");

for (const name of readdirSync(suite).sort()) {
  test(`check golden: ${name}`, async () => {
    const dir = join(suite, name);
    const sources = await readSources(dir);
    const byFile = new Map(sources.map((s) => [s.file, s]));
    const result = compile(sources, { now: NOW });
    const printed = `${result.diagnostics.map((d) => formatDiagnostic(d, byFile.get(d.position.file))).join("\n")}\n`;
    const path = join(dir, "expected.txt");
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, printed);
    assert.equal(printed, readFileSync(path, "utf8"));
    assert.equal(result.ok, name === "valid" || name.startsWith("valid-"));
  });
}
