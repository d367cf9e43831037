// What watching cost: the probe's handler time, as each node's report carries it and as a
// DropTrace's status sums it, and the one line every output prints it as.
//
// The probe measures the time inside its kfree_skb handler's body in cycles (ns over each interval); SystemTap's
// own entry and exit around each handler are not in it, so this is "handler time", a lower bound
// of what the probe costs (stap/README.md measures the whole cost per drop).
import { z } from "zod";

const count = z.number().int().min(0);
const share = z.number().min(0);

/** Bounds of spec.maxProbeCPUPercent, the guard's limit. */
export const MAX_PROBE_CPU_PERCENT_DEFAULT = 5;
export const MAX_PROBE_CPU_PERCENT_BOUNDS = { min: 1, max: 50 } as const;
/** The node's CPUs the probe's module is told about (its `cpus` parameter). */
export const CPU_COUNT_BOUNDS = { min: 1, max: 4096 } as const;

export const NotCountedSchema = z.strictObject({
  /** Drops past the probe's full map: in no row (uncountedDrops holds them too). */
  mapFull: count,
  /** Handler runs SystemTap skipped (reentrancy, lock timeouts): drops in no row. */
  skipped: count,
  /** Stack samples the probe's full stack table did not store: their drops are in the rows, their stacks are not. */
  stackTableFull: count,
});
export type NotCounted = z.infer<typeof NotCountedSchema>;

export const ProbeCostSchema = z.strictObject({
  /** Times the kfree_skb handler ran: drops counted, filtered out, or past the map. */
  hits: count,
  /** Time inside the handler's body, SystemTap's own entry and exit not included. */
  handlerNanoseconds: count,
  /** Wall-clock time the probe's intervals covered. */
  elapsedNanoseconds: count,
  /** The node's online CPUs. */
  cpus: z.number().int().min(CPU_COUNT_BOUNDS.min).max(CPU_COUNT_BOUNDS.max),
  nanosecondsPerHit: share,
  /** Handler time as a share of all the node's CPUs over the trace, in percent. */
  cpuPercent: share,
  /** The same over the busiest report interval. */
  peakIntervalCPUPercent: share,
  notCounted: NotCountedSchema,
});
export type ProbeCost = z.infer<typeof ProbeCostSchema>;

export const ProbeCostStatusSchema = z.strictObject({
  /** Nodes whose probe reported its cost. */
  nodes: count,
  hits: count,
  handlerNanoseconds: count,
  nanosecondsPerHit: share,
  /** The highest of the nodes' shares of their own CPUs, in percent: the cost is per node, so it is not summed. */
  cpuPercent: share,
  /** The node with that share. */
  busiestNode: z.string().max(253),
  notCounted: NotCountedSchema,
});
export type ProbeCostStatus = z.infer<typeof ProbeCostStatusSchema>;

/** Both sides' uncounted events, summed (two runs of one node's agent, or several nodes). */
export function addNotCounted(a: NotCounted, b: NotCounted): NotCounted {
  return { mapFull: a.mapFull + b.mapFull, skipped: a.skipped + b.skipped, stackTableFull: a.stackTableFull + b.stackTableFull };
}

/** Handler nanoseconds per hit, to a tenth; 0 without hits. */
export function nanosecondsPerHit(handlerNanoseconds: number, hits: number): number {
  return hits === 0 ? 0 : Math.round((handlerNanoseconds / hits) * 10) / 10;
}

/** Handler time as a share of `cpus` CPUs over `elapsedNanoseconds`, in percent to 4 decimals; 0 before any time passed. */
export function cpuPercent(handlerNanoseconds: number, elapsedNanoseconds: number, cpus: number): number {
  if (elapsedNanoseconds <= 0 || cpus <= 0) return 0;
  return Math.round((handlerNanoseconds / (elapsedNanoseconds * cpus)) * 100 * 10_000) / 10_000;
}

/** "0.03%", "7.3%", "<0.01%": as much precision as a person reads. */
export function formatPercent(percent: number): string {
  if (percent === 0) return "0%";
  if (percent < 0.01) return "<0.01%";
  return `${percent < 1 ? percent.toFixed(2) : percent.toFixed(1)}%`;
}

function formatNanoseconds(ns: number): string {
  if (ns < 1000) return `${Math.round(ns)} ns`;
  if (ns < 1_000_000) return `${(ns / 1000).toFixed(1)} µs`;
  return `${(ns / 1_000_000).toFixed(1)} ms`;
}

/**
 * "probe: 12,345 hits, 1.2 µs per hit handler time, 0.03% of CPU": for `droptrace run`'s table and the
 * plugin's view; `busiestNode` names whose share it is when several nodes traced.
 */
export function probeCostLine(cost: { hits: number; nanosecondsPerHit: number; cpuPercent: number; busiestNode?: string }, nodes = 1): string {
  const whose = cost.busiestNode !== undefined && nodes > 1 ? ` on the busiest node, ${cost.busiestNode}` : "";
  return (
    `probe: ${cost.hits.toLocaleString("en-US")} hits, ${formatNanoseconds(cost.nanosecondsPerHit)} per hit handler time, ` +
    `${formatPercent(cost.cpuPercent)} of CPU${whose} (handler time excludes SystemTap's own entry and exit)`
  );
}
