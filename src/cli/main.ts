import { parseArgs } from "node:util";
import { COMPILER } from "../bundle/index.js";
import { formatError, SteleError } from "../errors.js";
import { didYouMean } from "../language/index.js";
import { type Args, type Command, Exit, type ExitCode, type Io } from "./command.js";
import { printable } from "./output.js";

// one line per command; each module loads only when its command runs
const COMMANDS: Record<string, () => Promise<Command<unknown>>> = {
  init: async () => (await import("./commands/init.js")).init as Command<unknown>,
  check: async () => (await import("./commands/check.js")).check as Command<unknown>,
  test: async () => (await import("./commands/test.js")).testCommand as Command<unknown>,
  eval: async () => (await import("./commands/eval.js")).evalCommand as Command<unknown>,
  build: async () => (await import("./commands/build.js")).build as Command<unknown>,
  decisions: async () => (await import("./commands/decisions.js")).decisions as Command<unknown>,
  diff: async () => (await import("./commands/diff.js")).diff as Command<unknown>,
  drift: async () => (await import("./commands/drift.js")).drift as Command<unknown>,
  keygen: async () => (await import("./commands/keygen.js")).keygen as Command<unknown>,
  approve: async () => (await import("./commands/approve.js")).approve as Command<unknown>,
  release: async () => (await import("./commands/release.js")).releaseCommand as Command<unknown>,
  promote: async () => (await import("./commands/promote.js")).promoteCommand as Command<unknown>,
  log: async () => (await import("./commands/log.js")).log as Command<unknown>,
  serve: async () => (await import("./commands/serve.js")).serve as Command<unknown>,
  verify: async () => (await import("./commands/verify.js")).verify as Command<unknown>,
};

const COMMON = {
  json: { type: "boolean", default: false },
  store: { type: "string", default: "file:.stele" },
  help: { type: "boolean", short: "h", default: false },
} as const;

const COMMON_HELP = {
  json: 'machine-readable output (errors as {"error": {code, message, hint}} on stderr)',
  store: "where bundles, the ledger and logs live (default file:.stele)",
  help: "show this help",
};

/** Runs one `stele` invocation; returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<ExitCode> {
  // `stele --json CMD …` is `stele CMD … --json`
  const args0 = argv[0] === "--json" ? [...argv.slice(1), "--json"] : argv;
  const [name = "", ...rest] = args0;
  if (name === "" || name === "--help" || name === "-h" || name === "help") {
    io.out(await topHelp());
    return name === "" ? Exit.usage : Exit.ok;
  }
  if (name === "--version" || name === "-v") {
    io.out(`${COMPILER.name} ${COMPILER.version}`);
    return Exit.ok;
  }
  // a usage error is told as any other error is: as JSON when --json was asked for, even where
  // the arguments it came with could not be read
  const usage = (e: SteleError, prefix: string): ExitCode => {
    io.err(
      rest.includes("--json")
        ? JSON.stringify({ error: e }, null, 2)
        : `${prefix}: ${formatError(e)}`,
    );
    return Exit.usage;
  };
  const load = COMMANDS[name];
  if (!load) {
    const near = didYouMean(name, Object.keys(COMMANDS));
    return usage(
      new SteleError(
        "cli.usage",
        `unknown command \`${name}\`; commands: ${Object.keys(COMMANDS).join(", ")}`,
        {
          hint: near ? `did you mean \`stele ${near}\`?` : "run `stele --help` for what each does",
        },
      ),
      "stele",
    );
  }
  const command = await load();
  let args: Args;
  try {
    args = parseArgs({
      args: [...rest],
      options: { ...COMMON, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    return usage(
      argumentError(e, { ...COMMON, ...command.options }, `stele ${name} ${command.usage}`),
      `stele ${name}`,
    );
  }
  if (args.values.help === true) {
    io.out(commandHelp(name, command));
    return Exit.ok;
  }
  const json = args.values.json === true;
  try {
    const result = await command.run(args, io);
    io.out(
      json
        ? JSON.stringify(command.json ? command.json(result) : result, null, 2)
        : command.human(result),
    );
    return command.exit(result);
  } catch (e) {
    if (!(e instanceof SteleError)) throw e; // a bug: let Node print the stack and exit non-zero
    io.err(json ? JSON.stringify({ error: e }, null, 2) : `stele ${name}: ${formatError(e)}`);
    return e.code === "cli.usage" ? Exit.usage : Exit.problems;
  }
}

// what parseArgs refused, in words: an unknown option with the likeliest meant, a value missing
function argumentError(
  e: unknown,
  options: Record<string, { type: string }>,
  usageLine: string,
): SteleError {
  const text = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code;
  const unknown = /^Unknown option '(-{1,2}[^']*)'/.exec(text)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown !== undefined) {
    const near = didYouMean(unknown.replace(/^-+/, ""), Object.keys(options));
    return new SteleError("cli.usage", `unknown option \`${unknown}\``, {
      hint: `${near ? `did you mean \`--${near}\`? ` : ""}usage: ${usageLine}`,
    });
  }
  return new SteleError("cli.usage", text, { hint: `usage: ${usageLine}` });
}

/** The Io of a real process: stdout, stderr, stdin. */
export function processIo(json: boolean): Io {
  return {
    json,
    out: (text) => {
      if (text !== "") process.stdout.write(`${printable(text)}\n`);
    },
    err: (text) => process.stderr.write(`${printable(text)}\n`),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}

async function topHelp(): Promise<string> {
  const lines = [
    "stele: immutable policy-as-code",
    "",
    "usage: stele COMMAND [options]",
    "",
    "commands:",
  ];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const command = await load();
    lines.push(`  ${name.padEnd(10)} ${command.summary}`);
  }
  lines.push(
    "",
    "every command takes --json and --store URL; `stele COMMAND --help` shows its options",
    "exit codes: 0 ok, 1 problems or refused, 2 usage, 3 weakening found, 4 drift found",
  );
  return lines.join("\n");
}

function commandHelp(name: string, command: Command<unknown>): string {
  const lines = [
    `stele ${name}: ${command.summary}`,
    "",
    `usage: stele ${name} ${command.usage}`,
    "",
    "options:",
  ];
  const options: Record<string, { type: string; short?: string }> = {
    ...command.options,
    ...COMMON,
  };
  const help: Record<string, string> = { ...command.help, ...COMMON_HELP };
  const flags = Object.entries(options).map(([opt, spec]) => ({
    opt,
    flag: `${spec.short ? `-${spec.short}, ` : ""}--${opt}${spec.type === "string" ? " VALUE" : ""}`,
  }));
  const width = Math.max(24, ...flags.map((f) => f.flag.length));
  for (const { opt, flag } of flags) lines.push(`  ${flag.padEnd(width)} ${help[opt] ?? ""}`);
  return lines.join("\n");
}
