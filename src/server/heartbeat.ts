import { createPublicKey, sign, verify } from "node:crypto";
import { SteleError } from "../errors.js";
import type { Store } from "../store/index.js";
import { isNameOf, type PdpIdentity } from "./identity.js";
import { type Health, Runtime } from "./runtime.js";

/** What a decision point says about itself: what it runs, how healthy, when. */
export interface Heartbeat {
  readonly pdp: string;
  readonly env: string;
  readonly url: string | null;
  readonly version: number | null;
  readonly bundle: string | null;
  readonly treeSize: number | null;
  readonly state: Health;
  readonly reason: string | null;
  readonly time: string;
  /**
   * Its decision log and the last checkpoint it signed that the store took (heartbeats before
   * this field have none): `stele decisions verify` holds the store to it.
   */
  readonly decisionLog?: { readonly log: string; readonly checkpoint: string } | null;
  /**
   * Its last heartbeat, written as it stopped on purpose (heartbeats before this field have
   * none): it serves nothing any more, so it is not drift. One that dies without a word stays
   * as it last said, and goes silent.
   */
  readonly stopped?: boolean;
}

/** The store document of a PDP's heartbeat. */
export function heartbeatDoc(pdp: string): string {
  return `heartbeats/${pdp}.json`;
}

/** The decision point a `heartbeatDoc` name is of; undefined for any other name. */
export function pdpOfHeartbeatDoc(doc: string): string | undefined {
  return /^heartbeats\/(.+)\.json$/.exec(doc)?.[1];
}

/**
 * Writes a signed heartbeat of the runtime to the store; `url` null once it no longer answers,
 * `stopped` for the last one, written as it stops.
 */
export async function writeHeartbeat(
  store: Store,
  id: PdpIdentity,
  runtime: Runtime,
  url: string | null,
  decisionLog?: { readonly log: string; readonly checkpoint: string | undefined },
  stopped = false,
): Promise<void> {
  const a = runtime.active;
  const beat: Heartbeat = {
    pdp: id.name,
    env: runtime.env,
    url,
    version: a?.version ?? null,
    bundle: a?.digest ?? null,
    treeSize: a?.treeSize ?? null,
    state: runtime.health,
    reason: runtime.reason ?? null,
    time: new Date().toISOString(),
    decisionLog:
      decisionLog?.checkpoint !== undefined
        ? { log: decisionLog.log, checkpoint: decisionLog.checkpoint }
        : null,
    stopped,
  };
  const payload = Buffer.from(JSON.stringify(beat), "utf8");
  const doc = {
    payload: payload.toString("base64"),
    sig: sign(null, payload, id.privateKey).toString("base64"),
    publicKey: id.publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
  await store.writeDoc(heartbeatDoc(id.name), Buffer.from(JSON.stringify(doc)));
}

/**
 * At a start: a last heartbeat of this decision point that says it stopped is replaced by one
 * that serves nothing yet (no URL, the decision log's trace kept), so that a start that fails
 * (its port taken, a crash) shows as drift (stale, then silent) instead of a stop on purpose.
 */
export async function unstop(store: Store, id: PdpIdentity, env: string): Promise<void> {
  const last = await readHeartbeat(store, heartbeatDoc(id.name)).catch(() => undefined);
  if (last?.stopped !== true) return;
  await writeHeartbeat(store, id, new Runtime(env), null, last.decisionLog ?? undefined);
}

/** Every heartbeat in the store; one whose signature fails is refused. */
export async function readHeartbeats(store: Store): Promise<Heartbeat[]> {
  const beats: Heartbeat[] = [];
  for (const name of await store.listDocs("heartbeats")) {
    const beat = await readHeartbeat(store, name);
    if (beat) beats.push(beat);
  }
  return beats;
}

/**
 * The heartbeat in the document `name` (`heartbeats/<pdp>.json`), if there is one; refused
 * (store.corrupt) unless signed by the key its decision point's name was made from, under that
 * name (anyone can sign with a key of their own, no one else can speak for this decision point),
 * and unless its fields are a heartbeat's, of their types.
 */
export async function readHeartbeat(store: Store, name: string): Promise<Heartbeat | undefined> {
  const bytes = await store.readDoc(name);
  if (!bytes) return undefined;
  try {
    const doc = JSON.parse(bytes.toString("utf8")) as {
      payload: string;
      sig: string;
      publicKey: string;
    };
    const payload = Buffer.from(doc.payload, "base64");
    const key = createPublicKey(doc.publicKey);
    if (!verify(null, payload, key, Buffer.from(doc.sig, "base64")))
      throw new Error("bad signature");
    const beat = JSON.parse(payload.toString("utf8")) as Heartbeat;
    if (!isHeartbeat(beat)) throw new Error("not a heartbeat");
    if (name !== heartbeatDoc(beat.pdp) || !isNameOf(beat.pdp, key))
      throw new Error(`not signed by the key of \`${beat.pdp}\``);
    return beat;
  } catch (e) {
    throw new SteleError("store.corrupt", `heartbeat of \`${name}\` does not verify`, {
      cause: e,
    });
  }
}

// the fields readers rely on, of the types they rely on: a valid signature says who wrote it, not
// that it is well-formed
function isHeartbeat(b: unknown): b is Heartbeat {
  const h = b as Partial<Record<keyof Heartbeat, unknown>> | null;
  const orNull = (x: unknown, type: "string" | "number") => x === null || typeof x === type;
  const log = h?.decisionLog as { log?: unknown; checkpoint?: unknown } | null | undefined;
  return (
    typeof h === "object" &&
    h !== null &&
    typeof h.pdp === "string" &&
    typeof h.env === "string" &&
    typeof h.state === "string" &&
    typeof h.time === "string" &&
    orNull(h.url, "string") &&
    orNull(h.version, "number") &&
    orNull(h.bundle, "string") &&
    orNull(h.treeSize, "number") &&
    orNull(h.reason, "string") &&
    (h.stopped === undefined || typeof h.stopped === "boolean") &&
    (log === undefined ||
      log === null ||
      (typeof log === "object" &&
        typeof log.log === "string" &&
        typeof log.checkpoint === "string"))
  );
}
