// An agent restarted mid-trace (its container crashed, or was evicted and came back) finds
// its earlier counts in its report. They are added to what it counts from now on, so the
// report stays cumulative for the whole trace and nothing counted before is lost.
import type { DropTraceReportStatus, ReportRow } from "../api/report.js";
import { compareRows, nodeRowKey } from "../api/rows.js";
import { MAX_REPORT_STACK_BYTES, mergeStacks, stacksOnTopRows } from "../api/stacks.js";
import { addNotCounted, cpuPercent, nanosecondsPerHit, type ProbeCost } from "../api/probe-cost.js";
import { mergeFlows } from "../api/flows.js";

export function carryOver(earlier: DropTraceReportStatus, now: DropTraceReportStatus, rowCap: number): DropTraceReportStatus {
  const merged = new Map<string, ReportRow>();
  for (const row of [...earlier.rows, ...now.rows]) {
    const key = nodeRowKey(row);
    const existing = merged.get(key);
    if (existing === undefined) {
      merged.set(key, { ...row });
      continue;
    }
    const stacks = existing.stacks === undefined && row.stacks === undefined ? undefined : mergeStacks([existing.stacks ?? [], row.stacks ?? []]);
    merged.set(key, { ...existing, count: existing.count + row.count, ...(stacks === undefined ? {} : { stacks }), ...carriedFlows(existing, row) });
  }
  const sorted = [...merged.values()].sort(compareRows);
  const kept = stacksOnTopRows(sorted.slice(0, rowCap), MAX_REPORT_STACK_BYTES);
  const cut = sorted.slice(rowCap);
  const probeCost = addCosts(earlier.probeCost, now.probeCost);
  return {
    ...now,
    ...(earlier.startTime === undefined ? {} : { startTime: earlier.startTime }),
    intervals: earlier.intervals + now.intervals,
    totalDrops: earlier.totalDrops + now.totalDrops,
    uncountedDrops: earlier.uncountedDrops + now.uncountedDrops,
    // Left out by the pod filters before the restart: not among the earlier rows, so counted on here.
    ...(earlier.filteredDrops === undefined && now.filteredDrops === undefined
      ? {}
      : { filteredDrops: (earlier.filteredDrops ?? 0) + (now.filteredDrops ?? 0) }),
    otherRows: earlier.otherRows + now.otherRows + cut.length,
    otherDrops: earlier.otherDrops + now.otherDrops + cut.reduce((sum, r) => sum + r.count, 0),
    rows: kept,
    ...(probeCost === undefined ? {} : { probeCost }),
  };
}

/**
 * Both runs' flows of one row: summed by flow, the top kept; what is not listed stays in
 * otherFlows, so count = listed + unparsedFlows + otherFlows still holds. Rows of an agent
 * without flows have none to add.
 */
function carriedFlows(a: ReportRow, b: ReportRow): Pick<ReportRow, "flows" | "unparsedFlows" | "otherFlows"> {
  if (a.flows === undefined && b.flows === undefined) return {};
  const { flows } = mergeFlows([a.flows ?? [], b.flows ?? []]);
  const unparsedFlows = (a.unparsedFlows ?? 0) + (b.unparsedFlows ?? 0);
  const listed = flows.reduce((sum, f) => sum + f.count, 0);
  return { flows, unparsedFlows, otherFlows: Math.max(0, a.count + b.count - listed - unparsedFlows) };
}

/** Both runs' cost: sums, and the shares recomputed over the whole time. */
function addCosts(a: ProbeCost | undefined, b: ProbeCost | undefined): ProbeCost | undefined {
  if (a === undefined || b === undefined) return b ?? a;
  const hits = a.hits + b.hits;
  const handlerNanoseconds = a.handlerNanoseconds + b.handlerNanoseconds;
  const elapsedNanoseconds = a.elapsedNanoseconds + b.elapsedNanoseconds;
  return {
    hits,
    handlerNanoseconds,
    elapsedNanoseconds,
    cpus: b.cpus,
    nanosecondsPerHit: nanosecondsPerHit(handlerNanoseconds, hits),
    cpuPercent: cpuPercent(handlerNanoseconds, elapsedNanoseconds, b.cpus),
    peakIntervalCPUPercent: Math.max(a.peakIntervalCPUPercent, b.peakIntervalCPUPercent),
    notCounted: addNotCounted(a.notCounted, b.notCounted),
  };
}
