import { type Decision, decide } from "../../engine/index.js";
import { SteleError } from "../../errors.js";
import { parseInputDocument } from "../../language/index.js";
import { type Command, Exit, listOpt, parseNow, stringOpt, usageError } from "../command.js";
import { readTextFile } from "../files.js";
import { openTarget } from "../tree.js";

// an input file larger than this is refused before parsing (the engine bounds it again)
const MAX_INPUT_FILE = 16 * 1024 * 1024;

/** `stele eval [dir|bundle] --input FILE`: print the decision as JSON. */
export const evalCommand: Command<Decision> = {
  summary: "judge one input and print the decision as JSON",
  usage: "[dir|bundle] --input FILE|- [--policy NAME…] [--subject NAME] [--now TIME]",
  options: {
    input: { type: "string", short: "i" },
    policy: { type: "string", multiple: true },
    subject: { type: "string" },
    now: { type: "string" },
  },
  help: {
    input: "the input document, JSON or YAML (`-` reads standard input)",
    policy: "judge by this policy (repeatable); default: every policy",
    subject: "judge by every policy of this subject",
    now: "the clock for exception expiry (RFC 3339; default: now)",
  },
  async run(args, io) {
    const inputPath = stringOpt(args, "input");
    if (inputPath === undefined)
      throw usageError(
        "--input is required",
        "pass a JSON or YAML file, or `-` for standard input",
      );
    const now = parseNow(stringOpt(args, "now"));
    const target = await openTarget(args.positionals[0] ?? ".", now, io);
    const text = inputPath === "-" ? await io.readStdin() : await readInputFile(inputPath);
    if (text.length > MAX_INPUT_FILE)
      throw new SteleError(
        "engine.input_too_large",
        `input is larger than ${MAX_INPUT_FILE} bytes`,
      );
    const input = parseInputDocument(text, inputPath === "-" ? "<stdin>" : inputPath);
    const policies = listOpt(args, "policy");
    return decide(
      target.set,
      {
        policies: policies.length > 0 ? policies : undefined,
        subject: stringOpt(args, "subject"),
        input,
      },
      { now, bundle: target.digest },
    );
  },
  exit: () => Exit.ok,
  human: (d) => JSON.stringify(d, null, 2),
};

function readInputFile(path: string): Promise<string> {
  return readTextFile(
    path,
    "input ",
    "give a JSON or YAML file of the input, or `-` to read it from standard input",
  );
}
