import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { buildBundle } from "../bundle/index.js";
import { SteleError } from "../errors.js";
import { compile, readSources, Source } from "../language/index.js";
import { openStore } from "../store/index.js";
import { repoRoot, tempDir } from "../testing/index.js";
import { generateKeyPair } from "../trust/index.js";
import { release } from "./release.js";

// the api example with one reviewer `dev` of the key given, built by a compiler that does not
// check keys (an older stele, or by hand)
async function apiBundle(key: string) {
  const sources = (await readSources(join(repoRoot, "examples", "api"))).map((s) =>
    s.file === "stele.yaml"
      ? new Source(
          s.file,
          s.text.replace("spec:\n", `spec:\n  reviewers:\n    - name: dev\n      key: ${key}\n`),
        )
      : s,
  );
  const compiled = compile(sources, { now: Date.now() });
  assert.ok(compiled.ok, JSON.stringify(compiled.diagnostics));
  return {
    compiled,
    built: buildBundle(sources, compiled.set, { commit: "0".repeat(40), dirty: false }),
  };
}

// DESIGN promise 4: release's refusal of `built` for `env`, with nothing written to the ledger
async function refusedRelease(built: { bytes: Uint8Array }, env: string): Promise<SteleError> {
  const store = await openStore(`file:${tempDir()}`);
  try {
    const e = await release(store, {
      bundle: built.bytes,
      env,
      releasedBy: "test",
      now: new Date(),
    })
      .then(() => assert.fail("released"))
      .catch((e: unknown) => e);
    assert.ok(e instanceof SteleError, String(e));
    assert.equal(await store.ledgerSize(), 0, "nothing was written to the ledger");
    return e;
  } finally {
    await store.close();
  }
}

// a bundle made by a compiler that did not read reviewers' keys (an older stele, or by hand):
// its config would be the one in force after it, and no approval could be counted against it
test("a bundle whose stele.yaml holds a reviewer key no one can read is not released (the env would be locked for good)", async () => {
  // a real key cut short, as a paste gone wrong leaves it
  const { built } = await apiBundle(generateKeyPair().sshPublicKey.slice(0, 40));
  const e = await refusedRelease(built, "staging");
  assert.equal(e.code, "release.bad_config");
  assert.match(e.message, /no release after it approvable .*malformed OpenSSH public key/);
  assert.match(e.hint ?? "", /stele check/);
});

test("a bundle whose stele.yaml asks more approvals of an env than it lists reviewers is not released there", async () => {
  // examples/api: prod needs 2 approvals, and 3 for a weakening; one reviewer listed
  const { built, compiled } = await apiBundle(generateKeyPair().sshPublicKey);
  assert.ok(
    compiled.diagnostics.some((d) => /needs 3 approvals .* lists 1 reviewer/.test(d.message)),
  );
  const e = await refusedRelease(built, "prod");
  assert.equal(e.code, "release.bad_config");
  assert.match(e.message, /`prod` needs 3 approvals but the config lists 1 reviewer/);
});
