import { copyFile, mkdir, open, readdir } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { SteleError } from "../../errors.js";
import { type Command, Exit } from "../command.js";
import { writeKeyPair } from "../keyfiles.js";
import { scaffold } from "../scaffold.js";

interface InitResult {
  readonly dir: string;
  readonly files: readonly string[];
}

/** `stele init [dir]`: scaffold a working policy repository. */
export const init: Command<InitResult> = {
  summary: "scaffold a policy repository: example policy, test, exception, schema, dev key",
  usage: "[dir] [--name PROJECT]",
  options: { name: { type: "string" } },
  help: { name: "the project name (default: the directory's name)" },
  async run(args) {
    const dir = args.positionals[0] ?? ".";
    await mkdir(dir, { recursive: true });
    const existing = await readdir(dir);
    const clash = ["stele.yaml", "policies", "tests", "exceptions", "schemas"].filter((f) =>
      existing.includes(f),
    );
    if (clash.length > 0)
      throw new SteleError(
        "cli.io",
        `\`${dir}\` already holds a policy repository (${clash.join(", ")})`,
        {
          hint: "run `stele init` in an empty directory, or `stele check` here",
        },
      );
    const name = projectName(
      typeof args.values.name === "string" ? args.values.name : basename(resolve(dir)),
    );
    const key = await writeKeyPair(join(dir, "keys"), "dev");
    const files = scaffold(name, key.publicKey, new Date());
    for (const [path, text] of Object.entries(files)) {
      if (path === ".gitignore" && existing.includes(".gitignore")) continue;
      await mkdir(dirname(join(dir, path)), { recursive: true });
      const handle = await open(join(dir, path), "wx");
      await handle.writeFile(text);
      await handle.close();
    }
    // editor schemas beside the documents, so yaml-language-server completes and checks them
    const schemas = new URL("../../../../schemas/", import.meta.url);
    await mkdir(join(dir, ".stele-schemas"), { recursive: true });
    const copied: string[] = [];
    for (const kind of ["project", "policy", "exception", "test"]) {
      const name = `${kind}.schema.json`;
      await copyFile(new URL(name, schemas), join(dir, ".stele-schemas", name));
      copied.push(`.stele-schemas/${name}`);
    }
    return {
      dir,
      files: [...Object.keys(files), ...copied, "keys/dev.key", "keys/dev.pub"].sort(),
    };
  },
  exit: () => Exit.ok,
  human: (r) =>
    [
      `created a policy repository in ${r.dir}:`,
      ...r.files.map((f) => `  ${f}`),
      "",
      "next: `stele check`, `stele test`, then commit and `stele build`",
    ].join("\n"),
};

// a project name follows the metadata.name rules: lowercase, digits, dashes
function projectName(raw: string): string {
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return name === "" ? "policies" : name;
}
