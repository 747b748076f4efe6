import type { LimitsPlan } from "../language/index.js";
import type { EvalError as InputProblem } from "./decide.js";

/**
 * Checks that an input is a JSON value within the project's limits, without recursion, so a
 * hostile document can neither blow the stack nor make a decision do unbounded work.
 * Returns the problem, or undefined when the input is fine.
 */
export function checkInput(input: unknown, limits: LimitsPlan): InputProblem | undefined {
  // untrusted: any shape may arrive here (HTTP body, file, test case)
  let bytes = 0;
  const stack: [unknown, number][] = [[input, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (depth > limits.maxInputDepth)
      return {
        code: "engine.input_too_deep",
        message: `input nests deeper than ${limits.maxInputDepth} levels`,
      };
    if (value === null || typeof value === "boolean") bytes += 4;
    else if (typeof value === "string") bytes += value.length + 2;
    else if (typeof value === "number") {
      if (!Number.isFinite(value))
        return { code: "engine.bad_input", message: "input holds a number that is not finite" };
      bytes += 8;
    } else if (Array.isArray(value)) {
      bytes += 2;
      for (const item of value) stack.push([item, depth + 1]);
    } else if (typeof value === "object" && isPlainObject(value)) {
      bytes += 2;
      for (const [key, item] of Object.entries(value)) {
        bytes += key.length + 3;
        stack.push([item, depth + 1]);
      }
    } else {
      return {
        code: "engine.bad_input",
        message: `input holds a ${typeof value}, not a JSON value`,
      };
    }
    if (bytes > limits.maxInputBytes)
      return {
        code: "engine.input_too_large",
        message: `input is larger than ${limits.maxInputBytes} bytes`,
      };
  }
  return undefined;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
