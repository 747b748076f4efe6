import { readFile, writeFile } from "node:fs/promises";
import { loadBundle } from "../../bundle/index.js";
import { SteleError } from "../../errors.js";
import {
  approvalDigest,
  latestRelease,
  UNREVIEWED_HINT,
  unreviewedSource,
} from "../../ledger/index.js";
import { openLedger, recordApproval } from "../../release/index.js";
import { openStore, storedBundle } from "../../store/index.js";
import {
  createApproval,
  type Envelope,
  parsePublicKey,
  parseSigner,
  toReviewers,
} from "../../trust/index.js";
import { type Command, Exit, stringOpt, usageError } from "../command.js";
import { readBundleFile, readTextFile } from "../files.js";

interface ApproveResult {
  readonly digest: string;
  readonly bundle: string;
  readonly env: string;
  readonly reviewer: string;
  readonly output: string | undefined;
}

/** `stele approve BUNDLE --key FILE --env ENV`: sign an approval of that exact digest. */
export const approve: Command<ApproveResult> = {
  summary: "sign an approval of a bundle's exact digest for one environment",
  usage: "BUNDLE --key FILE --env ENV [--justification TEXT] [-o FILE] [--reviewer NAME]",
  options: {
    key: { type: "string" },
    env: { type: "string" },
    justification: { type: "string" },
    output: { type: "string", short: "o" },
    reviewer: { type: "string" },
  },
  help: {
    key: "your private key: a PKCS#8 PEM from `stele keygen`, or an OpenSSH ed25519 key (signed via ssh-keygen)",
    env: "the environment this approval is for (an approval counts for that environment only)",
    justification: "why you approve (kept with the approval)",
    output: "write the signed envelope to this file instead of recording it in the store",
    reviewer: "your reviewer name (default: the reviewer stele.yaml lists with this key)",
  },
  async run(args, io) {
    const bundlePath = args.positionals[0];
    const keyPath = stringOpt(args, "key");
    const env = stringOpt(args, "env");
    if (!bundlePath || !keyPath || !env)
      throw usageError(
        "BUNDLE, --key and --env are required",
        "e.g. `stele approve build/acme.bundle.json --key alice.key --env staging`",
      );
    const bundle = loadBundle(await readBundleFile(bundlePath));
    // an approval of a bundle no release may take (DESIGN promise 3: only committed source)
    // counts for nothing: said now, not only at release (still recorded: it is what was asked)
    const unreviewed = unreviewedSource(bundle);
    if (unreviewed && !io.json)
      io.err(
        `note: ${bundle.digest} was ${unreviewed}: no release may take it; ${UNREVIEWED_HINT}`,
      );
    if (!bundle.set.project.environments.some((e) => e.name === env))
      throw new SteleError(
        "release.unknown_env",
        `the bundle's config has no environment \`${env}\``,
        {
          hint: `environments: ${bundle.set.project.environments.map((e) => e.name).join(", ") || "none"}`,
        },
      );
    const signer = parseSigner(
      await readTextFile(
        keyPath,
        "key ",
        "your private key: `stele keygen --name NAME --out keys` makes keys/NAME.key, or give your SSH key (~/.ssh/id_ed25519)",
      ),
      keyPath,
    );
    const store = await openStore(stringOpt(args, "store") ?? "file:.stele");
    const keyid = "sshKeyFile" in signer ? await sshKeyId(keyPath) : signer.keyid;
    const reviewer =
      stringOpt(args, "reviewer") ??
      (await reviewerOf(keyid, bundle.set.project.reviewers, store, env));
    const justification = stringOpt(args, "justification");
    const envelope: Envelope = await createApproval(
      {
        digest: bundle.digest,
        env,
        reviewer,
        time: new Date().toISOString(),
        ...(justification !== undefined && { justification }),
      },
      signer,
    );
    const output = stringOpt(args, "output");
    let digest: string;
    if (output !== undefined) {
      await writeFile(output, `${JSON.stringify(envelope, null, 2)}\n`);
      digest = approvalDigest(envelope);
    } else {
      digest = await recordApproval(store, envelope);
    }
    await store.close();
    return { digest, bundle: bundle.digest, env, reviewer, output };
  },
  exit: () => Exit.ok,
  human: (r) =>
    `${r.output ? `wrote ${r.output}: ` : "recorded "}approval by ${r.reviewer} of ${r.bundle} for ${r.env}\n${r.digest}`,
};

// the reviewer whose key this is, in the bundle's config or the one the environment runs now
async function reviewerOf(
  keyid: string,
  own: readonly { name: string; keys: readonly string[] }[],
  store: Awaited<ReturnType<typeof openStore>>,
  env: string,
): Promise<string> {
  const configs = [own];
  const current = latestRelease(await openLedger(store), env);
  if (current)
    configs.unshift((await storedBundle(store, current.record.bundle)).set.project.reviewers);
  for (const reviewers of configs) {
    const match = toReviewers(reviewers).find((r) => r.keys.some((k) => k.keyid === keyid));
    if (match) return match.name;
  }
  throw new SteleError("trust.unknown_reviewer", `no reviewer in stele.yaml has the key ${keyid}`, {
    hint: "add your public key to stele.yaml's reviewers (an approval by an unknown key counts for nothing)",
  });
}

async function sshKeyId(keyPath: string): Promise<string> {
  const pub = await readFile(`${keyPath}.pub`, "utf8").catch(() => {
    throw new SteleError("cli.io", `cannot read \`${keyPath}.pub\``, {
      hint: "an OpenSSH key needs its .pub beside it, or pass --reviewer NAME",
    });
  });
  return parsePublicKey(pub).keyid;
}
