import { SteleError } from "../errors.js";
import { compile, formatDiagnostic, type PolicySet, Source } from "../language/index.js";
import type { BundleDoc, BundleSource, GitInfo } from "./build.js";
import { canonicalJson } from "./canonical.js";
import { type Digest, digestOf, isDigest } from "./digest.js";
import { planJson } from "./plan-json.js";
import { COMPILER } from "./version.js";

/** A bundle that verified: its digest, its document, and the policy set it compiles to. */
export interface LoadedBundle {
  readonly digest: Digest;
  readonly doc: BundleDoc;
  readonly set: PolicySet;
  readonly sources: readonly Source[];
}

/**
 * Loads a bundle from its bytes and verifies all of it: the digest (against `expected` when
 * given), canonical form, every source's digest, and that the sources compile to exactly the
 * plan the bundle records. Anything else is refused; nothing half-verified is returned.
 */
export function loadBundle(bytes: Uint8Array, expected?: Digest): LoadedBundle {
  const digest = digestOf(bytes);
  if (expected !== undefined && digest !== expected)
    throw new SteleError(
      "bundle.digest_mismatch",
      `bundle digest is ${digest}, expected ${expected}`,
      {
        hint: "the bundle bytes were changed after release; fetch the released bundle again",
      },
    );
  // untrusted: until every check below passes
  const text = Buffer.from(bytes).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SteleError("bundle.malformed", "bundle is not valid JSON", { cause: e });
  }
  if (canonicalJson(value) !== text)
    throw new SteleError("bundle.not_canonical", "bundle bytes are not in canonical form", {
      hint: "bundles are written by `stele build` and must not be edited or re-serialised",
    });
  const doc = readDoc(value);
  for (const s of doc.sources) {
    if (digestOf(s.text) !== s.digest)
      throw new SteleError(
        "bundle.source_mismatch",
        `source \`${s.path}\` does not match its digest`,
      );
  }
  const sources = doc.sources.map((s) => new Source(s.path, s.text));
  const result = compile(sources, { now: undefined });
  if (!result.ok) {
    const first = result.diagnostics.find((d) => d.severity === "error");
    throw new SteleError(
      "bundle.malformed",
      `bundle sources do not compile${first ? `: ${formatDiagnostic(first).split("\n")[0]}` : ""}`,
    );
  }
  if (canonicalJson(planJson(result.set)) !== canonicalJson(doc.plan))
    throw new SteleError(
      "bundle.plan_mismatch",
      "bundle sources do not compile to the plan it records",
      {
        hint:
          doc.compiler.name === COMPILER.name && doc.compiler.version === COMPILER.version
            ? "the same compiler made a different plan: the bundle was edited after it was built; rebuild it from its commit with `stele build`"
            : `the bundle was built by ${doc.compiler.name} ${doc.compiler.version}, this is ${COMPILER.name} ${COMPILER.version}; rebuild it with this version`,
      },
    );
  return { digest, doc, set: result.set, sources };
}

function readDoc(value: unknown): BundleDoc {
  const bad = (what: string) => new SteleError("bundle.malformed", `bundle is malformed: ${what}`);
  if (!isRecord(value)) throw bad("not an object");
  if (value.apiVersion !== "stele/v1" || value.kind !== "Bundle")
    throw new SteleError("bundle.unsupported_format", "not a stele/v1 bundle", {
      hint: "build one with `stele build`",
    });
  const { project, compiler, git, sources, plan } = value;
  if (typeof project !== "string") throw bad("`project` is not a string");
  if (
    !isRecord(compiler) ||
    typeof compiler.name !== "string" ||
    typeof compiler.version !== "string"
  )
    throw bad("`compiler` is not {name, version}");
  if (!Array.isArray(sources)) throw bad("`sources` is not a list");
  const checked: BundleSource[] = sources.map((s, i) => {
    if (!isRecord(s) || typeof s.path !== "string" || typeof s.text !== "string")
      throw bad(`source ${i} is not {path, digest, text}`);
    if (typeof s.digest !== "string" || !isDigest(s.digest)) throw bad(`source ${i} has no digest`);
    return { path: s.path, digest: s.digest, text: s.text };
  });
  return {
    apiVersion: "stele/v1",
    kind: "Bundle",
    project,
    compiler: { name: compiler.name, version: compiler.version },
    git: readGit(git, bad),
    sources: checked,
    plan,
  };
}

function readGit(git: unknown, bad: (what: string) => SteleError): GitInfo | null {
  if (git === null) return null;
  if (!isRecord(git) || typeof git.commit !== "string" || typeof git.dirty !== "boolean")
    throw bad("`git` is not {commit, dirty}");
  return { commit: git.commit, dirty: git.dirty };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
