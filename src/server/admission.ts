import { SteleError } from "../errors.js";
import type { DecisionResponse } from "./wire.js";

const API_VERSION = "admission.k8s.io/v1";

/**
 * Reads a Kubernetes AdmissionReview: its request uid, and the input policies see,
 * `{object, oldObject, request}` with `request` holding everything but the two objects (as in
 * Kubernetes' own ValidatingAdmissionPolicy).
 */
export function toAdmissionInput(body: unknown): { uid: string; input: unknown } {
  // untrusted: whatever the API server (or anyone) posted
  const review = body as { apiVersion?: unknown; kind?: unknown; request?: unknown } | null;
  if (typeof review !== "object" || review === null || review.kind !== "AdmissionReview")
    throw bad("body is not an AdmissionReview");
  if (review.apiVersion !== API_VERSION)
    throw bad(
      `AdmissionReview apiVersion must be \`${API_VERSION}\`, found \`${String(review.apiVersion)}\``,
    );
  const request = review.request as Record<string, unknown> | null | undefined;
  if (typeof request !== "object" || request === null || Array.isArray(request))
    throw bad("AdmissionReview has no `request`");
  const { uid, object, oldObject, ...rest } = request;
  if (typeof uid !== "string" || uid === "") throw bad("AdmissionReview request has no `uid`");
  return {
    uid,
    input: { object: object ?? null, oldObject: oldObject ?? null, request: { uid, ...rest } },
  };
}

/** The AdmissionReview answer for a decision (or for no verified release: refused). */
export function toAdmissionReview(uid: string, response: DecisionResponse | undefined): unknown {
  if (!response)
    return review({
      uid,
      allowed: false,
      status: { code: 503, message: "stele: no verified release is loaded yet" },
    });
  const allowed = response.decision === "allow";
  const failed = response.policies.flatMap((p) =>
    p.effect === "deny"
      ? p.reasons
          .filter((r) => r.effect === "deny")
          .map((r) => `${p.policy}/${r.rule}: ${r.message}`)
      : [],
  );
  const denials = response.policies
    .filter((p) => p.effect === "deny" && !p.reasons.some((r) => r.effect === "deny"))
    .map((p) => `${p.policy}: no rule allowed this request`);
  const errors = response.errors.map((e) => `${e.code}: ${e.message}`);
  const message = [...failed, ...denials, ...errors].join("; ");
  return review({
    uid,
    allowed,
    ...(!allowed && {
      status: {
        code: 403,
        reason: "Forbidden",
        message: `denied by stele (${response.env} v${response.version}): ${message}`,
      },
    }),
    ...(response.warnings.length > 0 && { warnings: [...response.warnings] }),
    auditAnnotations: {
      "stele.dev/bundle": response.bundle ?? "",
      "stele.dev/decision-id": response.id,
    },
  });
}

function review(response: Record<string, unknown>): unknown {
  return { apiVersion: API_VERSION, kind: "AdmissionReview", response };
}

function bad(message: string): SteleError {
  return new SteleError("server.bad_admission_review", message);
}
