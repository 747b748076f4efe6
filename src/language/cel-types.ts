// JSON Schema → CEL types (docs/reference.md "CEL conditions")

/** A CEL type as the compiler sees it; `message` is an object schema with declared properties. */
export type CelT =
  | {
      readonly kind: "int" | "uint" | "double" | "string" | "bool" | "bytes" | "null" | "type";
    }
  | { readonly kind: "dyn" }
  | { readonly kind: "list"; readonly elem: CelT }
  | { readonly kind: "map"; readonly key: CelT; readonly value: CelT }
  | { readonly kind: "message"; readonly name: string; readonly fields: Map<string, CelT> };

/** A message type: the fields an object schema declares. */
export type MessageT = Extract<CelT, { kind: "message" }>;

const prim = <K extends "int" | "uint" | "double" | "string" | "bool" | "bytes" | "null" | "type">(
  kind: K,
) => ({ kind }) as const;

/** The scalar types, one shared object each so types compare with `===`. */
export const T = {
  int: prim("int"),
  uint: prim("uint"),
  double: prim("double"),
  string: prim("string"),
  bool: prim("bool"),
  bytes: prim("bytes"),
  null: prim("null"),
  type: prim("type"),
  dyn: { kind: "dyn" } as CelT,
} as const;

/** The CEL spelling of a type, as the library and error messages write it. */
export function typeName(t: CelT): string {
  switch (t.kind) {
    case "list":
      return `list<${typeName(t.elem)}>`;
    case "map":
      return `map<${typeName(t.key)}, ${typeName(t.value)}>`;
    case "message":
      return t.name;
    case "null":
      return "null_type";
    default:
      return t.kind;
  }
}

/** The input schema as CEL types: the root type and every message type by name. */
export interface SchemaTypes {
  readonly root: CelT;
  readonly messages: ReadonlyMap<string, MessageT>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

// invariant: message names are valid CEL type names that cannot clash with identifiers
const ROOT_NAME = "stele.Input";

/** Translates a JSON Schema into CEL types; anything it cannot express becomes `dyn`. */
export function schemaToTypes(schema: unknown): SchemaTypes {
  const messages = new Map<string, MessageT>();
  const byNode = new Map<Json, CelT>();
  const root = isObject(schema) ? schema : undefined;

  const resolveRef = (ref: string): Json | undefined => {
    const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
    const table = m && root ? root[m[1] ?? ""] : undefined;
    const target = isObject(table) ? table[decodeURIComponent(m?.[2] ?? "")] : undefined;
    return isObject(target) ? target : undefined;
  };

  const nameFor = (path: string): string => {
    let name = path.replace(/[^A-Za-z0-9_.]/g, "_");
    for (let i = 2; messages.has(name); i++) name = `${path}_${i}`;
    return name;
  };

  const walk = (node: unknown, path: string, depth: number): CelT => {
    if (!isObject(node) || depth > 64) return T.dyn;
    const seen = byNode.get(node);
    if (seen) return seen;
    if (typeof node.$ref === "string") {
      const target = resolveRef(node.$ref);
      if (!target) return T.dyn;
      const defName = node.$ref.slice(node.$ref.lastIndexOf("/") + 1);
      const t = walk(target, `stele.${defName}`, depth + 1);
      byNode.set(node, t);
      return t;
    }
    const allOf = node.allOf;
    if (Array.isArray(allOf) && allOf.length === 1) return walk(allOf[0], path, depth + 1);
    let type = node.type;
    if (Array.isArray(type)) {
      // a nullable type stays checkable at run time only
      if (type.length !== 1) return T.dyn;
      type = type[0];
    }
    if (node.nullable === true) return T.dyn;
    switch (type) {
      case "string":
        return T.string;
      case "integer":
        return T.int;
      case "number":
        return T.double;
      case "boolean":
        return T.bool;
      case "array": {
        const t: CelT = { kind: "list", elem: walk(node.items, `${path}.item`, depth + 1) };
        byNode.set(node, t);
        return t;
      }
      case "object": {
        if (isObject(node.properties)) {
          const t: MessageT = { kind: "message", name: nameFor(path), fields: new Map() };
          messages.set(t.name, t);
          byNode.set(node, t);
          for (const [key, sub] of Object.entries(node.properties))
            t.fields.set(key, walk(sub, `${path}.${key}`, depth + 1));
          return t;
        }
        if (isObject(node.additionalProperties)) {
          const value = walk(node.additionalProperties, `${path}.value`, depth + 1);
          const t: CelT = { kind: "map", key: T.string, value };
          byNode.set(node, t);
          return t;
        }
        return T.dyn;
      }
      default:
        return T.dyn;
    }
  };

  return { root: walk(schema, ROOT_NAME, 0), messages };
}
