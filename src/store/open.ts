import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SteleError } from "../errors.js";
import { FileStore } from "./file/file-store.js";
import type { Store } from "./store.js";

/**
 * Opens a store by URL: `file:PATH` (relative to `cwd`, default `file:.stele`) or
 * `file:///abs/path`, or the shared `postgres://user:pass@host:port/db?schema=NAME`.
 */
export async function openStore(url: string, cwd: string = process.cwd()): Promise<Store> {
  if (url.startsWith("file:")) {
    const rest = url.slice("file:".length);
    const path = rest.startsWith("//") ? fileURLToPath(url) : rest;
    if (path === "") throw badUrl(url);
    return new FileStore(url, resolve(cwd, path));
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { PostgresStore } = await import("./postgres/postgres-store.js");
    return new PostgresStore(url);
  }
  throw badUrl(url);
}

function badUrl(url: string): SteleError {
  return new SteleError("store.bad_url", `unsupported store \`${url}\``, {
    hint: "use `file:PATH` (the embedded store, default `file:.stele`) or `postgres://user:pass@host/db?schema=NAME`",
  });
}
