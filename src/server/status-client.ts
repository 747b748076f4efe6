// the other side of GET /v1/status: what `stele drift` and `stele decisions verify --pdp` ask a
// running decision point

/** A URL's JSON over HTTP, within 3 s; throws on a failed request or a non-2xx answer. */
export async function fetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}
