// Decision logs written by hand for tests, in the format a decision point writes them
// (decision-log-format.ts): for logs too large to record through one, and for logs started by
// someone else with a key of their own.
import { MerkleFrontier } from "../ledger/index.js";
import type { Store } from "../store/index.js";
import { logKeyDoc } from "./decision-log.js";
import { logSigningKey, signBatches } from "./decision-log-format.js";
import type { PdpIdentity } from "./identity.js";

/** A decision log being written by hand: batches appended as its decision point appends them. */
export interface SignedLog {
  readonly name: string;
  /** Decisions written so far. */
  readonly entries: number;
  /** Appends one batch of lines, and the checkpoint after it signed with the log's key. */
  append(lines: readonly string[]): Promise<void>;
}

/** Starts the decision log of `identity` in `store`: its verifier key, no decisions yet. */
export async function signedLog(store: Store, identity: PdpIdentity): Promise<SignedLog> {
  const name = identity.name;
  await store.writeDoc(logKeyDoc(name), Buffer.from(identity.vkey));
  const key = logSigningKey(name, identity.privateKey);
  const tree = new MerkleFrontier();
  let entries = 0;
  return {
    name,
    get entries() {
      return entries;
    },
    async append(lines) {
      const bytes = Buffer.from(lines.join("\n"));
      await store.appendLogBatch(name, entries, { bytes, count: lines.length });
      tree.append(bytes);
      entries += lines.length;
      await store.putLogCheckpoint(name, {
        size: entries,
        note: signBatches(key, tree.root(), entries, tree.size),
      });
    },
  };
}
