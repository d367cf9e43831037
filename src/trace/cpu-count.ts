// The node's online CPUs, which the probe's CPU share is of. Read from the host's /proc/stat (one
// `cpuN` line per online CPU), not from the container's view: a CPU limit on the agent's cgroup
// does not make the node smaller, and the probe runs on every CPU the node has.
import { cpus } from "node:os";
import { CPU_COUNT_BOUNDS } from "../api/probe-cost.js";

/** `cpuN` lines of a /proc/stat text (the first line, `cpu`, sums them and is not one); undefined when there are none. */
export function parseOnlineCpus(procStat: string): number | undefined {
  const count = procStat.split("\n").filter((line) => /^cpu\d+\s/.test(line)).length;
  return count === 0 ? undefined : Math.min(count, CPU_COUNT_BOUNDS.max);
}

/**
 * `<procRoot>/stat` counted; where it cannot be read, Node's own count (which also reads the
 * machine's, /proc/cpuinfo and sysfs, not the cgroup's), and 1 if even that says nothing.
 */
export async function onlineCpus(readText: (path: string) => Promise<string | undefined>, procRoot: string): Promise<number> {
  const fromStat = parseOnlineCpus((await readText(`${procRoot}/stat`)) ?? "");
  if (fromStat !== undefined) return fromStat;
  return Math.min(Math.max(cpus().length, CPU_COUNT_BOUNDS.min), CPU_COUNT_BOUNDS.max);
}
