import type { Code } from "../errors.js";
import { isPlainObject } from "./cel-values.js";
import type { LimitsPlan } from "./plan.js";

/** Why an input is refused before any condition runs. */
export interface InputProblem {
  readonly code: Code;
  readonly message: string;
}

// one walk's running totals; module-level so the hot path allocates nothing
let bytes = 0;
let maxBytes = 0;
let maxDepth = 0;
let problem: InputProblem | undefined;

/**
 * Checks that an input is a JSON value within the project's limits, so a hostile document can
 * neither blow the stack (recursion stops at the depth limit) nor make a decision do unbounded
 * work. Returns the problem, or undefined when the input is fine.
 */
export function checkInput(input: unknown, limits: LimitsPlan): InputProblem | undefined {
  // untrusted: any shape may arrive here (HTTP body, file, test case)
  bytes = 0;
  maxBytes = limits.maxInputBytes;
  maxDepth = limits.maxInputDepth;
  problem = undefined;
  walk(input, 1);
  const found = problem;
  problem = undefined;
  return found;
}

function walk(value: unknown, depth: number): boolean {
  if (depth > maxDepth) {
    problem = {
      code: "engine.input_too_deep",
      message: `input nests deeper than ${maxDepth} levels`,
    };
    return false;
  }
  switch (typeof value) {
    case "string":
      bytes += value.length + 2;
      break;
    case "number":
      if (!Number.isFinite(value)) {
        problem = { code: "engine.bad_input", message: "input holds a number that is not finite" };
        return false;
      }
      bytes += 8;
      break;
    case "boolean":
      bytes += 4;
      break;
    case "object":
      if (value === null) {
        bytes += 4;
        break;
      }
      if (Array.isArray(value)) {
        bytes += 2;
        for (let i = 0; i < value.length; i++) if (!walk(value[i], depth + 1)) return false;
        break;
      }
      if (!isPlainObject(value)) return notJson(value);
      bytes += 2;
      // for-in sees the enumerable keys, inherited ones too (a plain object's prototype may be
      // another object whose constructor is Object): all are counted, with no array made
      for (const key in value) {
        bytes += key.length + 3;
        if (!walk((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      break;
    default:
      return notJson(value);
  }
  if (bytes > maxBytes) {
    problem = { code: "engine.input_too_large", message: `input is larger than ${maxBytes} bytes` };
    return false;
  }
  return true;
}

function notJson(value: unknown): false {
  const what = typeof value === "object" ? (value?.constructor?.name ?? "object") : typeof value;
  problem = { code: "engine.bad_input", message: `input holds a ${what}, not a JSON value` };
  return false;
}
