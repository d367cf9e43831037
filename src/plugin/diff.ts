// Two traces compared row by row by drops per second, so traces of different lengths compare
// fairly: rows new in B, gone from it, and grown or shrunk by more than a threshold, largest
// change first. "Is it still dropping after my fix": trace before, trace after, diff.
import { compareText, statusRowKey, type RowIdentity } from "../api/rows.js";
import { formatDuration } from "../api/duration.js";
import { formatRate, kubectlTable } from "./table.js";
import { shortWorkload } from "./render-trace.js";
import type { WorkloadIdentity } from "../api/attribution.js";
import type { RatedRow, TraceView } from "./view.js";

export type Change = "new" | "gone" | "grown" | "shrunk";

export interface DiffRow extends RowIdentity {
  change: Change;
  /** The workload whose row this is, part of its identity (statusRowKey); absent for rows no workload owns. */
  workload?: WorkloadIdentity;
  /** drops per second in A and B; 0 where the row is not in that trace */
  rateA: number;
  rateB: number;
  deltaPerSecond: number;
  /** the change relative to A's rate; absent for a new row */
  deltaPercent?: number;
  /**
   * Where the row is missing from a trace whose list is full (it kept only its top N rows): it
   * may have been there below this rate, rather than not at all.
   */
  atMostA?: number;
  atMostB?: number;
}

export interface DiffSide {
  name: string;
  phase?: string;
  tracedSeconds: number;
  rows: number;
  /** the trace kept only its top N rows */
  full: boolean;
}

export interface TraceDiff {
  a: DiffSide;
  b: DiffSide;
  thresholdPercent: number;
  rows: DiffRow[];
  /** rows in both whose rate changed by the threshold or less */
  unchanged: number;
}

export const DEFAULT_THRESHOLD_PERCENT = 20;

function side(view: TraceView, seconds: number): DiffSide {
  return {
    name: view.name,
    ...(view.phase === undefined ? {} : { phase: view.phase }),
    tracedSeconds: seconds,
    rows: view.rows.length,
    full: view.rows.length >= view.topN,
  };
}

const perSecond = (row: RatedRow, seconds: number): number => row.count / seconds;
const lowestRate = (rows: readonly RatedRow[], seconds: number): number => Math.min(...rows.map((r) => perSecond(r, seconds)));
const round = (n: number): number => Math.round(n * 10_000) / 10_000;

/** Both traces must have started: `aSeconds` and `bSeconds` are their traced seconds (view.tracedSeconds), above 0. */
export function diffTraces(a: TraceView, b: TraceView, aSeconds: number, bSeconds: number, thresholdPercent: number): TraceDiff {
  const inA = new Map(a.rows.map((r) => [statusRowKey(r), r]));
  const inB = new Map(b.rows.map((r) => [statusRowKey(r), r]));
  const sideA = side(a, aSeconds);
  const sideB = side(b, bSeconds);
  const identity = (r: RatedRow): RowIdentity & { workload?: WorkloadIdentity } => ({
    symbol: r.symbol,
    interface: r.interface,
    module: r.module,
    reason: r.reason,
    ...(r.workload === undefined ? {} : { workload: r.workload }),
  });
  const rows: DiffRow[] = [];
  let unchanged = 0;
  for (const [key, rowB] of inB) {
    const rowA = inA.get(key);
    const rateB = perSecond(rowB, bSeconds);
    if (rowA === undefined) {
      rows.push({
        ...identity(rowB),
        change: "new",
        rateA: 0,
        rateB: round(rateB),
        deltaPerSecond: round(rateB),
        ...(sideA.full ? { atMostA: round(lowestRate(a.rows, aSeconds)) } : {}),
      });
      continue;
    }
    const rateA = perSecond(rowA, aSeconds);
    const delta = rateB - rateA;
    // From the counts and seconds, not the rates: a change of exactly the threshold is exact.
    const percent = ((rowB.count * aSeconds - rowA.count * bSeconds) / (rowA.count * bSeconds)) * 100;
    if (Math.abs(percent) <= thresholdPercent) {
      unchanged += 1;
      continue;
    }
    rows.push({
      ...identity(rowB),
      change: delta > 0 ? "grown" : "shrunk",
      rateA: round(rateA),
      rateB: round(rateB),
      deltaPerSecond: round(delta),
      deltaPercent: Math.round(percent),
    });
  }
  for (const [key, rowA] of inA) {
    if (inB.has(key)) continue;
    const rateA = perSecond(rowA, aSeconds);
    rows.push({
      ...identity(rowA),
      change: "gone",
      rateA: round(rateA),
      rateB: 0,
      deltaPerSecond: round(-rateA),
      deltaPercent: -100,
      ...(sideB.full ? { atMostB: round(lowestRate(b.rows, bSeconds)) } : {}),
    });
  }
  rows.sort(
    (x, y) =>
      Math.abs(y.deltaPerSecond) - Math.abs(x.deltaPerSecond) ||
      compareText(x.symbol, y.symbol) ||
      compareText(x.interface, y.interface) ||
      compareText(x.module, y.module) ||
      compareText(x.reason, y.reason),
  );
  return { a: sideA, b: sideB, thresholdPercent, rows, unchanged };
}

const sign = (n: number): string => (n > 0 ? "+" : n < 0 ? "-" : "");

/** "+1.50 (+100%)" for a grown or shrunk row, "+1.50" for a new one, "-4.00" for one gone. */
function deltaCell(r: DiffRow): string {
  const perSecond = `${sign(r.deltaPerSecond)}${formatRate(Math.abs(r.deltaPerSecond))}`;
  const relative = r.change === "grown" || r.change === "shrunk" ? ` (${sign(r.deltaPercent ?? 0)}${Math.abs(r.deltaPercent ?? 0)}%)` : "";
  return perSecond + relative;
}

function rateCell(rate: number, atMost: number | undefined): string {
  return atMost === undefined ? formatRate(rate) : `<=${formatRate(atMost)}`;
}

function describeSide(letter: string, s: DiffSide): string {
  return `${letter}: ${s.name} (${s.phase ?? "no status"}, ${formatDuration(s.tracedSeconds)} traced, ${s.rows} rows)`;
}

export function renderDiff(diff: TraceDiff): string {
  const lines = [describeSide("A", diff.a), describeSide("B", diff.b), ""];
  if (diff.rows.length === 0) {
    lines.push(`no row changed by more than ${diff.thresholdPercent}% in drops per second (${diff.unchanged} rows in both)`);
    return `${lines.join("\n")}\n`;
  }
  // Two workloads' rows at one place are two rows: name the workload where any row has one.
  const workloads = diff.rows.some((r) => r.workload !== undefined);
  lines.push(
    kubectlTable(
      ["CHANGE", "SYMBOL", "MODULE", "REASON", "INTERFACE", ...(workloads ? ["WORKLOAD"] : []), "A/S", "B/S", "DELTA/S"],
      diff.rows.map((r) => [
        r.change,
        r.symbol,
        r.module,
        r.reason,
        r.interface,
        ...(workloads ? [r.workload === undefined ? "-" : shortWorkload(r.workload)] : []),
        rateCell(r.rateA, r.atMostA),
        rateCell(r.rateB, r.atMostB),
        deltaCell(r),
      ]),
    ),
  );
  lines.push("");
  lines.push(`${diff.unchanged} rows in both changed by ${diff.thresholdPercent}% or less and are not listed.`);
  if (diff.a.full || diff.b.full) {
    lines.push("A trace that kept only its top rows (spec.topN) may have had a row it does not list, below its lowest rate: such a rate shows as <=.");
  }
  return `${lines.join("\n")}\n`;
}
