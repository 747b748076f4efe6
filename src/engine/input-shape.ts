import type { LimitsPlan } from "../language/index.js";

// a fast path for checkInput (input.ts): for a subject with a JSON Schema, a function made for
// the schema's shape walks an input exactly as checkInput's walk does (same values, same byte
// count, same depth), without recursion or a switch on every value's type. It answers only
// "checkInput would accept this": anything off the schema's shape (an undeclared key, another
// type, a construct it does not know) makes it answer false, and the caller runs checkInput.
// So the schema is a hint for speed; it never decides what is accepted.

/** Proves an input within the limits (true), or cannot (false: run checkInput). */
export type ShapeCheck = (input: unknown) => boolean;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

// bounds on the generated code: recursive or huge schemas get no fast path
const MAX_NODES = 400;

class ShapeGen {
  private vars = 0;
  private nodes = 0;

  constructor(
    private readonly root: unknown,
    private readonly maxDepth: number,
  ) {}

  fresh(): string {
    return `v${this.vars++}`;
  }

  declarations(): string {
    return Array.from({ length: this.vars }, (_, i) => `v${i}`).join(", ");
  }

  // statements that walk the value in `v` at `depth`, adding its bytes to `n`
  node(schema: unknown, v: string, depth: number): string {
    if (++this.nodes > MAX_NODES) throw new RangeError("schema too large for a fast path");
    // checkInput refuses values deeper than the limit; only it reports why
    if (depth > this.maxDepth) return "return false;";
    const s = this.resolve(schema, 0);
    if (!s) return "return false;";
    switch (s.type) {
      case "string":
        return `if (typeof ${v} !== "string") return false;\nn += ${v}.length + 2;`;
      case "integer":
      case "number":
        return `if (typeof ${v} !== "number" || !Number.isFinite(${v})) return false;\nn += 8;`;
      case "boolean":
        return `if (typeof ${v} !== "boolean") return false;\nn += 4;`;
      case "null":
        return `if (${v} !== null) return false;\nn += 4;`;
      case "array": {
        const e = this.fresh();
        const i = this.fresh();
        return [
          `if (!Array.isArray(${v})) return false;`,
          "n += 2;",
          `for (${i} = 0; ${i} < ${v}.length; ${i}++) {`,
          `${e} = ${v}[${i}];`,
          this.node(s.items, e, depth + 1),
          "}",
        ].join("\n");
      }
      case "object": {
        if (!isObject(s.properties)) return "return false;";
        const names = Object.keys(s.properties);
        // one bit per declared key: at most 30, so the mask stays a small integer
        if (names.length > 30) return "return false;";
        const k = this.fresh();
        const m = this.fresh();
        const x = this.fresh();
        const cases = names.map(
          (name, i) => `case ${JSON.stringify(name)}:\n${m} |= ${1 << i};\nbreak;`,
        );
        const fields = names.map((name, i) => {
          const props = s.properties as Json;
          // a variable per field keeps each one's type feedback monomorphic
          const x = this.fresh();
          return [
            `${x} = ${v}[${JSON.stringify(name)}];`,
            `if (${x} !== undefined) {`,
            `${m} ^= ${1 << i};`,
            `n += ${name.length + 3};`,
            this.node(props[name], x, depth + 1),
            "}",
          ].join("\n");
        });
        return [
          `if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) return false;`,
          `${x} = Object.getPrototypeOf(${v});`,
          `if (${x} !== Object.prototype && ${x} !== null) return false;`,
          "n += 2;",
          // the keys checkInput's for-in walks (invariant: own keys only, as there), each declared
          `${m} = 0;`,
          `for (${k} in ${v}) {\nswitch (${k}) {`,
          ...cases,
          "default:\nreturn false;\n}\n}",
          // each declared value read once; the mask ends 0 only when the values read are
          // exactly those of the keys walked (a key holding undefined, or a readable key
          // the walk would not see, leaves its bit set)
          ...fields,
          `if (${m} !== 0) return false;`,
        ].join("\n");
      }
      default:
        return "return false;";
    }
  }

  // the schema node with `$ref` and one-element `allOf` followed; undefined when unknown
  private resolve(schema: unknown, hops: number): Json | undefined {
    if (!isObject(schema) || hops > 16) return undefined;
    if (typeof schema.$ref === "string") {
      const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(schema.$ref);
      const table = m && isObject(this.root) ? this.root[m[1] ?? ""] : undefined;
      const target = isObject(table) ? table[decodeURIComponent(m?.[2] ?? "")] : undefined;
      return this.resolve(target, hops + 1);
    }
    if (Array.isArray(schema.allOf) && schema.allOf.length === 1)
      return this.resolve(schema.allOf[0], hops + 1);
    if (Array.isArray(schema.type))
      return schema.type.length === 1 ? { ...schema, type: schema.type[0] } : undefined;
    return schema;
  }
}

/** A fast, exact-when-true stand-in for checkInput on inputs of a schema's shape. */
export function makeShapeCheck(schema: unknown, limits: LimitsPlan): ShapeCheck | undefined {
  if (!isObject(schema)) return undefined;
  const gen = new ShapeGen(schema, Number(limits.maxInputDepth));
  let body: string;
  try {
    body = gen.node(schema, "input", 1);
  } catch {
    return undefined;
  }
  const vars = gen.declarations();
  const source = [
    `"use strict";\nreturn function shapeCheck(input) {`,
    `let n = 0${vars ? `, ${vars}` : ""};`,
    body,
    `return n <= ${Number(limits.maxInputBytes)};\n};`,
  ].join("\n");
  // invariant: the source holds only generated names, numbers and JSON-escaped property names
  return new Function(source)() as ShapeCheck;
}
