/** The compiler that builds bundles; recorded in every bundle (a test keeps it equal to package.json). */
export const COMPILER = { name: "stele", version: "0.1.0" } as const;
