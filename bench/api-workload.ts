// The benchmark workload for examples/api: deterministic, varied request inputs, and a hand-written
// plain-JS implementation of examples/api/policies/api-access.yaml to measure the engine against.

/** An input of the api example (schemas/api-request.json). */
export interface ApiRequest {
  env: "dev" | "staging" | "prod";
  action: "read" | "list" | "create" | "update" | "delete" | "export" | "approve";
  principal: {
    id: string;
    roles: string[];
    department: string;
    clearance: number;
    mfa: boolean;
  };
  resource: {
    type: string;
    id: string;
    owner: string;
    department: string;
    classification: number;
    tags?: string[];
  };
}

/** What the benchmark compares: the decision and the enforced rules that matched, in policy order. */
export interface ApiDecision {
  decision: "allow" | "deny";
  matched: string[];
}

// mulberry32: a small, fast, seeded PRNG; same seed, same sequence
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

// [value, weight] pairs: a weighted choice
function weighted<T>(rand: () => number, choices: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, w] of choices) total += w;
  let x = rand() * total;
  for (const [value, w] of choices) {
    x -= w;
    if (x < 0) return value;
  }
  const last = choices[choices.length - 1];
  if (last === undefined) throw new Error("weighted choice from an empty list");
  return last[0];
}

const ENVS = [
  ["dev", 2],
  ["staging", 3],
  ["prod", 5],
] as const;
const ACTIONS = [
  ["read", 30],
  ["list", 15],
  ["create", 10],
  ["update", 18],
  ["delete", 8],
  ["export", 9],
  ["approve", 10],
] as const;
const DEPARTMENTS = ["finance", "engineering", "sales", "platform", "security", "marketing"];
// never `dana`: the inc-7731 exception must not apply to benchmark inputs
const PEOPLE = [
  "ann",
  "bill",
  "carl",
  "ada",
  "erik",
  "ivan",
  "paula",
  "sue",
  "otto",
  "hugo",
  "sam",
];
const SERVICES = ["svc-billing", "svc-reports", "svc-sync"];
const ROLES = [
  ["reader", 0.6],
  ["editor", 0.3],
  ["approver", 0.2],
  ["exporter", 0.15],
  ["auditor", 0.06],
  ["admin", 0.07],
  ["break-glass", 0.08],
  ["suspended", 0.02],
] as const;
const TYPES = [
  ["invoice", 5],
  ["report", 5],
  ["contract", 3],
  ["purchase-order", 3],
  ["service-config", 2],
  ["feature-flag", 2],
  ["audit-log", 1],
] as const;
const TAGS = [
  ["pii", 0.25],
  ["legal-hold", 0.08],
  ["quarterly", 0.2],
  ["draft", 0.15],
] as const;

/** `n` varied inputs for the api example, the same for the same `seed`. */
export function makeInputs(n: number, seed: number): unknown[] {
  const rand = prng(seed);
  const inputs: ApiRequest[] = [];
  for (let i = 0; i < n; i++) {
    const id = rand() < 0.1 ? pick(rand, SERVICES) : pick(rand, PEOPLE);
    const roles: string[] = [];
    for (const [role, p] of ROLES) if (rand() < p) roles.push(role);
    const department = pick(rand, DEPARTMENTS);
    const clearance = Math.floor(rand() * 5);
    // mostly at or below the caller's clearance, sometimes above it
    const classification =
      rand() < 0.8 ? Math.floor(rand() * (clearance + 1)) : Math.floor(rand() * 5);
    const resource: ApiRequest["resource"] = {
      type: weighted(rand, TYPES),
      id: `r-${Math.floor(rand() * 100_000)}`,
      owner: rand() < 0.2 ? id : pick(rand, PEOPLE),
      department: rand() < 0.7 ? department : pick(rand, DEPARTMENTS),
      classification,
    };
    if (rand() < 0.7) {
      const tags: string[] = [];
      for (const [tag, p] of TAGS) if (rand() < p) tags.push(tag);
      resource.tags = tags;
    }
    inputs.push({
      env: weighted(rand, ENVS),
      action: weighted(rand, ACTIONS),
      principal: { id, roles, department, clearance, mfa: rand() < 0.75 },
      resource,
    });
  }
  return inputs;
}

/**
 * examples/api's `api-access` policy written by hand: the enforced rules that match, in policy
 * order; a matching deny wins, else a matching allow, else the default (deny). Exceptions and
 * `warn` rules are left out.
 */
export function handwritten(input: unknown): ApiDecision {
  const { env, action, principal, resource } = input as ApiRequest;
  const roles = principal.roles;
  const sameDepartment = principal.department === resource.department;
  const isRead = action === "read" || action === "list";
  const matched: string[] = [];
  let allowed = false;
  let denied = false;

  // grants
  if (isRead && roles.includes("reader") && sameDepartment) {
    matched.push("readers-read-own-department");
    allowed = true;
  }
  if (isRead && roles.includes("auditor")) {
    matched.push("auditors-read-everything");
    allowed = true;
  }
  if ((action === "read" || action === "update") && resource.owner === principal.id) {
    matched.push("owners-read-and-update-own");
    allowed = true;
  }
  if ((action === "create" || action === "update") && roles.includes("editor") && sameDepartment) {
    matched.push("editors-write-own-department");
    allowed = true;
  }
  if (roles.includes("admin") && action !== "export" && action !== "approve") {
    matched.push("admins-manage");
    allowed = true;
  }
  if (action === "approve" && roles.includes("approver") && sameDepartment) {
    matched.push("approvers-approve-own-department");
    allowed = true;
  }
  if (action === "export" && roles.includes("exporter")) {
    matched.push("exporters-export");
    allowed = true;
  }
  if (action === "delete" && roles.includes("break-glass")) {
    matched.push("break-glass-delete");
    allowed = true;
  }

  // restrictions
  if (roles.includes("suspended")) {
    matched.push("suspended-accounts");
    denied = true;
  }
  if (principal.clearance < resource.classification) {
    matched.push("clearance-below-classification");
    denied = true;
  }
  if (resource.classification >= 4 && !principal.mfa) {
    matched.push("secret-needs-mfa");
    denied = true;
  }
  if (env === "prod" && !principal.mfa && !isRead) {
    matched.push("prod-writes-need-mfa");
    denied = true;
  }
  if (action === "delete" && !roles.includes("break-glass")) {
    matched.push("delete-needs-break-glass");
    denied = true;
  }
  if (
    (action === "create" || action === "update" || action === "delete") &&
    !sameDepartment &&
    !roles.includes("admin")
  ) {
    matched.push("no-cross-department-writes");
    denied = true;
  }
  if (action === "approve" && resource.owner === principal.id) {
    matched.push("no-self-approval");
    denied = true;
  }
  if (action === "approve" && principal.id.startsWith("svc-")) {
    matched.push("service-accounts-cannot-approve");
    denied = true;
  }
  if (action === "export" && resource.classification >= 3) {
    matched.push("no-export-of-restricted");
    denied = true;
  }
  if ((action === "update" || action === "delete") && resource.tags?.includes("legal-hold")) {
    matched.push("legal-hold-freezes");
    denied = true;
  }
  if (resource.type === "audit-log" && (action === "update" || action === "delete")) {
    matched.push("audit-logs-append-only");
    denied = true;
  }

  return { decision: denied ? "deny" : allowed ? "allow" : "deny", matched };
}
