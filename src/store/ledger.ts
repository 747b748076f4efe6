import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { type Digest, type LoadedBundle, loadBundle } from "../bundle/index.js";
import { SteleError } from "../errors.js";
import {
  checkpointOf,
  type Entry,
  encodeEntry,
  formatVerifierKey,
  type LedgerKey,
  type LedgerView,
  readLedger,
  verifyStoredCheckpoint,
} from "../ledger/index.js";
import type { Store } from "./store.js";

const KEY_DOC = "ledger/key.pem";
const ORIGIN_DOC = "ledger/origin";

/**
 * The store's ledger key: made once when the store is first written (racing creators agree on
 * the first one written), and the origin line its checkpoints carry.
 */
export async function ledgerKey(store: Store): Promise<LedgerKey> {
  let pem = await store.readDoc(KEY_DOC);
  if (!pem) {
    const { privateKey } = generateKeyPairSync("ed25519");
    await store.createDoc(
      ORIGIN_DOC,
      Buffer.from(`stele.dev/ledger/${randomBytes(8).toString("hex")}`),
    );
    await store.createDoc(
      KEY_DOC,
      Buffer.from(privateKey.export({ format: "pem", type: "pkcs8" })),
    );
    pem = await store.readDoc(KEY_DOC);
  }
  const origin = (await store.readDoc(ORIGIN_DOC))?.toString("utf8");
  if (!pem || !origin)
    throw new SteleError("store.corrupt", "the store's ledger key or origin is missing");
  const privateKey = createPrivateKey(pem);
  return { origin, name: origin, privateKey, publicKey: createPublicKey(privateKey) };
}

/** The verifier key text (`name+hash+key`) of the store's checkpoints, or undefined for a new store. */
export async function ledgerVerifier(
  store: Store,
): Promise<{ origin: string; vkey: string } | undefined> {
  const pem = await store.readDoc(KEY_DOC);
  const origin = (await store.readDoc(ORIGIN_DOC))?.toString("utf8");
  if (!pem || !origin) return undefined;
  return { origin, vkey: formatVerifierKey(origin, createPublicKey(createPrivateKey(pem))) };
}

/** Reads the whole ledger into a view (every entry parsed, the tree built). */
export async function readView(store: Store): Promise<LedgerView> {
  const size = await store.ledgerSize();
  return readLedger(await store.readEntries(0, size));
}

/** Checks the latest stored checkpoint against the view; the entries are the truth. */
export async function requireCheckpointMatches(store: Store, view: LedgerView): Promise<void> {
  const latest = await store.latestCheckpoint();
  const verifier = await ledgerVerifier(store);
  if (!latest || !verifier) return;
  verifyStoredCheckpoint(view, latest.note, verifier.vkey, verifier.origin);
}

/**
 * Appends entries in order at the view's size, then signs and stores a checkpoint of the new
 * tree. Throws `store.conflict` when someone else appended first: re-read and re-check.
 */
export async function appendEntries(
  store: Store,
  view: LedgerView,
  entries: readonly Entry[],
): Promise<LedgerView> {
  const key = await ledgerKey(store);
  let size = view.size;
  for (const entry of entries) {
    await store.appendEntry(size, encodeEntry(entry));
    size++;
  }
  const next = await readView(store);
  if (next.size > size) throw new SteleError("store.conflict", "the ledger grew while appending");
  await store.putCheckpoint({ size: next.size, note: checkpointOf(next, key) });
  return next;
}

/** Signs a checkpoint for entries an interrupted writer appended but did not cover. */
export async function coverTail(store: Store, view: LedgerView): Promise<void> {
  const latest = await store.latestCheckpoint();
  if (view.size === 0 || (latest && latest.size >= view.size)) return;
  await store.putCheckpoint({ size: view.size, note: checkpointOf(view, await ledgerKey(store)) });
}

// content-addressed: a digest always names the same bytes, so a verified load can be reused
const loaded = new Map<string, LoadedBundle>();

/**
 * The environments the config of the newest release (among the ledger's first `covered` entries)
 * declares; undefined with no release, or when its bundle cannot be read (`stele verify`'s to
 * report: here it declares nothing).
 */
export async function declaredEnvs(
  store: Store,
  view: LedgerView,
  covered = view.size,
): Promise<string[] | undefined> {
  const newest = view.releases.filter((r) => r.index < covered).at(-1);
  if (!newest) return undefined;
  const bundle = await storedBundle(store, newest.record.bundle).catch(() => undefined);
  return bundle?.set.project.environments.map((e) => e.name);
}

/** A stored bundle by digest, fully verified; refuses a missing or altered one. */
export async function storedBundle(store: Store, digest: string): Promise<LoadedBundle> {
  const cached = loaded.get(digest);
  if (cached) return cached;
  const bytes = await store.getObject(digest as Digest);
  if (!bytes)
    throw new SteleError("store.not_found", `bundle ${digest} is not in the store`, {
      hint: "bundles enter the store with `stele release`",
    });
  const bundle = loadBundle(bytes, digest as Digest);
  if (loaded.size >= 64) loaded.delete(loaded.keys().next().value as string);
  loaded.set(digest, bundle);
  return bundle;
}
