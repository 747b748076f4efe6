export type { BuiltBundle, BundleDoc, BundleSource, GitInfo } from "./build.js";
/** Builds a deterministic, content-addressed bundle from compiled sources. */
export { buildBundle } from "./build.js";
/** Canonical JSON text: the same value always gives the same bytes. */
export { canonicalJson } from "./canonical.js";
export type { Digest } from "./digest.js";
/** The `sha256:<hex>` digest of some bytes. */
/** Whether a string is a well-formed `sha256:<hex>` digest. */
export { digestOf, isDigest } from "./digest.js";
export type { LoadedBundle } from "./load.js";
/** Loads and fully verifies a bundle's bytes; refuses anything that does not verify. */
export { loadBundle } from "./load.js";
/** The compiled plan as plain data, as a bundle records it. */
export { planJson } from "./plan-json.js";
/** The compiler name and version recorded in every bundle. */
export { COMPILER } from "./version.js";
