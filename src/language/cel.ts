// the only importer of the CEL library (STYLE 2.2 rule 4)
// TODO(#2): stub; the real compiler replaces this file

/** A problem in one CEL expression, as offsets into the expression text. */
export interface CelProblem {
  readonly code:
    | "language.cel_syntax"
    | "language.cel_type"
    | "language.cel_unsupported"
    | "language.cel_limit";
  readonly message: string;
  /** Offset of the first character in the expression (UTF-16 code units). */
  readonly start: number;
  /** Offset just past the last character. */
  readonly end: number;
}

/** What the expression may refer to. */
export interface CelOptions {
  /** JSON Schema of the variable `input`; when absent, `input` is `dyn`. */
  readonly input?: unknown;
}

/** A compiled expression, or every problem found in it. */
export type CelProgram =
  | { readonly ok: true; readonly type: string; readonly evaluate: (input: unknown) => unknown }
  | { readonly ok: false; readonly problems: readonly CelProblem[] };

/** Raised when an expression cannot be evaluated on an input (CEL error value). */
export class CelEvalError extends Error {
  override readonly name = "CelEvalError";
}

/** Parses, type-checks and compiles one CEL expression to a JavaScript function. */
export function compileCel(expression: string, _options: CelOptions = {}): CelProgram {
  return {
    ok: false,
    problems: [
      {
        code: "language.cel_unsupported",
        message: "cel is not implemented yet",
        start: 0,
        end: expression.length,
      },
    ],
  };
}
