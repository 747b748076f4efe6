import type { PolicySet } from "../language/index.js";

/**
 * The compiled plan as plain data: what a bundle records as "compiled policies". Conditions are
 * kept as their checked CEL source; positions are left out (the sources carry them).
 */
export function planJson(set: PolicySet): unknown {
  return {
    project: set.project,
    policies: set.policies.map((p) => ({
      name: p.name,
      description: p.description,
      subject: p.subject,
      default: p.default,
      rules: p.rules.map((r) => ({
        name: r.name,
        effect: r.effect,
        enforcement: r.enforcement,
        message: r.message,
        when: r.when.source,
      })),
    })),
    exceptions: set.exceptions.map((e) => ({
      name: e.name,
      description: e.description,
      policy: e.policy,
      rules: e.rules,
      when: e.when.source,
      expires: e.expires,
      owner: e.owner,
      justification: e.justification,
    })),
    tests: set.tests.map((t) => ({
      name: t.name,
      policies: t.policies,
      subject: t.subject,
      now: t.now,
      cases: t.cases.map((c) => ({
        name: c.name,
        input: c.input,
        expect: c.expect,
        rules: c.rules,
        exceptions: c.exceptions,
        warnings: c.warnings,
        now: c.now,
      })),
    })),
    schemas: set.schemas,
  };
}
