import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { SteleError } from "../errors.js";

/**
 * What a decision point remembers across restarts, kept outside the store it reads so that
 * rolling the store back cannot roll the PDP back (DESIGN promise 6).
 */
export interface PdpState {
  /** The highest version of its environment this PDP ever served. */
  readonly highestVersion?: number;
  /** The ledger key it pinned on first use. */
  readonly vkey?: string;
  /** The last checkpoint note it trusted. */
  readonly checkpoint?: string;
  /**
   * The latest time (ms) its own clock read at a verified read of the ledger: it never judges
   * by an earlier one.
   */
  readonly trustedTime?: number;
}

/** A PDP state file: read whole, written atomically. */
export type StateFile = JsonFile<PdpState>;

/** The state file at `path` (JSON; a missing file is a fresh PDP). */
export function stateFile(path: string): StateFile {
  return jsonFile<PdpState>(path);
}

/**
 * What a decision point remembers of its own decision log across restarts, beside its state
 * file: the last checkpoint it signed and saved. A store whose log no longer holds it lost
 * decisions the decision point wrote, and the decision point refuses to sign on top of it.
 */
export interface LogWitness {
  readonly log?: string;
  readonly size?: number;
  readonly checkpoint?: string;
}

/** The decision log witness file beside the state file `statePath`. */
export function logWitnessFile(statePath: string): JsonFile<LogWitness> {
  return jsonFile<LogWitness>(`${statePath}.decision-log`);
}

/**
 * A small JSON document of a decision point's own, outside the store: read whole (a missing
 * file reads as `{}`: every field optional), written atomically.
 */
export interface JsonFile<T extends object> {
  read(): Promise<T>;
  write(value: T): Promise<void>;
}

function jsonFile<T extends object>(path: string): JsonFile<T> {
  return {
    async read() {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return {} as T;
        throw new SteleError("store.unavailable", `cannot read the PDP state \`${path}\``, {
          cause: e,
        });
      }
      try {
        const value = JSON.parse(text) as T;
        if (typeof value !== "object" || value === null) throw new Error("not an object");
        return value;
      } catch (e) {
        // fail closed: a state we cannot read must not reset the version floor silently
        throw new SteleError("store.corrupt", `the PDP state \`${path}\` is not valid JSON`, {
          cause: e,
          hint: "restore it, or remove it knowingly to start as a new decision point",
        });
      }
    },
    async write(state) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
      const handle = await open(tmp, "w", 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
    },
  };
}
