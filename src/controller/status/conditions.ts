// The Ready, Progressing and Degraded conditions of a DropTrace, in metav1.Condition's shape.
// Reasons come from REASON and messages say what to do; lastTransitionTime moves only when a
// condition's status flips, so an unchanged trace produces an unchanged status.
import type { Condition } from "../../api/kubernetes.js";
import type { DropRow, KernelCountersStatus, Phase } from "../../api/droptrace.js";
import { KERNEL_COUNTERS } from "../../api/kernel-counters.js";
import { CONDITION, REASON, type Reason } from "../../api/conditions.js";
import { explainDrop } from "../../api/drop-explanations.js";
import { formatWorkload } from "../../api/attribution.js";
import { MAX_MESSAGE_LENGTH, MAX_NODES_NAMED } from "./limits.js";
import { nodeProgress, type NodeCounts } from "./node-states.js";

type ConditionSpec = Omit<Condition, "lastTransitionTime" | "observedGeneration">;

export interface ConditionInput {
  phase: Phase;
  reason: Reason;
  counts: NodeCounts;
  /** Failed nodes by their reason (node-states.ts failuresByReason). */
  failures: ReadonlyMap<string, readonly string[]>;
  /** Nodes that completed early (ProbeOverload), with their reports' words (node-states.ts stoppedEarly). */
  stoppedEarly?: readonly { node: string; reason: string; message: string }[];
  /** Nodes the DaemonSet wanted that never reported, once the deadline passed: a count, and the names known. */
  notReporting: { count: number; names: readonly string[] };
  /** Nodes that reported but had not sent a final report when the deadline passed. */
  unfinished: readonly string[];
  totalDrops: number;
  uncountedDrops: number;
  /** Drops the trace's pod filters left out (merge.ts); absent when no node has such a filter. */
  filteredDrops?: number;
  topRow: DropRow | undefined;
  /** The first row whose reason is not usually normal (merge.ts): the one Ready sends a person to. */
  topActionable: DropRow | undefined;
  /** What the reason alone does not say: a refused spec's field errors, the API server's words. */
  detail?: string;
  /** Agents that have not started, by cause, already described with what to do (agent-start.ts). */
  agentStart?: readonly { reason: Reason; description: string; nodes: number }[];
  /** "namespace/name" of the trace's DaemonSet, for messages that send a person to its pods. */
  daemonSet: string;
  /** The nodes' kernel counters summed (merge.ts). */
  kernelCounters?: KernelCountersStatus;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "a, b, c and 4 more" */
function someNames(names: readonly string[], total = names.length): string {
  const shown = names.slice(0, MAX_NODES_NAMED);
  const more = total - shown.length;
  return more > 0 ? `${shown.join(", ")} and ${more} more` : shown.join(", ");
}

/** "HeadersMissing on 2 (a, b); CompileFailed on 1 (c)" */
function describeFailures(failures: ReadonlyMap<string, readonly string[]>): string {
  return [...failures.entries()].map(([reason, nodes]) => `${reason} on ${nodes.length} (${someNames(nodes)})`).join("; ");
}

/** "NO_SOCKET at udp_rcv+0x452 on lo (600 drops)", "NO_SOCKET at udp_rcv+0x452 by Deployment shop/cart on eth0 (1200 drops on 3 nodes)" */
function describeRow(row: DropRow): string {
  const where = row.interface === "-" ? "" : ` on ${row.interface}`;
  if (row.workload === undefined) return `${row.reason} at ${row.symbol}${where} (${plural(row.count, "drop")})`;
  return `${row.reason} at ${row.symbol} by ${formatWorkload(row.workload)}${where} (${plural(row.count, "drop")} on ${plural(row.nodes, "node")})`;
}

/** " (and 30 more of other pods or no pod, left out by the pod filters)" */
function filteredText(input: ConditionInput): string {
  const filtered = input.filteredDrops ?? 0;
  return filtered === 0 ? "" : ` (and ${filtered} more of other pods or of no pod, left out by filter.namespaces or filter.podSelector: status.filteredDrops)`;
}

/**
 * The row a person should look at first, with its next step: the top row whose reason is not
 * usually normal, since the top row itself may be background every healthy node has.
 */
function whatToDo(input: ConditionInput): string {
  const row = input.topActionable;
  if (row !== undefined) {
    const explanation = explainDrop(row.reason);
    const advice = explanation.nextStep ?? explanation.meaning;
    return `; look first at ${describeRow(row)}: ${advice.charAt(0).toLowerCase()}${advice.slice(1)}`;
  }
  if (input.topRow !== undefined) return `; nothing to act on: every drop has a reason that is normal in small numbers, most ${describeRow(input.topRow)}`;
  return "";
}

function readyMessage(input: ConditionInput): string {
  const { counts } = input;
  switch (input.reason) {
    case REASON.waitingForAgents:
      return `waiting for the first node report; ${nodeProgress(counts)} nodes done`;
    case REASON.tracing:
      return `tracing: ${nodeProgress(counts)} nodes done, ${input.totalDrops} drops so far${filteredText(input)}`;
    case REASON.allNodesDone:
    case REASON.deadlinePassed: {
      const how = input.reason === REASON.allNodesDone ? "every node finished" : "the deadline passed before every node finished";
      return `${input.totalDrops} drops counted on ${plural(counts.completed + counts.running, "node")}${filteredText(input)}, ${how}${whatToDo(input)}`;
    }
    case REASON.allNodesFailed:
      return `no node could trace: ${describeFailures(input.failures)}`;
    case REASON.noNodesReported:
      return `no node reported before the deadline: look at the agent pods of DaemonSet ${input.daemonSet} (kubectl describe pods) for scheduling or image problems`;
    case REASON.noNodesSelected:
      return "no Linux node matches this trace's nodeSelector and tolerations: check them against kubectl get nodes --show-labels";
    case REASON.invalidSpec:
      return `the spec is invalid, nothing was started: ${input.detail ?? ""}; delete this DropTrace and apply a corrected one`;
    case REASON.agentsRefused:
      return `the API server refused the agents' DaemonSet ${input.daemonSet}, so nothing was started: ${input.detail ?? ""}`;
    case REASON.waitingForApiServer:
      return `creating the agents' DaemonSet ${input.daemonSet} failed and is retried: ${input.detail ?? ""}`;
    case REASON.agentPodsRefused:
    case REASON.agentImagePullFailed:
    case REASON.agentsUnschedulable:
    case REASON.agentsCrashing:
      return `no agent could start: ${(input.agentStart ?? []).map((p) => p.description).join("; ")}`;
    case REASON.specChanged:
      return "the spec changed after the trace started, which the API forbids; the trace was stopped: delete this DropTrace and apply a new one";
    default:
      return input.reason;
  }
}

function degraded(input: ConditionInput): ConditionSpec {
  const base = { type: CONDITION.degraded };
  if (input.reason === REASON.invalidSpec || input.reason === REASON.specChanged || input.reason === REASON.agentsRefused) {
    return { ...base, status: "False", reason: REASON.noAgents, message: "no agent ran for this trace" };
  }
  const problems: { reason: Reason; message: string }[] = [];
  for (const problem of input.agentStart ?? []) problems.push({ reason: problem.reason, message: problem.description });
  const failed = input.counts.failed;
  if (failed > 0) {
    problems.push({ reason: REASON.nodesFailing, message: `${failed} of ${plural(input.counts.desired, "node")} failed: ${describeFailures(input.failures)}` });
  }
  const early = (input.stoppedEarly ?? []).filter((n) => n.reason === REASON.probeOverload);
  if (early.length > 0) {
    // Each node's own words name its share and limit; the first few are quoted, the rest counted.
    const quoted = early.slice(0, MAX_NODES_NAMED).map((n) => `${n.node}: ${n.message}`);
    const more = early.length > quoted.length ? `; and ${early.length - quoted.length} more` : "";
    problems.push({
      reason: REASON.probeOverload,
      message: `the probe stopped itself early for its CPU cost on ${plural(early.length, "node")} (spec.maxProbeCPUPercent), their counts so far kept: ${quoted.join("; ")}${more}`,
    });
  }
  if (input.notReporting.count > 0) {
    const names = input.notReporting.names.length > 0 ? `: ${someNames(input.notReporting.names, input.notReporting.count)}` : "";
    problems.push({
      reason: REASON.nodesNotReporting,
      message: `${input.notReporting.count} of ${plural(input.counts.desired, "node")} never reported${names}`,
    });
  }
  if (input.unfinished.length > 0) {
    problems.push({
      reason: REASON.nodesNotReporting,
      message: `${plural(input.unfinished.length, "node")} had not sent a final report by the deadline: ${someNames(input.unfinished)}`,
    });
  }
  if (input.uncountedDrops > 0) {
    problems.push({ reason: REASON.dropsUncounted, message: `${input.uncountedDrops} drops were seen but not counted because a node's probe map was full` });
  }
  const first = problems[0];
  if (first === undefined) return { ...base, status: "False", reason: REASON.nodesHealthy, message: "no node has failed" };
  return { ...base, status: "True", reason: first.reason, message: problems.map((p) => p.message).join("; ") };
}

/**
 * DropsVisible: True when the kernel's counters agree with the rows and counted nothing where the
 * probe cannot see; False, saying what, when they do not; Unknown until a node's counters are read.
 */
function dropsVisible(input: ConditionInput): ConditionSpec {
  const base = { type: CONDITION.dropsVisible };
  const counters = input.kernelCounters;
  if (counters === undefined) {
    return {
      ...base,
      status: "Unknown",
      reason: REASON.countersNotRead,
      message: "no node has reported the kernel's own drop counters yet (or none could read them: see each node's report)",
    };
  }
  const on = `on ${plural(counters.nodes, "node")}`;
  const problems: { reason: Reason; message: string }[] = [];
  if (counters.unseenDrops > 0) {
    const unseen = counters.counters.filter((c) => KERNEL_COUNTERS[c.name].visibility === "unseen").map((c) => `${c.name} ${c.count}`);
    problems.push({
      reason: REASON.dropsUnseen,
      message: `the kernel counted ${counters.unseenDrops} drops the probe cannot see (${unseen.join(", ")}: in the NIC or its driver, before an skb existed), so they are in no row`,
    });
  }
  const differ = counters.checks.filter((c) => c.differ > 0);
  if (differ.length > 0) {
    problems.push({
      reason: REASON.countersDiffer,
      message: `the kernel's counters and the rows that count the same drops differ (${differ.map((c) => `${c.counter} on ${plural(c.differ, "node")}`).join(", ")}): see kernelCounters in the nodes' reports`,
    });
  }
  const first = problems[0];
  if (first !== undefined) return { ...base, status: "False", reason: first.reason, message: problems.map((p) => p.message).join("; ") };
  const agree = counters.checks.filter((c) => c.agree > 0).map((c) => c.counter);
  const partly =
    counters.partlySeenDrops > 0 ? `; ${counters.partlySeenDrops} drops were counted by interface columns that mix NIC drops with traced ones` : "";
  return {
    ...base,
    status: "True",
    reason: REASON.countersAgree,
    message: `${agree.length > 0 ? `${agree.join(", ")} agree with the rows` : "nothing to compare"} and no drop was counted out of the probe's sight ${on}${partly}`,
  };
}

export function desiredConditions(input: ConditionInput): ConditionSpec[] {
  const message = readyMessage(input);
  const active = input.phase === "Pending" || input.phase === "Running";
  const conditions: ConditionSpec[] = [
    { type: CONDITION.ready, status: input.phase === "Completed" ? "True" : "False", reason: input.reason, message },
    { type: CONDITION.progressing, status: active ? "True" : "False", reason: input.reason, message: active ? message : "the trace has ended" },
    degraded(input),
    dropsVisible(input),
  ];
  return conditions.map((c) => ({ ...c, message: c.message.slice(0, MAX_MESSAGE_LENGTH) }));
}

/**
 * The conditions to write: `desired`, each keeping the existing lastTransitionTime unless its
 * status changed, all with this generation. Conditions of other types are kept as they are.
 */
export function applyConditions(
  existing: readonly Condition[] | undefined,
  desired: readonly ConditionSpec[],
  generation: number,
  nowIso: string,
): Condition[] {
  const old = new Map((existing ?? []).map((c) => [c.type, c]));
  const result: Condition[] = desired.map((d) => {
    const before = old.get(d.type);
    const lastTransitionTime = before !== undefined && before.status === d.status ? before.lastTransitionTime : nowIso;
    return { type: d.type, status: d.status, observedGeneration: generation, lastTransitionTime, reason: d.reason, message: d.message };
  });
  const desiredTypes = new Set(desired.map((d) => d.type));
  return [...result, ...(existing ?? []).filter((c) => !desiredTypes.has(c.type))];
}
