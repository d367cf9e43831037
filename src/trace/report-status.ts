// A trace's state as a DropTraceReport's status: what the agent writes, and what
// `droptrace run --output json` prints.
import type { DropTraceReportStatus } from "../api/report.js";
import type { TraceState } from "./session.js";

export function reportStatus(state: TraceState): DropTraceReportStatus {
  const { snapshot, outcome } = state;
  const problems = [
    ...(outcome?.phase === "Failed" ? [outcome.message] : []),
    ...state.notes,
    ...(snapshot.uncounted > 0 ? [`${snapshot.uncounted} drops not counted: the probe's map was full`] : []),
    ...(snapshot.protocolErrors > 0 ? [`${snapshot.protocolErrors} malformed probe output lines, first: ${snapshot.protocolErrorSamples[0] ?? ""}`] : []),
  ];
  const message = problems.join("; ").slice(0, 4096);
  return {
    phase: state.phase,
    ...(outcome?.phase === "Failed" ? { reason: outcome.reason } : {}),
    ...(message === "" ? {} : { message }),
    kernelRelease: state.kernelRelease,
    ...(state.startTime === undefined ? {} : { startTime: state.startTime.toISOString() }),
    lastUpdateTime: new Date().toISOString(),
    ...(state.completionTime === undefined ? {} : { completionTime: state.completionTime.toISOString() }),
    intervals: snapshot.intervals,
    ...(state.probe === undefined ? {} : { probe: state.probe }),
    totalDrops: snapshot.total,
    uncountedDrops: snapshot.uncounted + (state.skippedProbes ?? 0),
    otherRows: snapshot.otherRows,
    otherDrops: snapshot.otherCount,
    rows: [...snapshot.rows],
    ...(state.kernelCounters === undefined ? {} : { kernelCounters: state.kernelCounters }),
  };
}
