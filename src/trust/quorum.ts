import { SteleError } from "../errors.js";
import { type VerifiedApproval, verifyApproval } from "./approval.js";
import type { Envelope } from "./dsse.js";
import type { Reviewer } from "./reviewers.js";

/** One reviewer's approval that counted, and the envelope it came from. */
export interface CountedApproval {
  readonly reviewer: string;
  readonly envelope: Envelope;
  readonly verified: VerifiedApproval;
}

/**
 * The approvals that count for this digest and environment, one per reviewer (the first of
 * theirs in the list): anything that does not verify, names another digest or environment, or
 * was signed by someone other than the reviewer it names counts for nothing.
 */
export function countedApprovals(
  envelopes: readonly Envelope[],
  reviewers: readonly Reviewer[],
  digest: string,
  env: string,
): CountedApproval[] {
  const counted = new Map<string, CountedApproval>();
  for (const envelope of envelopes) {
    // untrusted: each envelope, until verifyApproval returns
    let verified: VerifiedApproval;
    try {
      verified = verifyApproval(envelope, reviewers);
    } catch (e) {
      if (e instanceof SteleError) continue; // a bad approval is no approval
      throw e;
    }
    const { approval, reviewer } = verified;
    // DESIGN promise 4: signatures over the exact bundle digest, for this environment only
    if (approval.digest !== digest || approval.env !== env) continue;
    // people, not keys: a reviewer with several keys or several envelopes counts once
    if (!counted.has(reviewer)) counted.set(reviewer, { reviewer, envelope, verified });
  }
  return [...counted.values()];
}

/** Reviewers (by name, each once) whose valid signature approves this digest for this environment. */
export function approvers(
  envelopes: readonly Envelope[],
  reviewers: readonly Reviewer[],
  digest: string,
  env: string,
): Set<string> {
  return new Set(countedApprovals(envelopes, reviewers, digest, env).map((a) => a.reviewer));
}

/**
 * Throws `trust.quorum_not_met` unless at least `quorum` distinct reviewers approved this digest
 * for this environment; returns the approvals that counted.
 */
export function requireQuorum(
  envelopes: readonly Envelope[],
  reviewers: readonly Reviewer[],
  digest: string,
  env: string,
  quorum: number,
): CountedApproval[] {
  // fail closed: a quorum below one would let a release through with no review at all
  if (!Number.isSafeInteger(quorum) || quorum < 1) {
    throw new SteleError(
      "internal",
      `a quorum must be a whole number of at least 1, found ${quorum}`,
    );
  }
  const counted = countedApprovals(envelopes, reviewers, digest, env);
  if (counted.length >= quorum) return counted;
  const names = counted.map((a) => a.reviewer).sort();
  const who = names.length > 0 ? ` (${names.map((n) => `\`${n}\``).join(", ")})` : "";
  const missing = quorum - names.length;
  throw new SteleError(
    "trust.quorum_not_met",
    `release of ${digest} to \`${env}\` needs ${quorum} approval${quorum === 1 ? "" : "s"}, found ${names.length}${who}`,
    {
      hint: `${missing} more reviewer${missing === 1 ? "" : "s"} must run \`stele approve BUNDLE --env ${env} --key FILE\``,
    },
  );
}
