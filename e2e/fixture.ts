import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, tempGitRepo } from "../src/testing/index.js";
import { type Run, stele } from "./run.js";

/** A policy repository with reviewers and keys, in a real git repository, and its store. */
export interface Repo {
  readonly dir: string;
  /** Runs the built CLI in the repo. */
  run(...args: string[]): Run;
  /** Runs and asserts exit 0; returns stdout. */
  ok(...args: string[]): string;
  /** Path of a reviewer's private key. */
  key(name: string): string;
  /** Rewrites a file in the repo. */
  edit(path: string, change: (text: string) => string): void;
  /** Commits every change. */
  commit(message?: string): void;
  /** Builds a bundle to `file` (committed tree) and returns its digest. */
  build(file?: string): string;
}

export interface RepoOptions {
  readonly reviewers?: readonly string[];
  readonly staging?: { quorum: number; weakeningQuorum?: number };
  readonly prod?: { quorum: number; weakeningQuorum?: number };
}

/** `stele init` plus reviewers made with `stele keygen`, committed. */
export function makeRepo(options: RepoOptions = {}): Repo {
  const dir = tempGitRepo();
  const run = (...args: string[]) => stele(dir, args);
  const ok = (...args: string[]) => {
    const r = run(...args);
    assert.equal(r.code, 0, `stele ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  ok("init", "--name", "acme");
  const names = options.reviewers ?? ["alice", "bob", "carol"];
  const keys = names.map((name) => {
    ok("keygen", "--name", name, "--out", "keys");
    return {
      name,
      key: readFileSync(join(dir, "keys", `${name}.pub`), "utf8")
        .split(" ")
        .slice(0, 2)
        .join(" "),
    };
  });
  const staging = options.staging ?? { quorum: 1 };
  const prod = options.prod ?? { quorum: 2, weakeningQuorum: 3 };
  writeFileSync(
    join(dir, "stele.yaml"),
    `apiVersion: stele/v1
kind: Project
metadata:
  name: acme
spec:
  reviewers:
${keys.map((k) => `    - name: ${k.name}\n      key: ${k.key}`).join("\n")}
  environments:
    - name: staging
      quorum: ${staging.quorum}
      weakeningQuorum: ${staging.weakeningQuorum ?? staging.quorum}
    - name: prod
      quorum: ${prod.quorum}
      weakeningQuorum: ${prod.weakeningQuorum ?? prod.quorum}
      promoteFrom: staging
  exceptions:
    maxDuration: 7d
`,
  );
  const repo: Repo = {
    dir,
    run,
    ok,
    key: (name) => join(dir, "keys", `${name}.key`),
    edit(path, change) {
      const file = join(dir, path);
      writeFileSync(file, change(readFileSync(file, "utf8")));
    },
    commit(message = "change") {
      git(dir, "add", "-A");
      git(dir, "commit", "-qm", message, "--allow-empty");
    },
    build(file = "bundle.json") {
      return ok("build", "-o", file).trim().split("\n").at(-1) ?? "";
    },
  };
  repo.commit("init");
  return repo;
}

/** The first deny rule's condition in the scaffold, made narrower (a weakening). */
export function weaken(text: string): string {
  return text.replace(
    "input.statement.kind in ['DROP', 'TRUNCATE']",
    "input.statement.kind in ['DROP']",
  );
}

/** A new deny rule added to the scaffold policy (a strengthening). */
export function strengthen(text: string): string {
  return `${text}    - name: no-alter-in-prod
      effect: deny
      when: input.env == 'prod' && input.statement.table == 'audit'
      message: the audit table is append-only
`;
}
