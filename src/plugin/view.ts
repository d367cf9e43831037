// A DropTrace as `kubectl droptrace` shows it: its status, and each row's rate per second, so
// traces of different lengths compare (diff.ts). The table, JSON and YAML outputs all print this.
import type { DropRow, NodeSummary, Phase } from "../api/droptrace.js";
import type { ProbeCostStatus } from "../api/probe-cost.js";
import type { Condition } from "../api/kubernetes.js";
import { parseDurationSeconds } from "../api/duration.js";
import type { Trace } from "./client.js";

export type RatedRow = DropRow & {
  /** count / tracedSeconds; absent before the trace has started */
  ratePerSecond?: number;
};

export interface TraceView {
  name: string;
  /** absent until the controller has written the first status */
  phase?: Phase;
  durationSeconds: number;
  /** rows the status keeps (spec.topN): a row missing from a full list may be below it, not absent */
  topN: number;
  startTime?: string;
  completionTime?: string;
  /** the seconds each row's rate is per (see tracedSeconds) */
  tracedSeconds?: number;
  totalDrops: number;
  uncountedDrops: number;
  nodes?: { desired: number; pending: number; running: number; completed: number; failed: number };
  rows: RatedRow[];
  nodeSummary: NodeSummary[];
  /** nodes left out of nodeSummary */
  nodeSummaryOmitted: number;
  conditions: Condition[];
  /** What the probes cost, once a node reported it. */
  probeCost?: ProbeCostStatus;
}

/** How rates are computed, for --help. */
export const RATE_HELP =
  "RATE/S is drops per second over the time traced: the trace's duration once it has completed (each node traces for the duration), " +
  "the time since it started while it runs or if it failed early. So traces of different lengths compare fairly.";

export const hasEnded = (phase: Phase | undefined): boolean => phase === "Completed" || phase === "Failed";

/**
 * Seconds traced. A completed trace's nodes each traced for its duration: that is what its
 * counts are over (the trace ends a little later, when the last final report is in, and its
 * startTime is a little earlier than its nodes' starts). A running trace has traced since it
 * started, and a failed one until it ended, never more than the duration.
 */
export function tracedSeconds(trace: Trace, nowMs: number): number | undefined {
  const status = trace.status;
  const duration = parseDurationSeconds(trace.spec.duration);
  if (status?.phase === "Completed" && duration !== undefined) return duration;
  const start = status?.startTime === undefined ? NaN : Date.parse(status.startTime);
  if (Number.isNaN(start)) return undefined;
  const end = status?.completionTime === undefined ? nowMs : Date.parse(status.completionTime);
  return Math.max(0, Math.min(duration ?? Infinity, (end - start) / 1000));
}

/** Drops per second, kept to 4 decimals in JSON (the count and seconds are there for more). */
export function rate(count: number, seconds: number | undefined): number | undefined {
  if (seconds === undefined || seconds <= 0) return undefined;
  return Math.round((count / seconds) * 10_000) / 10_000;
}

export function traceView(trace: Trace, nowMs: number): TraceView {
  const status = trace.status ?? {};
  const seconds = tracedSeconds(trace, nowMs);
  return {
    name: trace.metadata.name,
    ...(status.phase === undefined ? {} : { phase: status.phase }),
    durationSeconds: parseDurationSeconds(trace.spec.duration) ?? 0,
    topN: trace.spec.topN,
    ...(status.startTime === undefined ? {} : { startTime: status.startTime }),
    ...(status.completionTime === undefined ? {} : { completionTime: status.completionTime }),
    ...(seconds === undefined ? {} : { tracedSeconds: Math.round(seconds * 1000) / 1000 }),
    totalDrops: status.totalDrops ?? 0,
    uncountedDrops: status.uncountedDrops ?? 0,
    ...(status.nodes === undefined ? {} : { nodes: status.nodes }),
    rows: (status.drops ?? []).map((row) => {
      const perSecond = rate(row.count, seconds);
      return perSecond === undefined ? { ...row } : { ...row, ratePerSecond: perSecond };
    }),
    nodeSummary: status.nodeSummary ?? [],
    nodeSummaryOmitted: status.nodeSummaryOmitted ?? 0,
    conditions: status.conditions ?? [],
    ...(status.probeCost === undefined ? {} : { probeCost: status.probeCost }),
  };
}
