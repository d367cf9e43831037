// A DropTrace's desired status, put together from the pure parts. Nothing here reads the
// cluster or the clock: the reconciler passes both in.
import { isDeepStrictEqual } from "node:util";
import type { DropTraceStatus } from "../../api/droptrace.js";
import { explanationsFor } from "../../api/drop-explanations.js";
import { applyConditions, desiredConditions, type ConditionInput } from "./conditions.js";
import { rfc3339 } from "../../kube/api.js";
import type { MergedDrops } from "./merge.js";
import { failuresByReason, nodeProgress, stoppedEarly, summarizeNodes, type NodeCounts, type NodeState, type NotReportingNode } from "./node-states.js";
import { isFinal, type PhaseOutcome } from "./phase.js";

export interface StatusInput {
  current: DropTraceStatus | undefined;
  generation: number;
  outcome: PhaseOutcome;
  nodes: readonly NodeState[];
  counts: NodeCounts;
  merged: MergedDrops;
  /** Wanted nodes without a report, named where their pod told us the node (only filled in at the deadline). */
  notReporting: { count: number; names: readonly string[] };
  /** Nodes whose agent has not started, with the cause (agent-start.ts): listed in the summary at any time. */
  notStarted?: readonly NotReportingNode[];
  startTime: string | undefined;
  nowMs: number;
  /** "namespace/name" of the trace's DaemonSet. */
  daemonSet: string;
  /** What the outcome's reason alone does not say (conditions.ts ConditionInput.detail). */
  detail?: string;
  agentStart?: ConditionInput["agentStart"];
}

export const EMPTY_MERGE: MergedDrops = { drops: [], totalDrops: 0, uncountedDrops: 0, distinctRows: 0, topActionable: undefined };
export const NO_NODES: NodeCounts = { desired: 0, pending: 0, running: 0, completed: 0, failed: 0 };

export function buildStatus(input: StatusInput): DropTraceStatus {
  const { outcome, counts, merged, current } = input;
  const now = rfc3339(input.nowMs);
  const final = isFinal(outcome.phase);
  const unfinished = final
    ? input.nodes
        .filter((n) => n.phase === "Pending" || n.phase === "Running")
        .map((n) => n.node)
        .sort()
    : [];
  const conditions = applyConditions(
    current?.conditions,
    desiredConditions({
      phase: outcome.phase,
      reason: outcome.reason,
      counts,
      failures: failuresByReason(input.nodes),
      stoppedEarly: stoppedEarly(input.nodes),
      notReporting: input.notReporting,
      unfinished,
      totalDrops: merged.totalDrops,
      uncountedDrops: merged.uncountedDrops,
      ...(merged.filteredDrops === undefined ? {} : { filteredDrops: merged.filteredDrops }),
      topRow: merged.drops[0],
      topActionable: merged.topActionable,
      daemonSet: input.daemonSet,
      ...(merged.kernelCounters === undefined ? {} : { kernelCounters: merged.kernelCounters }),
      ...(input.detail === undefined ? {} : { detail: input.detail }),
      ...(input.agentStart === undefined ? {} : { agentStart: input.agentStart }),
    }),
    input.generation,
    now,
  );
  const { nodeSummary, omitted } = summarizeNodes(input.nodes, [...(input.notStarted ?? []), ...input.notReporting.names.map((node) => ({ node }))]);
  const completionTime = final ? (current?.completionTime ?? now) : undefined;
  const topSymbol = merged.drops[0]?.symbol;
  // kubectl describe can only print what the object holds, so the few reasons a person reads first
  // are explained here; the rows themselves carry only their class.
  const explanations = explanationsFor(merged.drops, undefined, merged.topActionable?.reason);
  return {
    phase: outcome.phase,
    observedGeneration: input.generation,
    ...(input.startTime === undefined ? {} : { startTime: input.startTime }),
    ...(completionTime === undefined ? {} : { completionTime }),
    conditions,
    nodes: { ...counts },
    nodeProgress: nodeProgress(counts),
    totalDrops: merged.totalDrops,
    uncountedDrops: merged.uncountedDrops,
    ...(merged.filteredDrops === undefined ? {} : { filteredDrops: merged.filteredDrops }),
    ...(topSymbol === undefined ? {} : { topSymbol }),
    ...(merged.topWorkload === undefined ? {} : { topWorkload: merged.topWorkload }),
    drops: merged.drops,
    ...(explanations.length === 0 ? {} : { explanations }),
    nodeSummary,
    nodeSummaryOmitted: omitted,
    ...(merged.kernelCounters === undefined ? {} : { kernelCounters: merged.kernelCounters }),
    ...(merged.probeCost === undefined ? {} : { probeCost: merged.probeCost }),
  };
}

/** Equal as the API server would store them (no undefined-valued keys, key order irrelevant). */
export function sameStatus(a: DropTraceStatus | undefined, b: DropTraceStatus | undefined): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}

function normalize(status: DropTraceStatus | undefined): unknown {
  return status === undefined ? undefined : JSON.parse(JSON.stringify(status));
}
