import { chmod, mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { SteleError } from "../errors.js";
import { generateKeyPair } from "../trust/index.js";

/** The files a new reviewer key pair was written to, and the public key line for stele.yaml. */
export interface WrittenKey {
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
  readonly publicKey: string;
  readonly keyid: string;
}

/** Writes NAME.key (PKCS#8 PEM, mode 0600, never overwriting) and NAME.pub into `dir`. */
export async function writeKeyPair(dir: string, name: string): Promise<WrittenKey> {
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/i.test(name))
    throw new SteleError("cli.usage", `bad key name \`${name}\``, {
      hint: "use letters, digits, `.`, `_` and `-`, e.g. `alice`",
    });
  const pair = generateKeyPair();
  await mkdir(dir, { recursive: true });
  const privateKeyPath = join(dir, `${name}.key`);
  const publicKeyPath = join(dir, `${name}.pub`);
  await writeNew(privateKeyPath, pair.privateKeyPem, 0o600);
  await writeNew(publicKeyPath, `${pair.sshPublicKey} ${name}\n`, 0o644);
  return { privateKeyPath, publicKeyPath, publicKey: pair.sshPublicKey, keyid: pair.keyid };
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "wx", mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST")
      throw new SteleError("cli.io", `\`${path}\` already exists`, {
        hint: "keys are never overwritten; pick another name or move the old key away",
      });
    throw new SteleError("cli.io", `cannot write \`${path}\``, { cause: e });
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await chmod(path, mode); // the umask may have narrowed or widened it
}
