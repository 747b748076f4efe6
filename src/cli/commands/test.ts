import type { CaseResult, TestReport } from "../../engine/index.js";
import { runTests } from "../../engine/index.js";
import { type Command, Exit, listOpt, parseNow, stringOpt, usageError } from "../command.js";
import { shownPath } from "../output.js";
import { openTarget } from "../tree.js";

interface TestResult {
  readonly report: TestReport;
  readonly format: "text" | "junit";
  readonly dir: string;
}

/** `stele test [dir|bundle]`: run the policy tests. */
export const testCommand: Command<TestResult> = {
  summary: "run the policy tests (a directory or a bundle)",
  usage: "[dir|bundle] [--policy NAME…] [--subject NAME] [--now TIME] [--format text|junit]",
  options: {
    policy: { type: "string", multiple: true },
    subject: { type: "string" },
    now: { type: "string" },
    format: { type: "string", default: "text" },
  },
  help: {
    policy: "run only tests that judge by this policy (repeatable)",
    subject: "run only tests of policies with this subject",
    now: "clock for tests that fix none (RFC 3339; default: now)",
    format: "text (default) or junit (JUnit XML on stdout, for CI)",
  },
  async run(args, io) {
    const format = stringOpt(args, "format") ?? "text";
    if (format !== "text" && format !== "junit")
      throw usageError(`--format must be text or junit, found \`${format}\``);
    const path = args.positionals[0] ?? ".";
    const now = parseNow(stringOpt(args, "now"));
    const target = await openTarget(path, now, io);
    const policies = new Set(listOpt(args, "policy"));
    const subject = stringOpt(args, "subject");
    const wanted = (names: readonly string[]) =>
      (policies.size === 0 || names.some((n) => policies.has(n))) &&
      (subject === undefined ||
        names.some((n) => target.set.policies.find((p) => p.name === n)?.subject === subject));
    const tests = target.set.tests.filter((t) =>
      wanted(
        t.policies ??
          target.set.policies
            .filter((p) => t.subject === undefined || p.subject === t.subject)
            .map((p) => p.name),
      ),
    );
    const report = runTests({ ...target.set, tests }, { now, bundle: target.digest });
    return { report, format, dir: target.kind === "dir" ? path : "." };
  },
  exit: (r) => (r.report.failed > 0 ? Exit.problems : Exit.ok),
  human: (r) => (r.format === "junit" ? junit(r.report) : text(r)),
  json: (r) => ({
    ok: r.report.failed === 0,
    passed: r.report.passed,
    failed: r.report.failed,
    results: r.report.results.map(({ decision, ...rest }) => ({ ...rest, decision })),
  }),
};

function text(r: TestResult): string {
  const lines: string[] = [];
  let file = "";
  for (const c of r.report.results) {
    const at = shownPath(r.dir, c.position.file);
    if (at !== file) {
      lines.push(at);
      file = at;
    }
    lines.push(`  ${c.ok ? "ok  " : "FAIL"} ${c.test} › ${c.case}`);
    if (!c.ok) lines.push(...details(c, at));
  }
  if (r.report.results.length === 0) lines.push("no test cases found");
  lines.push("", `${r.report.passed} passed, ${r.report.failed} failed`);
  return lines.join("\n");
}

function details(c: CaseResult, file: string): string[] {
  return [
    `       at ${file}:${c.position.line}:${c.position.col}`,
    ...c.problems.map((p) => `       ${p}`),
  ];
}

function junit(report: TestReport): string {
  const byTest = new Map<string, CaseResult[]>();
  for (const c of report.results) byTest.set(c.test, [...(byTest.get(c.test) ?? []), c]);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="stele" tests="${report.results.length}" failures="${report.failed}">`,
  ];
  for (const [name, cases] of byTest) {
    const failures = cases.filter((c) => !c.ok).length;
    out.push(`  <testsuite name="${xml(name)}" tests="${cases.length}" failures="${failures}">`);
    for (const c of cases) {
      const open = `    <testcase classname="${xml(name)}" name="${xml(c.case)}" file="${xml(c.position.file)}" line="${c.position.line}"`;
      if (c.ok) out.push(`${open}/>`);
      else
        out.push(
          `${open}>`,
          `      <failure message="${xml(c.problems[0] ?? "failed")}">${xml(c.problems.join("\n"))}</failure>`,
          "    </testcase>",
        );
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return out.join("\n");
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
