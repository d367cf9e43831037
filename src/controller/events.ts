// Kubernetes Events about a DropTrace: one per phase it enters and one per node that fails,
// each with the reason of the condition it goes with. Event names are derived from what they
// announce, so announcing twice (a retried reconcile, a restarted or new leader) is refused
// by the API server as AlreadyExists instead of doubling the event.
import { createHash } from "node:crypto";
import type { CoreV1Event } from "@kubernetes/client-node";
import { API_VERSION, DROPTRACE } from "../api/constants.js";
import { shortenName } from "../api/names.js";
import { CLUSTER_EVENT_NAMESPACE, EVENT_COMPONENT } from "./defaults.js";
import { MAX_MESSAGE_LENGTH } from "./status/limits.js";
import { REASON } from "../api/conditions.js";
import { model } from "../kube/api.js";
import type { NodeState } from "./status/node-states.js";
import type { PhaseOutcome } from "./status/phase.js";

export interface EventSpec {
  /** What is announced; equal keys for the same trace are the same Event. */
  key: string;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

const WARNING_REASONS = new Set<string>([
  REASON.deadlinePassed,
  REASON.allNodesFailed,
  REASON.noNodesReported,
  REASON.noNodesSelected,
  REASON.invalidSpec,
  REASON.specChanged,
  REASON.agentsRefused,
  REASON.agentPodsRefused,
  REASON.agentImagePullFailed,
  REASON.agentsUnschedulable,
  REASON.agentsCrashing,
]);

/** The trace entered `outcome.phase`; `message` is its Ready condition's. */
export function phaseEvent(outcome: PhaseOutcome, message: string): EventSpec {
  return { key: `phase/${outcome.phase}`, type: WARNING_REASONS.has(outcome.reason) ? "Warning" : "Normal", reason: outcome.reason, message };
}

export function nodeFailureEvent(node: NodeState): EventSpec {
  const why = [node.reason, node.message].filter((s) => s !== undefined && s !== "").join(": ");
  return { key: `node-failed/${node.node}`, type: "Warning", reason: REASON.nodesFailing, message: `node ${node.node} failed${why === "" ? "" : `: ${why}`}` };
}

/** A node whose probe stopped itself early for its CPU cost (ProbeOverload): its counts are kept, its time is short. */
export function nodeStoppedEarlyEvent(node: NodeState): EventSpec {
  const why = node.message === undefined || node.message === "" ? "" : `: ${node.message}`;
  return { key: `node-stopped/${node.node}`, type: "Warning", reason: REASON.probeOverload, message: `node ${node.node} stopped tracing early${why}` };
}

/** Agents of this trace that do not start, for one cause: announced once per cause, when first seen. */
export function agentStartEvent(problem: { reason: string; description: string }): EventSpec {
  return { key: `agents/${problem.reason}`, type: "Warning", reason: problem.reason, message: problem.description };
}

/**
 * Flows in status left unnamed because the address index's watches fail (`problem`, as
 * AddressIndex.problem() says it): announced once per trace, the first time it is seen.
 */
export function addressesUnnamedEvent(problem: string): EventSpec {
  return {
    key: "addresses/unnamed",
    type: "Warning",
    reason: REASON.flowAddressesUnnamed,
    message: `flow addresses are shown unnamed: ${problem}; the controller's ClusterRole must allow list and watch on pods, services and nodes`,
  };
}

export function eventName(trace: { name: string; uid: string }, key: string): string {
  const digest = createHash("sha256").update(`${trace.uid}\0${key}`).digest("hex").slice(0, 16);
  return `${shortenName(trace.name, 200)}.${digest}`;
}

/** A core/v1 Event about a (cluster-scoped) DropTrace, in namespace `default`. */
export function eventObject(trace: { name: string; uid: string }, spec: EventSpec, nowMs: number, instance: string): CoreV1Event {
  const now = new Date(Math.floor(nowMs / 1000) * 1000);
  return model<CoreV1Event>({
    metadata: { name: eventName(trace, spec.key), namespace: CLUSTER_EVENT_NAMESPACE },
    involvedObject: { apiVersion: API_VERSION, kind: DROPTRACE.kind, name: trace.name, uid: trace.uid },
    type: spec.type,
    reason: spec.reason,
    message: spec.message.slice(0, MAX_MESSAGE_LENGTH),
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: instance.slice(0, 128),
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  });
}
