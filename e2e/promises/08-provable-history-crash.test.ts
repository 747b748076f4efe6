// DESIGN promise 8 under faults: a release killed with SIGKILL at any point of its writes leaves a
// ledger that verifies and loses no completed release; concurrent releases never fork it.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { test } from "node:test";
import { cliPath } from "../../src/testing/index.js";
import { makeRepo, type Repo, strengthen } from "../fixture.js";

function releaseKilledAt(repo: Repo, bundle: string, crashAt: number) {
  return spawnSync(process.execPath, [cliPath, "release", bundle, "--env", "staging"], {
    cwd: repo.dir,
    encoding: "utf8",
    env: { ...process.env, STELE_TEST_CRASH_AT: String(crashAt), STELE_STATE_DIR: repo.dir },
  });
}

function versions(repo: Repo): number[] {
  return JSON.parse(repo.ok("log", "--json")).releases.map((r: { version: number }) => r.version);
}

test("a release killed at every write step leaves a verifiable ledger and loses no completed release", () => {
  const repo = makeRepo();
  const bundles = ["v1.json", "v2.json"];
  repo.build("v1.json");
  repo.edit("policies/db-guardrails.yaml", strengthen);
  repo.commit("stronger");
  repo.build("v2.json");
  let kills = 0;
  for (const [i, bundle] of bundles.entries()) {
    repo.ok("approve", bundle, "--key", repo.key("alice"), "--env", "staging");
    for (let crashAt = 1; ; crashAt++) {
      const r = releaseKilledAt(repo, bundle, crashAt);
      const verify = repo.run("verify", "--witness", `${repo.dir}/witness`);
      assert.equal(
        verify.code,
        0,
        `verify after a kill at step ${crashAt} of ${bundle}:\n${verify.stdout}${verify.stderr}`,
      );
      if (r.signal === "SIGKILL") {
        kills++;
        // completed releases are never lost; the interrupted one is either whole or absent
        assert.ok(versions(repo).length >= i, `release lost after a kill at step ${crashAt}`);
        assert.ok(crashAt < 100, "the release never finished");
        continue;
      }
      // a release that finished, or was refused because an interrupted attempt had completed it
      assert.ok(r.status === 0 || /already runs/.test(r.stderr), r.stderr);
      break;
    }
    assert.deepEqual(
      versions(repo),
      bundles.slice(0, i + 1).map((_, j) => j + 1),
    );
  }
  assert.ok(kills >= 10, `only ${kills} crash points were exercised`);
});

test("concurrent releases never fork the ledger", async () => {
  const repo = makeRepo();
  const files: string[] = [];
  for (let i = 0; i < 4; i++) {
    repo.edit("policies/db-guardrails.yaml", (t) =>
      t.replace(
        /message: DROP and TRUNCATE are blocked in production.*/,
        `message: DROP and TRUNCATE are blocked in production (${i})`,
      ),
    );
    repo.commit(`variant ${i}`);
    files.push(repo.build(`c${i}.json`) && `c${i}.json`);
    repo.ok("approve", `c${i}.json`, "--key", repo.key("alice"), "--env", "staging");
  }
  const runs = await Promise.all(
    files.map(
      (file) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, [cliPath, "release", file, "--env", "staging"], {
            cwd: repo.dir,
            stdio: "ignore",
            env: { ...process.env, STELE_STATE_DIR: repo.dir },
          });
          child.on("exit", (code) => resolve(code));
        }),
    ),
  );
  assert.ok(runs.some((code) => code === 0));
  const log = JSON.parse(repo.ok("log", "--json"));
  const staging = log.releases.filter((r: { env: string }) => r.env === "staging");
  // one linear history: versions 1..n, each naming the one before as previous
  staging.forEach((r: { version: number; previous: string | null }, i: number) => {
    assert.equal(r.version, i + 1);
    assert.equal(r.previous, i === 0 ? null : staging[i - 1].bundle);
  });
  assert.equal(staging.length, runs.filter((code) => code === 0).length);
  assert.equal(repo.run("verify").code, 0);
});
