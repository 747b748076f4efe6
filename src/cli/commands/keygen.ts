import { type Command, Exit, stringOpt, usageError } from "../command.js";
import { type WrittenKey, writeKeyPair } from "../keyfiles.js";

/** `stele keygen --name NAME [--out DIR]`: a reviewer's Ed25519 key pair. */
export const keygen: Command<WrittenKey & { name: string }> = {
  summary: "make a reviewer's Ed25519 key pair",
  usage: "--name NAME [--out DIR]",
  options: { name: { type: "string" }, out: { type: "string" } },
  help: {
    name: "the reviewer's name, as stele.yaml will list it",
    out: "directory for NAME.key (private, mode 0600) and NAME.pub (default: .)",
  },
  async run(args) {
    const name = stringOpt(args, "name");
    if (!name) throw usageError("--name is required", "e.g. `stele keygen --name alice`");
    return { name, ...(await writeKeyPair(stringOpt(args, "out") ?? ".", name)) };
  },
  exit: () => Exit.ok,
  human: (r) =>
    [
      `wrote ${r.privateKeyPath} (private: keep it secret, never commit it) and ${r.publicKeyPath}`,
      "add the reviewer to stele.yaml:",
      "  reviewers:",
      `    - name: ${r.name}`,
      `      key: ${r.publicKey}`,
    ].join("\n"),
};
