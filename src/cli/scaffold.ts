// the files `stele init` writes: a small, working policy repository

/** The scaffold's files by path, for a project name, a dev reviewer key and a clock. */
export function scaffold(name: string, devPublicKey: string, now: Date): Record<string, string> {
  const day = (d: number) => new Date(now.getTime() + d * 86_400_000);
  const iso = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;
  const today = iso(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())));
  return {
    "stele.yaml": `# yaml-language-server: $schema=.stele-schemas/project.schema.json
apiVersion: stele/v1
kind: Project
metadata:
  name: ${name}
spec:
  reviewers:
    # a development key made by \`stele init\` (private half: keys/dev.key, never commit it);
    # add your team with \`stele keygen --name NAME\` or their ssh-ed25519 keys
    - name: dev
      key: ${devPublicKey}
  environments:
    - name: staging
      quorum: 1
    - name: prod
      quorum: 1              # raise to 2 once you have two reviewers (and weakeningQuorum)
      weakeningQuorum: 1     # approvals needed for a change that allows more
      promoteFrom: staging   # prod only runs what ran in staging
  exceptions:
    maxDuration: 7d
`,
    "policies/db-guardrails.yaml": `# yaml-language-server: $schema=../.stele-schemas/policy.schema.json
apiVersion: stele/v1
kind: Policy
metadata:
  name: db-guardrails
  description: What may run against production databases
spec:
  subject: sql-statement
  default: allow
  rules:
    - name: no-drop-in-prod
      effect: deny
      when: input.env == 'prod' && input.statement.kind in ['DROP', 'TRUNCATE']
      message: DROP and TRUNCATE are blocked in production
    - name: where-required
      effect: deny
      when: input.statement.kind in ['UPDATE', 'DELETE'] && !input.statement.hasWhere
      message: UPDATE and DELETE need a WHERE clause
    - name: pii-needs-role
      effect: deny
      when: >-
        input.statement.table in ['users', 'payments']
        && !('pii-reader' in input.principal.roles)
      message: tables with personal data need the pii-reader role
    - name: large-select
      effect: deny
      enforcement: warn
      when: input.statement.kind == 'SELECT' && input.statement.rowsEstimate > 100000
      message: this query reads more than 100k rows
`,
    "exceptions/cleanup.yaml": `# yaml-language-server: $schema=../.stele-schemas/exception.schema.json
apiVersion: stele/v1
kind: Exception
metadata:
  name: cleanup-tmp-import
spec:
  policy: db-guardrails
  rules: [no-drop-in-prod]
  when: input.principal.id == 'alice' && input.statement.table == 'tmp_import'
  expires: ${iso(day(3))}
  owner: alice@example.com
  justification: "drop the failed import table"
`,
    "tests/db-guardrails.yaml": `# yaml-language-server: $schema=../.stele-schemas/test.schema.json
apiVersion: stele/v1
kind: Test
metadata:
  name: db-guardrails
spec:
  policies: [db-guardrails]
  now: ${today}
  cases:
    - name: drop in prod is blocked
      input: {env: prod, principal: {id: bob, roles: [dba]}, statement: {kind: DROP, table: orders, hasWhere: false, rowsEstimate: 0}}
      expect: deny
      rules: [no-drop-in-prod]
    - name: drop in staging is fine
      input: {env: staging, principal: {id: bob, roles: [dba]}, statement: {kind: DROP, table: orders, hasWhere: false, rowsEstimate: 0}}
      expect: allow
    - name: delete without where is blocked
      input: {env: staging, principal: {id: bob, roles: []}, statement: {kind: DELETE, table: orders, hasWhere: false, rowsEstimate: 10}}
      expect: deny
      rules: [where-required]
    - name: reading users needs pii-reader
      input: {env: prod, principal: {id: carol, roles: [analyst]}, statement: {kind: SELECT, table: users, hasWhere: true, rowsEstimate: 10}}
      expect: deny
      rules: [pii-needs-role]
    - name: a big select warns but is allowed
      input: {env: prod, principal: {id: carol, roles: []}, statement: {kind: SELECT, table: orders, hasWhere: false, rowsEstimate: 500000}}
      expect: allow
      warnings: [large-select]
    - name: alice may drop the failed import table while the exception lasts
      input: {env: prod, principal: {id: alice, roles: [dba]}, statement: {kind: DROP, table: tmp_import, hasWhere: false, rowsEstimate: 0}}
      expect: allow
      exceptions: [cleanup-tmp-import]
    - name: the exception ends when it expires
      now: ${iso(day(4))}
      input: {env: prod, principal: {id: alice, roles: [dba]}, statement: {kind: DROP, table: tmp_import, hasWhere: false, rowsEstimate: 0}}
      expect: deny
      rules: [no-drop-in-prod]
`,
    "schemas/sql-statement.json": `${JSON.stringify(
      {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        title: "sql-statement",
        description: "A SQL statement about to run, and who runs it where",
        type: "object",
        required: ["env", "principal", "statement"],
        properties: {
          env: { type: "string", description: "the environment: dev, staging, prod" },
          principal: {
            type: "object",
            required: ["id", "roles"],
            properties: {
              id: { type: "string" },
              roles: { type: "array", items: { type: "string" } },
            },
          },
          statement: {
            type: "object",
            required: ["kind", "table", "hasWhere", "rowsEstimate"],
            properties: {
              kind: {
                type: "string",
                enum: ["SELECT", "INSERT", "UPDATE", "DELETE", "DROP", "TRUNCATE"],
              },
              table: { type: "string" },
              hasWhere: { type: "boolean" },
              rowsEstimate: { type: "integer" },
            },
          },
        },
      },
      null,
      2,
    )}\n`,
    ".gitignore":
      "# private keys, build output and the local store stay out of git\nkeys/*.key\nbuild/\n.stele/\n",
  };
}
