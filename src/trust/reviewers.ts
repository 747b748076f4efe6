import { SteleError } from "../errors.js";
import { type PublicKey, parsePublicKey } from "./keys.js";

/** A reviewer as the project config lists one: a name and public keys in any accepted encoding. */
export interface ReviewerKeys {
  readonly name: string;
  readonly keys: readonly string[];
}

/** A person who may approve: one name, one or more parsed keys. */
export interface Reviewer {
  readonly name: string;
  readonly keys: readonly PublicKey[];
}

/**
 * Parses every reviewer's keys; refuses a reviewer without keys, a name listed twice, and a key
 * shared by two reviewers (one key must never count as two people).
 */
export function toReviewers(list: readonly ReviewerKeys[]): Reviewer[] {
  const owner = new Map<string, string>();
  const names = new Set<string>();
  return list.map(({ name, keys }) => {
    if (names.has(name)) {
      throw new SteleError("trust.bad_key", `reviewer \`${name}\` is listed twice`, {
        hint: "list each person once, with all their keys under `keys`",
      });
    }
    names.add(name);
    if (keys.length === 0) {
      throw new SteleError("trust.bad_key", `reviewer \`${name}\` has no key`, {
        hint: "give the reviewer a `key` (`stele keygen --name NAME` makes one)",
      });
    }
    const parsed = keys.map((text) => {
      let key: PublicKey;
      try {
        key = parsePublicKey(text);
      } catch (e) {
        if (!(e instanceof SteleError)) throw e;
        throw new SteleError("trust.bad_key", `reviewer \`${name}\`: ${e.message}`, {
          hint: e.hint,
          cause: e,
        });
      }
      const other = owner.get(key.keyid);
      if (other !== undefined) {
        throw new SteleError(
          "trust.bad_key",
          other === name
            ? `reviewer \`${name}\` lists the key \`${key.keyid}\` twice`
            : `reviewers \`${other}\` and \`${name}\` share the key \`${key.keyid}\``,
          { hint: "each person needs their own key; one key must never count as two approvals" },
        );
      }
      owner.set(key.keyid, name);
      return key;
    });
    return { name, keys: parsed };
  });
}
