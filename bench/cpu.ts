// CPU time a process has used, read from /proc (Linux): what the benches compare when throughput
// on a shared machine moves more than the work does
import { readFileSync } from "node:fs";

/**
 * CPU time (µs, user and system) of process `pid`: its request thread's (the thread whose id is
 * the process's) and all its threads'. Undefined off Linux, or once the process is gone.
 */
export function cpuTimes(pid: number = process.pid): { main: number; all: number } | undefined {
  if (process.platform !== "linux") return undefined;
  const ticks = (path: string) => {
    const fields = readFileSync(path, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10_000; // clock ticks of 10 ms, in µs
  };
  try {
    return { main: ticks(`/proc/${pid}/task/${pid}/stat`), all: ticks(`/proc/${pid}/stat`) };
  } catch {
    return undefined;
  }
}
