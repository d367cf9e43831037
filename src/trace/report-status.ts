// A trace's state as a DropTraceReport's status: what the agent writes, and what
// `droptrace run --output json` prints.
import type { DropTraceReportStatus } from "../api/report.js";
import { cpuPercent, nanosecondsPerHit, type ProbeCost } from "../api/probe-cost.js";
import { MAX_DISTINCT_STACKS, MAX_STACKS_PER_SITE, type DropSnapshot } from "./accumulator.js";
import type { TraceState } from "./session.js";

/** The probe's cost as a report says it, once an interval reported it; undefined before (or without the node's CPU count). */
export function probeCost(snapshot: DropSnapshot, cpus: number | undefined, skippedProbes: number): ProbeCost | undefined {
  const cost = snapshot.cost;
  if (cost === undefined || cpus === undefined) return undefined;
  return {
    hits: cost.hits,
    handlerNanoseconds: cost.probeNs,
    elapsedNanoseconds: cost.elapsedNs,
    cpus,
    nanosecondsPerHit: nanosecondsPerHit(cost.probeNs, cost.hits),
    cpuPercent: cpuPercent(cost.probeNs, cost.elapsedNs, cpus),
    // The busiest interval's share of one CPU, spread over all of them: cpuPercent's per-interval form.
    peakIntervalCPUPercent: cpuPercent(cost.peakShareOfOneCpu * 1e9, 1e9, cpus),
    notCounted: { mapFull: snapshot.uncounted, skipped: skippedProbes, stackTableFull: snapshot.stackOverflow },
  };
}

export function reportStatus(state: TraceState): DropTraceReportStatus {
  const { snapshot, outcome } = state;
  const stoppedEarly = outcome?.phase === "Completed" ? outcome.stoppedEarly : undefined;
  const reason = outcome?.phase === "Failed" ? outcome.reason : stoppedEarly?.reason;
  const problems = [
    ...(outcome?.phase === "Failed" ? [outcome.message] : []),
    ...(stoppedEarly === undefined ? [] : [stoppedEarly.message]),
    ...state.notes,
    ...(snapshot.uncounted > 0 ? [`${snapshot.uncounted} drops not counted: the probe's map was full`] : []),
    ...(snapshot.stackOverflow > 0
      ? [`${snapshot.stackOverflow} stack samples not stored: the probe's stack table was full (their drops are in the rows)`]
      : []),
    ...(snapshot.stackSamplesNotKept > 0
      ? [
          `${snapshot.stackSamplesNotKept} stack samples not kept: more distinct stacks than the agent keeps (${MAX_STACKS_PER_SITE} per drop site and reason, ${MAX_DISTINCT_STACKS} in all; their drops are in the rows)`,
        ]
      : []),
    ...((snapshot.unstoredFlows ?? 0) > 0
      ? [`${snapshot.unstoredFlows} drops' flows not stored: the probe's flow table was full (their drops are in the rows, as otherFlows)`]
      : []),
    ...((snapshot.flowSamplingPeriod ?? 1) > 1
      ? [
          `flows sampled: while the probe passed 1% of the CPUs, one drop in up to ${snapshot.flowSamplingPeriod} had its flow read, counted that many times, so flow counts are estimates (row counts are exact)`,
        ]
      : []),
    ...(snapshot.protocolErrors > 0 ? [`${snapshot.protocolErrors} malformed probe output lines, first: ${snapshot.protocolErrorSamples[0] ?? ""}`] : []),
  ];
  const message = problems.join("; ").slice(0, 4096);
  const cost = probeCost(snapshot, state.cpus, state.skippedProbes ?? 0);
  return {
    phase: state.phase,
    ...(reason === undefined ? {} : { reason }),
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
    ...(cost === undefined ? {} : { probeCost: cost }),
    ...(snapshot.unstoredFlows === undefined ? {} : { unstoredFlows: snapshot.unstoredFlows }),
    ...(snapshot.flowSamplingPeriod === undefined ? {} : { flowSamplingPeriod: snapshot.flowSamplingPeriod }),
  };
}
