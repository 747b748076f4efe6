import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { repoRoot } from "./testing/index.js";

// DESIGN.md "Architecture": direct dependencies; anything reachable through them is allowed too
const DEPENDS: Record<string, readonly string[]> = {
  language: [],
  engine: ["language"],
  bundle: ["language", "engine"],
  trust: ["bundle"],
  ledger: ["trust"],
  diff: ["engine", "bundle"],
  store: ["bundle", "ledger"],
  release: ["trust", "ledger", "diff", "store"],
  server: ["engine", "store"],
  drift: ["store", "server"],
  web: ["server"],
  cli: [
    "language",
    "engine",
    "bundle",
    "trust",
    "ledger",
    "diff",
    "store",
    "release",
    "server",
    "drift",
  ],
  "index.ts": [
    "language",
    "engine",
    "bundle",
    "trust",
    "ledger",
    "diff",
    "store",
    "release",
    "server",
    "drift",
  ],
};
const SHARED = new Set(["errors.ts", "testing"]); // importable from anywhere, import nothing above them

// third-party packages live behind one module each, so swapping one touches one folder
const OWNER: Record<string, string> = {
  "@marcbachmann/cel-js": "language",
  yaml: "language",
  pg: "store",
  hono: "server",
  "@hono/node-server": "server",
  "prom-client": "server",
};

function reachable(from: string, seen = new Set<string>()): Set<string> {
  for (const dep of DEPENDS[from] ?? []) if (!seen.has(dep)) reachable(dep, seen.add(dep));
  return seen;
}

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

const src = join(repoRoot, "src");
const moduleOf = (file: string): string => relative(src, file).split(/[\\/]/)[0] ?? "";
const packageOf = (spec: string): string =>
  spec
    .split("/")
    .slice(0, spec.startsWith("@") ? 2 : 1)
    .join("/");
const IMPORT = /(?:\bfrom\s+|\bimport\s*\(?\s*)["']([^"']+)["']/g;

test("modules import only downward, through index.ts, and own their third-party packages", () => {
  const problems: string[] = [];
  for (const file of sourceFiles(src)) {
    const from = moduleOf(file);
    if (SHARED.has(from) || file.endsWith(".test.ts") || from === "architecture.test.ts") continue;
    const at = relative(repoRoot, file);
    for (const [, spec = ""] of readFileSync(file, "utf8").matchAll(IMPORT)) {
      if (!spec.startsWith(".")) {
        const owner = OWNER[packageOf(spec)];
        if (owner && owner !== from)
          problems.push(`${at}: only \`${owner}\` may import \`${spec}\``);
        continue;
      }
      const target = resolve(dirname(file), spec).replace(/\.js$/, ".ts");
      const to = moduleOf(target);
      if (to === from || SHARED.has(to)) continue;
      if (!reachable(from).has(to)) problems.push(`${at}: \`${from}\` may not import \`${to}\``);
      else if (relative(join(src, to), target) !== "index.ts")
        problems.push(`${at}: import \`${to}\` through its index.ts, not \`${spec}\``);
    }
  }
  assert.deepEqual(problems, []);
});

test("shared code imports no module", () => {
  const problems: string[] = [];
  for (const file of [join(src, "errors.ts"), ...sourceFiles(join(src, "testing"))]) {
    for (const [, spec = ""] of readFileSync(file, "utf8").matchAll(IMPORT)) {
      if (!spec.startsWith(".")) continue;
      const to = moduleOf(resolve(dirname(file), spec).replace(/\.js$/, ".ts"));
      if (!SHARED.has(to)) problems.push(`${relative(repoRoot, file)}: imports \`${to}\``);
    }
  }
  assert.deepEqual(problems, []);
});
