import type { ASTNode } from "@marcbachmann/cel-js";
import { type Gen, Problem, type Val } from "./cel-codegen.js";
import { T, typeName } from "./cel-types.js";

// field selection and indexing: message fields (shared loads in a fused group), maps, lists,
// and dyn values through the runtime

/** `x.name` on a value of any type. */
export function genSelect(g: Gen, x: Val, name: string, node: ASTNode): Val {
  const key = JSON.stringify(name);
  switch (x.t.kind) {
    case "message": {
      const ft = x.t.fields.get(name);
      if (!ft)
        throw new Problem("language.cel_type", `undeclared field \`${name}\``, fieldRange(node));
      const local = g.shared?.field(x, name, ft);
      if (local !== undefined) {
        // a shared message was checked once, up front; other fields are checked at each use
        if (ft.kind === "message") return { js: local, t: ft };
        const v = g.let(local, ft);
        g.check(v.js, ft, name);
        return v;
      }
      // untrusted: fields named like Object.prototype members are read as own properties only
      const v = g.let(
        name in Object.prototype ? `rt.field(${x.js}, ${key})` : `${x.js}[${key}]`,
        ft,
      );
      g.check(v.js, ft, name);
      return v;
    }
    case "map": {
      const v = g.let(`rt.mapGet(${x.js}, ${key})`, x.t.value);
      g.check(v.js, x.t.value);
      return v;
    }
    case "dyn":
      return g.let(`rt.dynField(${x.js}, ${key})`, T.dyn);
    default:
      throw new Problem(
        "language.cel_type",
        `type \`${typeName(x.t)}\` does not support field selection`,
        node,
      );
  }
}

/** `x[i]` on a list, map, message (by a constant name) or dyn value. */
export function genIndex(g: Gen, node: ASTNode & { op: "[]" }): Val {
  const [left, right] = node.args;
  const x = g.value(left);
  if (x.t.kind === "message" && right.op === "value" && typeof right.args === "string") {
    return genSelect(g, x, right.args, node);
  }
  const i = g.value(right);
  switch (x.t.kind) {
    case "list": {
      const idx = i.t.kind === "int" ? i : g.let(`rt.index(${g.toDyn(i).js})`, T.int);
      const v = g.let(`rt.listGet(${x.js}, ${idx.js})`, x.t.elem);
      g.check(v.js, x.t.elem);
      return v;
    }
    case "map": {
      const v = g.let(`rt.mapGet(${x.js}, ${g.toDyn(i).js})`, x.t.value);
      g.check(v.js, x.t.value);
      return v;
    }
    case "dyn":
      return g.let(`rt.dynIndex(${x.js}, ${g.toDyn(i).js})`, T.dyn);
    default:
      throw new Problem(
        "language.cel_type",
        `type \`${typeName(x.t)}\` does not support indexing`,
        node,
      );
  }
}

// the field name of a select: the library reports it at the name, after the dot
function fieldRange(node: ASTNode): { start: number; end: number } {
  return { start: node.pos, end: node.end };
}
