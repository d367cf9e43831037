// A running trace's phase, decided from its nodes and the clock. Completed and Failed are
// final: the reconciler never asks again once a trace reached one of them.
import type { Phase } from "../../api/droptrace.js";
import { REASON, type Reason } from "../../api/conditions.js";
import type { NodeCounts } from "./node-states.js";

export interface PhaseInput {
  counts: NodeCounts;
  /** Nodes with a report. */
  reported: number;
  /**
   * The DaemonSet's desiredNumberScheduled once its controller has counted, else undefined.
   * Until then "every node is done" cannot be known: one quick node must not end the trace.
   */
  desiredScheduled: number | undefined;
  nowMs: number;
  /** start + duration + grace: nodes not done by then are given up on. */
  deadlineMs: number;
  /**
   * start + the agents' start wait: by then, a trace none of whose agents could start (every
   * wanted node has a start problem, or no node is wanted at all) ends instead of waiting for
   * the deadline. Undefined: wait for the deadline.
   */
  startWaitEndMs?: number;
  /** Nodes whose agent cannot start, and the cause of most of them (agent-start.ts). */
  notStarting?: { nodes: number; cause: Reason };
}

export interface PhaseOutcome {
  phase: Phase;
  /** Why: the Ready condition's reason, and the reason of the Event announcing the phase. */
  reason: Reason;
}

export function decidePhase(input: PhaseInput): PhaseOutcome {
  const { counts, reported, desiredScheduled } = input;
  const done = counts.completed + counts.failed;
  if (desiredScheduled !== undefined && desiredScheduled > 0 && done >= counts.desired) {
    return counts.failed === counts.desired ? { phase: "Failed", reason: REASON.allNodesFailed } : { phase: "Completed", reason: REASON.allNodesDone };
  }
  if (reported === 0 && desiredScheduled !== undefined && input.startWaitEndMs !== undefined && input.nowMs >= input.startWaitEndMs) {
    if (desiredScheduled === 0) return { phase: "Failed", reason: REASON.noNodesSelected };
    const notStarting = input.notStarting;
    if (notStarting !== undefined && notStarting.nodes >= desiredScheduled) return { phase: "Failed", reason: notStarting.cause };
  }
  if (input.nowMs >= input.deadlineMs) {
    if (reported === 0) return { phase: "Failed", reason: desiredScheduled === 0 ? REASON.noNodesSelected : REASON.noNodesReported };
    // Nodes with counts, final or not, make the trace a result; failures alone do not.
    if (counts.completed + counts.running === 0) return { phase: "Failed", reason: counts.failed > 0 ? REASON.allNodesFailed : REASON.noNodesReported };
    return { phase: "Completed", reason: REASON.deadlinePassed };
  }
  if (reported > 0) return { phase: "Running", reason: REASON.tracing };
  return { phase: "Pending", reason: REASON.waitingForAgents };
}

export const isFinal = (phase: Phase | undefined): boolean => phase === "Completed" || phase === "Failed";
