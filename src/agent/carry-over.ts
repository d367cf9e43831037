// An agent restarted mid-trace (its container crashed, or was evicted and came back) finds
// its earlier counts in its report. They are added to what it counts from now on, so the
// report stays cumulative for the whole trace and nothing counted before is lost.
import type { DropTraceReportStatus, ReportRow } from "../api/report.js";
import { compareRows, nodeRowKey } from "../api/rows.js";

export function carryOver(earlier: DropTraceReportStatus, now: DropTraceReportStatus, rowCap: number): DropTraceReportStatus {
  const merged = new Map<string, ReportRow>();
  for (const row of [...earlier.rows, ...now.rows]) {
    const key = nodeRowKey(row);
    const existing = merged.get(key);
    merged.set(key, existing === undefined ? { ...row } : { ...existing, count: existing.count + row.count });
  }
  const sorted = [...merged.values()].sort(compareRows);
  const kept = sorted.slice(0, rowCap);
  const cut = sorted.slice(rowCap);
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
  };
}
