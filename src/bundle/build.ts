import type { PolicySet, Source } from "../language/index.js";
import { canonicalJson } from "./canonical.js";
import { type Digest, digestOf } from "./digest.js";
import { planJson } from "./plan-json.js";
import { COMPILER } from "./version.js";

/** Where the sources came from: the git commit, and whether the tree had uncommitted changes. */
export interface GitInfo {
  readonly commit: string;
  readonly dirty: boolean;
}

/** One source file as shipped in a bundle. */
export interface BundleSource {
  readonly path: string;
  readonly digest: Digest;
  readonly text: string;
}

/** The bundle document: self-contained, canonical JSON, addressed by the digest of its bytes. */
export interface BundleDoc {
  readonly apiVersion: "stele/v1";
  readonly kind: "Bundle";
  readonly project: string;
  readonly compiler: { readonly name: string; readonly version: string };
  readonly git: GitInfo | null;
  readonly sources: readonly BundleSource[];
  readonly plan: unknown;
}

/** A built bundle: its document, its exact bytes and their digest. */
export interface BuiltBundle {
  readonly doc: BundleDoc;
  readonly bytes: Buffer;
  readonly digest: Digest;
}

/**
 * Builds the bundle of a compiled set. Deterministic: the same sources (in any order) and the
 * same git info always give the same bytes and digest; no clock, path or platform goes in.
 */
export function buildBundle(
  sources: readonly Source[],
  set: PolicySet,
  git: GitInfo | null,
): BuiltBundle {
  const doc: BundleDoc = {
    apiVersion: "stele/v1",
    kind: "Bundle",
    project: set.project.name,
    compiler: { name: COMPILER.name, version: COMPILER.version },
    git: git && { commit: git.commit, dirty: git.dirty },
    sources: [...sources]
      .map((s) => ({ path: s.file, digest: digestOf(s.text), text: s.text }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    plan: planJson(set),
  };
  const bytes = Buffer.from(canonicalJson(doc), "utf8");
  return { doc, bytes, digest: digestOf(bytes) };
}
