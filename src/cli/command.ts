import type { ParseArgsConfig } from "node:util";
import { SteleError } from "../errors.js";

/** Exit codes are contract (DESIGN.md "Command line"); this is the only place they are spelled. */
export const Exit = { ok: 0, problems: 1, usage: 2, weakening: 3, drift: 4 } as const;
/** One of the contract's exit codes. */
export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** Parsed command-line arguments. */
export interface Args {
  readonly values: Readonly<Record<string, string | boolean | string[] | boolean[] | undefined>>;
  readonly positionals: readonly string[];
}

/** Where a command writes: `out` for its result, `err` for progress and diagnostics. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Standard input, read whole (for `--input -`). */
  readStdin(): Promise<string>;
  /** Whether `--json` was given: progress stays off standard error then. */
  readonly json: boolean;
}

/** Option help: the description shown by `stele CMD --help`. */
export type OptionHelp = Readonly<Record<string, string>>;

/** A command computes a result; main prints it (human or --json) and exits with `exit(result)`. */
export interface Command<R> {
  readonly summary: string;
  /** `stele NAME …` usage line, without `stele NAME`. */
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  readonly help: OptionHelp;
  run(args: Args, io: Io): Promise<R>;
  exit(result: R): ExitCode;
  human(result: R): string;
  /** The `--json` form of the result; defaults to the result itself. */
  json?(result: R): unknown;
}

/** A string option's value, or undefined. */
export function stringOpt(args: Args, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}

/** A repeatable string option's values. */
export function listOpt(args: Args, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** A usage error: printed like any error, exit 2. */
export function usageError(message: string, hint?: string): SteleError {
  return new SteleError("cli.usage", message, { hint });
}

/** `--now` as milliseconds; the real clock when absent. */
export function parseNow(text: string | undefined): number {
  if (text === undefined) return Date.now();
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/i.test(text) || Number.isNaN(ms))
    throw usageError(`--now must be an RFC 3339 time like 2026-11-28T00:00:00Z, found \`${text}\``);
  return ms;
}
