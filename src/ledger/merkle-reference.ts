// A slow reference written straight from RFC 6962 §2.1's recursive definitions, for tests and the
// vector generator only. It shares no code with merkle.ts or tree.ts on purpose: a bug there must
// show up as a disagreement here.
import { createHash } from "node:crypto";

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

// spec: RFC 6962 §2.1 "the largest power of two smaller than n"
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]): the Merkle tree hash of a list of entries. */
export function referenceRoot(entries: readonly Uint8Array[]): Uint8Array {
  const n = entries.length;
  // spec: RFC 6962 §2.1 MTH({}) = SHA-256()
  if (n === 0) return sha256();
  // spec: RFC 6962 §2.1 MTH({d(0)}) = SHA-256(0x00 || d(0))
  if (n === 1) return sha256(Uint8Array.of(0x00), entries[0] as Uint8Array);
  // spec: RFC 6962 §2.1 MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
  const k = largestPowerOfTwoBelow(n);
  return sha256(
    Uint8Array.of(0x01),
    referenceRoot(entries.slice(0, k)),
    referenceRoot(entries.slice(k)),
  );
}

/** PATH(m, D[n]): the audit path (inclusion proof) of entry m. */
export function referenceInclusionProof(m: number, entries: readonly Uint8Array[]): Uint8Array[] {
  const n = entries.length;
  if (m < 0 || m >= n) throw new RangeError(`leaf ${m} is not in a tree of ${n}`);
  // spec: RFC 6962 §2.1.1 PATH(0, {d(0)}) = {}
  if (n === 1) return [];
  const k = largestPowerOfTwoBelow(n);
  // spec: RFC 6962 §2.1.1 PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k
  if (m < k)
    return [...referenceInclusionProof(m, entries.slice(0, k)), referenceRoot(entries.slice(k))];
  // spec: RFC 6962 §2.1.1 PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k]) for m >= k
  return [...referenceInclusionProof(m - k, entries.slice(k)), referenceRoot(entries.slice(0, k))];
}

// spec: RFC 6962 §2.1.2 SUBPROOF(m, D[n], b)
function subproof(m: number, entries: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = entries.length;
  // spec: RFC 6962 §2.1.2 SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
  if (m === n) return b ? [] : [referenceRoot(entries)];
  const k = largestPowerOfTwoBelow(n);
  // spec: RFC 6962 §2.1.2 m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
  if (m <= k) return [...subproof(m, entries.slice(0, k), b), referenceRoot(entries.slice(k))];
  // spec: RFC 6962 §2.1.2 m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
  return [...subproof(m - k, entries.slice(k), false), referenceRoot(entries.slice(0, k))];
}

/** PROOF(m, D[n]): the consistency proof that D[n] extends its first m entries, for 0 < m ≤ n. */
export function referenceConsistencyProof(m: number, entries: readonly Uint8Array[]): Uint8Array[] {
  if (m <= 0 || m > entries.length)
    throw new RangeError(`size ${m} is not in (0, ${entries.length}]`);
  // spec: RFC 6962 §2.1.2 PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
  return subproof(m, entries, true);
}
