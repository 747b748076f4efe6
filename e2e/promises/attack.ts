// what the attack files share: reading refusals, verify reports, and hand-made ledger material
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type LedgerKey, readLedger, signTree } from "../../src/ledger/index.js";
import { type Envelope, parsePrivateKey, signEnvelope } from "../../src/trust/index.js";
import type { Repo } from "../fixture.js";
import type { Run } from "../run.js";

/** A `--json` refusal as printed on standard error. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly position?: { file: string; line: number; col: number };
}

/** Asserts a `--json` run was refused with exit 1 and `code`; returns the error. */
export function refused(r: Run, code: string): Refusal {
  assert.equal(r.code, 1, `expected a refusal (exit 1), got ${r.code}\n${r.stdout}\n${r.stderr}`);
  let error: Refusal;
  try {
    error = JSON.parse(r.stderr).error;
  } catch {
    assert.fail(`expected a JSON error on standard error, found:\n${r.stderr}`);
  }
  assert.equal(error.code, code, `${error.code}: ${error.message}`);
  return error;
}

/** What `stele verify --json` reports. */
export interface Report {
  readonly ok: boolean;
  readonly size: number;
  readonly uncovered: number;
  readonly problem?: { index?: number; code: string; message: string; hint?: string };
}

/** Runs `stele verify --json` with a witness file of the test's choosing. */
export function verify(repo: Repo, witness: string): { code: number | null; report: Report } {
  const r = repo.run("verify", "--json", "--witness", witness);
  return { code: r.code, report: JSON.parse(r.stdout) };
}

/** Asserts `stele verify` exits 1 and reports `code` (at `index`, when given). */
export function tampered(repo: Repo, witness: string, code: string, index?: number) {
  const { code: exit, report } = verify(repo, witness);
  assert.equal(exit, 1, `verify should fail: ${JSON.stringify(report)}`);
  assert.equal(report.ok, false);
  assert.equal(report.problem?.code, code, report.problem?.message);
  if (index !== undefined) assert.equal(report.problem?.index, index, report.problem?.message);
  return report.problem as NonNullable<Report["problem"]>;
}

/** The path of ledger entry `i` in the repo's embedded store. */
export function entryPath(repo: Repo, i: number): string {
  return join(repo.dir, ".stele", "ledger", "entries", String(i).padStart(20, "0"));
}

/** The number of entries in the repo's embedded store. */
export function ledgerSize(repo: Repo): number {
  return readdirSync(join(repo.dir, ".stele", "ledger", "entries")).length;
}

/** Every entry of the ledger, parsed. */
export function entries(repo: Repo): Record<string, unknown>[] {
  return Array.from({ length: ledgerSize(repo) }, (_, i) =>
    JSON.parse(readFileSync(entryPath(repo, i), "utf8")),
  );
}

/** Signs arbitrary payload bytes as an approval envelope with a reviewer's key file. */
export function signPayload(repo: Repo, reviewer: string, payload: string): Envelope {
  const key = parsePrivateKey(readFileSync(repo.key(reviewer), "utf8"));
  return signEnvelope("application/vnd.in-toto+json", Buffer.from(payload), key.key, key.keyid);
}

/** The in-toto statement text of an approval, spelled by hand. */
export function statement(digest: string, env: string, reviewer: string): string {
  return JSON.stringify({
    _type: "https://in-toto.io/Statement/v1",
    subject: [{ name: "bundle", digest: { sha256: digest.slice("sha256:".length) } }],
    predicateType: "https://stele.dev/approval/v1",
    predicate: { env, reviewer, time: new Date().toISOString() },
  });
}

/** Writes a JSON file in the repo and returns its name. */
export function writeJson(repo: Repo, name: string, value: unknown): string {
  writeFileSync(join(repo.dir, name), JSON.stringify(value));
  return name;
}

/** The store's own checkpoint key, read from disk as someone holding the store would. */
export function storeKey(repo: Repo): LedgerKey {
  const docs = join(repo.dir, ".stele", "docs", "ledger");
  const privateKey = createPrivateKey(readFileSync(join(docs, "key.pem")));
  const origin = readFileSync(join(docs, "origin"), "utf8");
  return { origin, name: origin, privateKey, publicKey: createPublicKey(privateKey) };
}

/** A fresh key that claims the store's origin: what a forger without the store key has. */
export function forgedKey(repo: Repo): LedgerKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const origin = storeKey(repo).origin;
  return { origin, name: origin, privateKey, publicKey };
}

/** Re-signs every checkpoint of the store over the entries now on disk, with `key`. */
export function resignCheckpoints(repo: Repo, key: LedgerKey): void {
  const view = readLedger(
    Array.from({ length: ledgerSize(repo) }, (_, i) => readFileSync(entryPath(repo, i))),
  );
  const dir = join(repo.dir, ".stele", "ledger", "checkpoints");
  for (const name of readdirSync(dir))
    writeFileSync(join(dir, name), signTree(view.tree, Number(name), key));
}
