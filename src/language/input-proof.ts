import { MAX_LIST } from "./cel-total.js";
import { type CelT, schemaToTypes } from "./cel-types.js";

// a fast path for checkInput (input-limits.ts): for a subject with a schema, code made for the
// schema's CEL types walks an input as checkInput's walk does (same values, same byte count, same
// depth), without recursion or a switch on every value's type. It answers only "checkInput
// accepts this, and every value has its field's CEL type": anything else (an undeclared key,
// another type, an int that is not a safe integer, a list longer than MAX_LIST, a type it does
// not walk) makes it fail, and the caller runs checkInput. So the schema is a hint for speed; it
// never decides what is accepted.
//
// What a passing walk proves, for the fused conditions that trust it (cel-fuse.ts): the input is a
// message whose every message value is a plain object (prototype Object.prototype or null) whose
// enumerable own keys are declared fields; at each declared field the value read is undefined
// exactly when the key is not an enumerable own key, and otherwise has the field's type: int and
// uint a safe integer (uint ≥ 0), double a finite number, string, bool, null, list an array of at
// most MAX_LIST elements each of the element type, message as above.

// bounds on the generated code: recursive or huge schemas get no fast path
const MAX_NODES = 400;
// values deeper than this are not walked (the walk fails on them): checkInput judges them
const MAX_WALK_DEPTH = 64;

/** The locals that fused conditions read: the walk loads each field into its own. */
export interface WalkLocals {
  /** The local that holds field `name` of the message in local `parent`, if the conditions read it. */
  local(parent: string, name: string): string | undefined;
  /** For a string list in `local`: the constants to look for as its elements pass, a bit each. */
  members?(
    local: string,
  ): { readonly bits: string; readonly items: ReadonlyMap<string, number> } | undefined;
}

/** Generates the walk: statements that fail with `fail` and add each value's bytes to `n`. */
export class ProofWalk {
  private vars = 0;
  private nodes = 0;
  /** The deepest value the walk looks at (the input is at depth 1). */
  depth = 1;

  constructor(
    private readonly fail: string,
    private readonly locals?: WalkLocals,
  ) {}

  private fresh(): string {
    return `w${this.vars++}`;
  }

  /** `var` declarations of the walk's own locals. */
  declarations(): string {
    return this.vars === 0
      ? ""
      : `var ${Array.from({ length: this.vars }, (_, i) => `w${i}`).join(", ")};`;
  }

  /** Statements that walk the value in `v` of type `t` at `depth`, adding `key` bytes (its key's). */
  node(t: CelT, v: string, depth: number, key = 0): string {
    if (++this.nodes > MAX_NODES) throw new RangeError("schema too large for a fast path");
    if (depth > MAX_WALK_DEPTH) return this.fail;
    if (depth > this.depth) this.depth = depth;
    const fail = this.fail;
    switch (t.kind) {
      case "string":
        return `if (typeof ${v} !== "string") ${fail}\nn += ${v}.length + ${2 + key};`;
      case "int":
        return `if (!Number.isSafeInteger(${v})) ${fail}\nn += ${8 + key};`;
      case "uint":
        return `if (!Number.isSafeInteger(${v}) || ${v} < 0) ${fail}\nn += ${8 + key};`;
      case "double":
        return `if (typeof ${v} !== "number" || !Number.isFinite(${v})) ${fail}\nn += ${8 + key};`;
      case "bool":
        return `if (typeof ${v} !== "boolean") ${fail}\nn += ${4 + key};`;
      case "null":
        return `if (${v} !== null) ${fail}\nn += ${4 + key};`;
      case "list": {
        const e = this.fresh();
        const i = this.fresh();
        // each element the conditions look for sets its bit: `x in list` without a scan
        const look = t.elem.kind === "string" ? this.look(v, e) : [];
        return [
          `if (!Array.isArray(${v}) || ${v}.length > ${MAX_LIST}) ${fail}`,
          `n += ${2 + key};`,
          `for (${i} = 0; ${i} < ${v}.length; ${i}++) {`,
          `${e} = ${v}[${i}];`,
          this.node(t.elem, e, depth + 1),
          ...look,
          "}",
        ].join("\n");
      }
      case "message":
        return this.message(t, v, depth, key);
      default:
        // maps, dyn, bytes: checkInput walks them
        return fail;
    }
  }

  // for a list of strings in `local` that the conditions look for constants in: the element in
  // `value` sets the bit of the constant it equals
  private look(local: string, value: string): string[] {
    const members = this.locals?.members?.(local);
    if (!members) return [];
    return [
      `switch (${value}) {`,
      ...[...members.items].map(
        ([item, bit]) => `case ${JSON.stringify(item)}:\n${members.bits} |= ${1 << bit};\nbreak;`,
      ),
      "}",
    ];
  }

  private message(
    t: Extract<CelT, { kind: "message" }>,
    v: string,
    depth: number,
    key: number,
  ): string {
    const names = [...t.fields.keys()];
    // one bit per declared key: at most 30, so the mask stays a small integer
    if (names.length > 30) return this.fail;
    const fail = this.fail;
    const k = this.fresh();
    const m = this.fresh();
    const p = this.fresh();
    const cases = names.map(
      (name, i) => `case ${JSON.stringify(name)}:\n${m} |= ${1 << i};\nbreak;`,
    );
    const fields = names.map((name, i) => {
      // the conditions' own local when they read this field, so it is read once; a variable per
      // field keeps each one's type feedback monomorphic
      const x = this.locals?.local(v, name) ?? this.fresh();
      return [
        `${x} = ${v}[${JSON.stringify(name)}];`,
        `if (${x} !== undefined) {`,
        `${m} ^= ${1 << i};`,
        // checkInput counts the key as its length and 3 (quotes, colon)
        this.node(t.fields.get(name) as CelT, x, depth + 1, name.length + 3),
        "}",
      ].join("\n");
    });
    return [
      // a plain object, as isPlainObject (cel-values.ts) tests it: its constructor read first,
      // its prototype (a call) only when that is not Object
      `if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) ${fail}`,
      `if (${v}.constructor !== Object) {`,
      `${p} = Object.getPrototypeOf(${v});`,
      `if (${p} !== Object.prototype && ${p} !== null) ${fail}`,
      "}",
      `n += ${2 + key};`,
      // the keys checkInput's for-in walks (invariant: own keys only, as there), each declared
      `${m} = 0;`,
      `for (${k} in ${v}) {\nswitch (${k}) {`,
      ...cases,
      `default:\n${fail}\n}\n}`,
      // each declared value read once; the mask ends 0 only when the values read are exactly
      // those of the keys walked (a key holding undefined, or a readable key the walk would not
      // see, leaves its bit set)
      ...fields,
      `if (${m} !== 0) ${fail}`,
    ].join("\n");
  }
}

/**
 * Proves an input within the limits and of the schema's types (true), or cannot (false: run
 * checkInput). `maxBytes` and `maxDepth` are the project's limits.
 */
export type InputProof = (input: unknown, maxBytes: number, maxDepth: number) => boolean;

/** A fast, exact-when-true stand-in for checkInput on inputs of a schema's shape. */
export function makeInputProof(schema: unknown): InputProof | undefined {
  const { root } = schemaToTypes(schema);
  if (root.kind !== "message") return undefined;
  const walk = new ProofWalk("return false;");
  let body: string;
  try {
    body = walk.node(root, "input", 1);
  } catch {
    return undefined;
  }
  const source = [
    `"use strict";\nreturn function inputProof(input, maxBytes, maxDepth) {`,
    walk.declarations(),
    `if (maxDepth < ${walk.depth}) return false;`,
    "var n = 0;",
    body,
    "return n <= maxBytes;\n};",
  ].join("\n");
  // invariant: the source holds only generated names, numbers and JSON-escaped property names
  return new Function(source)() as InputProof;
}
