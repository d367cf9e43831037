// Where each node stands, from its report: counts by phase, and a short list of nodes by name
// that puts the ones needing attention first and stays the same size on any cluster.
import type { NodeSummary, Phase } from "../../api/droptrace.js";
import { MAX_NODE_SUMMARY } from "../../api/constants.js";
import { MAX_MESSAGE_LENGTH } from "./limits.js";

export interface NodeState {
  node: string;
  phase: Phase;
  reason?: string | undefined;
  message?: string | undefined;
  totalDrops: number;
}

export interface NodeCounts {
  desired: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
}

/**
 * `desiredScheduled` is the DaemonSet's status.desiredNumberScheduled once its controller has
 * counted (undefined before). Nodes it wants that have not reported yet count as pending.
 */
export function countNodes(nodes: readonly NodeState[], desiredScheduled: number | undefined): NodeCounts {
  const counts: NodeCounts = { desired: Math.max(desiredScheduled ?? 0, nodes.length), pending: 0, running: 0, completed: 0, failed: 0 };
  for (const n of nodes) {
    if (n.phase === "Pending") counts.pending += 1;
    else if (n.phase === "Running") counts.running += 1;
    else if (n.phase === "Completed") counts.completed += 1;
    else counts.failed += 1;
  }
  counts.pending += counts.desired - nodes.length;
  return counts;
}

/** "done/desired", done meaning a final report (completed or failed). */
export function nodeProgress(counts: NodeCounts): string {
  return `${counts.completed + counts.failed}/${counts.desired}`;
}

const byName = (a: { node: string }, b: { node: string }) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);

/** Failed nodes grouped by their reason, names sorted: "HeadersMissing" -> [a, b]. */
export function failuresByReason(nodes: readonly NodeState[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const n of [...nodes].sort(byName)) {
    if (n.phase !== "Failed") continue;
    const reason = n.reason ?? "Unknown";
    const names = groups.get(reason) ?? [];
    names.push(n.node);
    groups.set(reason, names);
  }
  return new Map([...groups.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1)));
}

/**
 * Nodes that completed early, with why (a Completed report with a reason: ProbeOverload), names
 * sorted: their counts are in the totals, but they traced for less time than asked.
 */
export function stoppedEarly(nodes: readonly NodeState[]): { node: string; reason: string; message: string }[] {
  return nodes
    .filter((n) => n.phase === "Completed" && n.reason !== undefined)
    .sort(byName)
    .map((n) => ({ node: n.node, reason: n.reason ?? "", message: n.message ?? "" }));
}

/** A node the trace wants that has not reported, with why where the cluster says (its agent's pod). */
export interface NotReportingNode {
  node: string;
  reason?: string | undefined;
  message?: string | undefined;
}

/**
 * At most `limit` nodes: failing first, then those that stopped early, then those that never
 * reported, then the rest by drops counted (most first); `omitted` says how many were left out.
 */
export function summarizeNodes(
  nodes: readonly NodeState[],
  notReporting: readonly NotReportingNode[],
  limit: number = MAX_NODE_SUMMARY,
): { nodeSummary: NodeSummary[]; omitted: number } {
  const failed = nodes.filter((n) => n.phase === "Failed").sort(byName);
  const early = new Set(stoppedEarly(nodes).map((n) => n.node));
  const stopped = nodes.filter((n) => early.has(n.node)).sort(byName);
  const seen = new Set<string>();
  const silent = [...notReporting]
    .filter((n) => !seen.has(n.node) && seen.add(n.node))
    .sort(byName)
    .map((n): NodeState => ({ node: n.node, phase: "Pending", reason: n.reason, message: n.message, totalDrops: 0 }));
  const rest = nodes.filter((n) => n.phase !== "Failed" && !early.has(n.node)).sort((a, b) => b.totalDrops - a.totalDrops || byName(a, b));
  const ordered: NodeSummary[] = [
    ...failed.map((n) => entry(n, n.phase)),
    ...stopped.map((n) => entry(n, n.phase)),
    ...silent.map((n) => entry(n, "NotReporting")),
    ...rest.map((n) => entry(n, n.phase)),
  ];
  const nodeSummary = ordered.slice(0, limit);
  return { nodeSummary, omitted: ordered.length - nodeSummary.length };
}

function entry(n: NodeState, phase: NodeSummary["phase"]): NodeSummary {
  return {
    node: n.node,
    phase,
    ...(n.reason === undefined ? {} : { reason: n.reason.slice(0, 128) }),
    ...(n.message === undefined || n.message === "" ? {} : { message: n.message.slice(0, MAX_MESSAGE_LENGTH) }),
    totalDrops: n.totalDrops,
  };
}
