import { isMap, isScalar, isSeq, type Node, type Pair, type Scalar, type YAMLMap } from "yaml";
import type { Code } from "../errors.js";
import type { Diagnostics } from "./diagnostics.js";
import type { Source } from "./source.js";
import { didYouMean } from "./suggest.js";

/** A value read from YAML with the node it came from (for positions later). */
export interface At<T> {
  readonly value: T;
  readonly node: Node;
}

/** Where reading happens: the source and the diagnostics collector. */
export interface ReadContext {
  readonly source: Source;
  readonly out: Diagnostics;
}

/** Reports a problem at a node. */
export function report(
  ctx: ReadContext,
  node: Node | null | undefined,
  code: Code,
  message: string,
  hint?: string,
): void {
  const [start, end] = node?.range ?? [0, 0];
  ctx.out.at(ctx.source, start, end, code, message, { hint });
}

/** What a YAML node is, in words, for "expected X, found Y" messages. */
export function describe(node: Node | null | undefined): string {
  if (!node) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return "null";
    if (typeof v === "boolean") return "a boolean";
    if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a number";
    return "a string";
  }
  return "an unsupported value";
}

/**
 * A YAML mapping read strictly: every key must be one of `allowed` (unknown keys are reported
 * with a "did you mean"), and typed getters report missing fields and wrong types.
 */
export class MapReader {
  readonly #pairs = new Map<string, Pair<Scalar, Node | null>>();

  constructor(
    readonly ctx: ReadContext,
    readonly node: YAMLMap,
    /** How the mapping is named in messages: `spec`, `rule \`x\``. */
    readonly where: string,
    allowed: readonly string[],
  ) {
    for (const pair of node.items as Pair<Node, Node | null>[]) {
      const key = pair.key;
      if (!isScalar(key) || typeof key.value !== "string") {
        report(ctx, key as Node, "language.wrong_type", `keys of ${where} must be strings`);
        continue;
      }
      if (!allowed.includes(key.value)) {
        const guess = didYouMean(key.value, allowed);
        report(
          ctx,
          key,
          "language.unknown_field",
          `unknown field \`${key.value}\` in ${where}`,
          guess
            ? `did you mean \`${guess}\`?`
            : `${where} takes ${allowed.map((a) => `\`${a}\``).join(", ")}`,
        );
        continue;
      }
      this.#pairs.set(key.value, pair as Pair<Scalar, Node | null>);
    }
  }

  /** The value node of a field (a present key with an empty value gives a null scalar). */
  get(key: string): Node | undefined {
    const pair = this.#pairs.get(key);
    if (!pair) return undefined;
    return pair.value ?? pair.key;
  }

  /** The key node of a field, for positions. */
  keyNode(key: string): Node | undefined {
    return this.#pairs.get(key)?.key;
  }

  has(key: string): boolean {
    return this.#pairs.has(key);
  }

  missing(key: string, what = "a value"): void {
    report(
      this.ctx,
      this.node,
      "language.missing_field",
      `${this.where} is missing \`${key}\``,
      `add \`${key}:\` with ${what}`,
    );
  }

  str(key: string, required: true): At<string> | undefined;
  str(key: string, required?: false): At<string> | undefined;
  str(key: string, required = false): At<string> | undefined {
    const node = this.get(key);
    if (!node) {
      if (required) this.missing(key, "a string");
      return undefined;
    }
    if (!isScalar(node) || typeof node.value !== "string") {
      report(
        this.ctx,
        node,
        "language.wrong_type",
        `\`${key}\` in ${this.where} must be a string, found ${describe(node)}`,
      );
      return undefined;
    }
    return { value: node.value, node };
  }

  /** A string from a fixed set. */
  oneOf<T extends string>(key: string, values: readonly T[], required: boolean): At<T> | undefined {
    if (required && !this.get(key)) {
      this.missing(key, values.map((v) => `\`${v}\``).join(" or "));
      return undefined;
    }
    const s = this.str(key, required as true);
    if (!s) return undefined;
    if (!(values as readonly string[]).includes(s.value)) {
      report(
        this.ctx,
        s.node,
        "language.bad_value",
        `\`${key}\` must be ${values.map((v) => `\`${v}\``).join(" or ")}, found \`${s.value}\``,
      );
      return undefined;
    }
    return s as At<T>;
  }

  int(key: string, required: boolean, min: number): At<number> | undefined {
    const node = this.get(key);
    if (!node) {
      if (required) this.missing(key, "a whole number");
      return undefined;
    }
    if (!isScalar(node) || typeof node.value !== "number" || !Number.isSafeInteger(node.value)) {
      report(
        this.ctx,
        node,
        "language.wrong_type",
        `\`${key}\` in ${this.where} must be a whole number, found ${describe(node)}`,
      );
      return undefined;
    }
    if (node.value < min) {
      report(
        this.ctx,
        node,
        "language.bad_value",
        `\`${key}\` must be at least ${min}, found ${node.value}`,
      );
      return undefined;
    }
    return { value: node.value, node };
  }

  map(key: string, required: boolean): YAMLMap | undefined {
    const node = this.get(key);
    if (!node) {
      if (required) this.missing(key, "a mapping");
      return undefined;
    }
    if (!isMap(node)) {
      report(
        this.ctx,
        node,
        "language.wrong_type",
        `\`${key}\` in ${this.where} must be a mapping, found ${describe(node)}`,
      );
      return undefined;
    }
    return node;
  }

  list(key: string, required: boolean, nonEmpty = false): Node[] | undefined {
    const node = this.get(key);
    if (!node) {
      if (required) this.missing(key, "a list");
      return undefined;
    }
    if (!isSeq(node)) {
      report(
        this.ctx,
        node,
        "language.wrong_type",
        `\`${key}\` in ${this.where} must be a list, found ${describe(node)}`,
      );
      return undefined;
    }
    if (nonEmpty && node.items.length === 0) {
      report(this.ctx, node, "language.bad_value", `\`${key}\` in ${this.where} may not be empty`);
      return undefined;
    }
    return node.items as Node[];
  }

  /** A list of strings. */
  strings(key: string, required: boolean, nonEmpty = false): At<string>[] | undefined {
    const items = this.list(key, required, nonEmpty);
    if (!items) return undefined;
    const out: At<string>[] = [];
    for (const item of items) {
      if (!isScalar(item) || typeof item.value !== "string") {
        report(
          this.ctx,
          item,
          "language.wrong_type",
          `items of \`${key}\` must be strings, found ${describe(item)}`,
        );
        continue;
      }
      out.push({ value: item.value, node: item });
    }
    return out;
  }
}

/** Starts reading a node that must be a mapping. */
export function readMap(
  ctx: ReadContext,
  node: Node | undefined,
  where: string,
  allowed: readonly string[],
): MapReader | undefined {
  if (!node || !isMap(node)) {
    report(ctx, node, "language.wrong_type", `${where} must be a mapping, found ${describe(node)}`);
    return undefined;
  }
  return new MapReader(ctx, node, where, allowed);
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Checks a name: lowercase letters, digits and `-`, 1–63 characters. */
export function checkName(ctx: ReadContext, name: At<string>, what: string): boolean {
  if (NAME.test(name.value)) return true;
  report(
    ctx,
    name.node,
    "language.bad_value",
    `${what} \`${name.value}\` is not a valid name`,
    "use lowercase letters, digits and `-`, 1–63 characters, starting and ending with a letter or digit",
  );
  return false;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Reads an RFC 3339 time with a zone; YAML may have parsed it as a string. */
export function readTime(
  ctx: ReadContext,
  r: MapReader,
  key: string,
  required: boolean,
): At<number> | undefined {
  const s = r.str(key, required as true);
  if (!s) return undefined;
  const ms = Date.parse(s.value);
  if (!RFC3339.test(s.value) || Number.isNaN(ms)) {
    report(
      ctx,
      s.node,
      "language.bad_value",
      `\`${key}\` must be an RFC 3339 time with a zone, found \`${s.value}\``,
      "e.g. 2026-12-05T00:00:00Z",
    );
    return undefined;
  }
  return { value: ms, node: s.node };
}

const UNIT: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `7d`, `36h`, `1d12h`, `2w` in milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+[smhdw])+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, n, u] of text.matchAll(/(\d+)([smhdw])/g)) ms += Number(n) * (UNIT[u ?? "s"] ?? 0);
  return ms > 0 ? ms : undefined;
}
