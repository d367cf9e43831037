// The lines `droptrace run --output table` prints about the kernel's own drop counters: what the
// probe could not see (drops counted before an skb existed), what it partly saw, and whether the
// counters that can be compared with the rows agree with them (api/kernel-counters.ts).
import { KERNEL_COUNTERS } from "../api/kernel-counters.js";
import type { KernelCounters } from "../api/report.js";

/** No lines when the counters were not read. */
export function counterLines(counters: KernelCounters | undefined): string[] {
  if (counters === undefined) return [];
  const lines = ["", `Kernel drop counters over the trace (the node's own namespace, ${counters.netns}):`];
  const named = (c: KernelCounters["counters"][number]) => `${c.name}${c.interface === undefined ? "" : ` ${c.interface}`} ${c.count}`;
  const unseen = counters.counters.filter((c) => KERNEL_COUNTERS[c.name].visibility === "unseen");
  if (unseen.length > 0) {
    lines.push(`  ${counters.unseenDrops} drops the probe cannot see, in no row: ${unseen.map(named).join(", ")}`);
    for (const name of new Set(unseen.map((c) => c.name))) lines.push(`    ${name}: ${KERNEL_COUNTERS[name].about}`);
  } else {
    lines.push("  no drops counted where the probe cannot see them");
  }
  const partly = counters.counters.filter((c) => KERNEL_COUNTERS[c.name].visibility === "partly");
  if (partly.length > 0) lines.push(`  ${counters.partlySeenDrops} in columns that mix such drops with traced ones: ${partly.map(named).join(", ")}`);
  for (const check of counters.checks) lines.push(`  ${check.counter} ${check.kernel}, traced ${check.traced}: ${check.verdict}`);
  return lines;
}
