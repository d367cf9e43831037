// A trace as text: the headline, the merged rows (wider than `kubectl describe dt`: with each
// row's rate), the node summary and the conditions. `get` prints it, and `trace` at the end.
import { formatDuration } from "../api/duration.js";
import { formatRate, kubectlTable, type Cell } from "./table.js";
import { hasEnded, type RatedRow, type TraceView } from "./view.js";
import type { DropRow } from "../api/droptrace.js";
import { probeCostLine } from "../api/probe-cost.js";
import type { WorkloadIdentity } from "../api/attribution.js";
import { formatFlow } from "../api/flows.js";

/** kubectl's short names for the kinds a workload usually is; any other kind is shown whole. */
const SHORT_KINDS: Readonly<Record<string, string>> = {
  Deployment: "deploy",
  StatefulSet: "sts",
  DaemonSet: "ds",
  ReplicaSet: "rs",
  Job: "job",
  CronJob: "cj",
  Pod: "pod",
};

/** "deploy/shop/cart": kind, namespace and name, short as kubectl's resource names. */
export function shortWorkload(workload: WorkloadIdentity): string {
  return `${SHORT_KINDS[workload.kind] ?? workload.kind}/${workload.namespace}/${workload.name}`;
}

/**
 * Row fields other parts of droptrace add (the workload and pod a drop belongs to; whether the
 * drop's reason is usually normal, api/drop-explanations.ts): a column each, shown only when
 * some row carries it. The pod is named without its namespace, which the workload shows.
 */
const OPTIONAL_ROW_COLUMNS: readonly (readonly [string, (row: RatedRow) => string | undefined])[] = [
  ["WORKLOAD", (row) => (row.workload === undefined ? undefined : shortWorkload(row.workload))],
  ["POD", (row) => row.pod?.name],
  ["CLASS", (row) => row.class],
];

/** The rows as a table; `withRate` adds RATE/S (the live view leaves it out: it changes every second). */
export function rowsTable(rows: readonly RatedRow[], options: { withRate: boolean }): string {
  const optional = OPTIONAL_ROW_COLUMNS.filter(([, value]) => rows.some((row) => value(row) !== undefined));
  const head = ["SYMBOL", "MODULE", "REASON", "INTERFACE", ...optional.map(([title]) => title), "NODES", "COUNT", ...(options.withRate ? ["RATE/S"] : [])];
  const body = rows.map((row): Cell[] => [
    row.symbol,
    row.module,
    row.reason,
    row.interface,
    ...optional.map(([, value]) => value(row) ?? "-"),
    row.nodes,
    row.count,
    ...(options.withRate ? [formatRate(row.ratePerSecond)] : []),
  ]);
  return kubectlTable(head, body);
}

/**
 * Each row's top flows (issue 11: who is dropping), under the row they belong to, with the drops
 * of the row whose packet had no readable header and those in flows not listed. Nothing for
 * rows without flows (agents older than flows).
 */
export function flowsSection(rows: readonly DropRow[]): string[] {
  const withFlows = rows.filter((row) => row.flows !== undefined);
  if (withFlows.length === 0) return [];
  const lines = ["flows behind each row, most drops first (named where the cluster knows the address):"];
  for (const row of withFlows) {
    const owner = row.workload === undefined ? "" : ` ${shortWorkload(row.workload)}`;
    lines.push(`${row.symbol} ${row.reason} on ${row.interface}${owner}:`);
    const counts = (row.flows ?? []).map((flow) => String(flow.count));
    const width = Math.max(0, ...counts.map((c) => c.length));
    for (const flow of row.flows ?? []) lines.push(`  ${String(flow.count).padStart(width)}  ${formatFlow(flow)}`);
    const rest = [
      ...((row.unparsedFlows ?? 0) > 0 ? [`${row.unparsedFlows ?? 0} without a readable header`] : []),
      ...((row.otherFlows ?? 0) > 0 ? [`${row.otherFlows ?? 0} in other flows`] : []),
    ];
    if (rest.length > 0) lines.push(`  (${rest.join(", ")})`);
  }
  return lines;
}

export function nodeDone(view: TraceView): string {
  const nodes = view.nodes;
  if (nodes === undefined || nodes.desired === 0) return hasEnded(view.phase) ? "no node was scheduled" : "no nodes scheduled yet";
  const failed = nodes.failed > 0 ? ` (${nodes.failed} failed)` : "";
  return `${nodes.completed + nodes.failed}/${nodes.desired} nodes done${failed}`;
}

function headline(view: TraceView): string {
  if (view.phase === undefined) return `${view.name}: waiting for the controller (no status yet), duration ${formatDuration(view.durationSeconds)}`;
  // A rate once nodes count: not while their agents start, nor for a trace that failed at once.
  const seconds = view.tracedSeconds;
  const over =
    view.phase === "Pending" || seconds === undefined || seconds <= 0 ? "" : ` in ${formatDuration(seconds)} (${formatRate(view.totalDrops / seconds)}/s)`;
  return `${view.name}: ${view.phase}, ${nodeDone(view)}, ${view.totalDrops} drops${over}`;
}

function times(view: TraceView): string {
  if (view.startTime === undefined) return `not started; duration ${formatDuration(view.durationSeconds)}`;
  if (view.completionTime !== undefined) return `started ${view.startTime}, ended ${view.completionTime}; duration ${formatDuration(view.durationSeconds)}`;
  return `started ${view.startTime}; duration ${formatDuration(view.durationSeconds)}`;
}

function rowsSection(view: TraceView): string[] {
  const cost = view.probeCost === undefined ? [] : [probeCostLine(view.probeCost, view.probeCost.nodes)];
  if (view.rows.length === 0) return [hasEnded(view.phase) ? "no drops counted" : "no drops counted yet", ...cost];
  const lines = [rowsTable(view.rows, { withRate: true })];
  if (view.rows.length >= view.topN) lines.push(`(the top ${view.topN} rows: the trace keeps no more, see spec.topN)`);
  if (view.uncountedDrops > 0) lines.push(`${view.uncountedDrops} more drops not counted in any row: a node's probe map was full`);
  const flows = flowsSection(view.rows);
  return [...lines, ...cost, ...(flows.length === 0 ? [] : ["", ...flows])];
}

export function nodesSection(view: TraceView): string[] {
  if (view.nodeSummary.length === 0) return [];
  const table = kubectlTable(
    ["NODE", "PHASE", "DROPS", "REASON", "MESSAGE"],
    view.nodeSummary.map((n) => [n.node, n.phase, n.totalDrops, n.reason ?? "", n.message ?? ""]),
  );
  const more = view.nodeSummaryOmitted > 0 ? [`... and ${view.nodeSummaryOmitted} more nodes: \`kubectl droptrace nodes ${view.name}\` lists each`] : [];
  return [table, ...more];
}

function conditionsSection(view: TraceView): string[] {
  if (view.conditions.length === 0) return [];
  return [
    kubectlTable(
      ["CONDITION", "STATUS", "REASON", "MESSAGE"],
      view.conditions.map((c) => [c.type, c.status, c.reason, c.message]),
    ),
  ];
}

/** The whole trace, ending in a newline. */
export function renderTrace(view: TraceView): string {
  const sections = [[headline(view), times(view)], rowsSection(view), nodesSection(view), conditionsSection(view)].filter((s) => s.length > 0);
  return `${sections.map((s) => s.join("\n")).join("\n\n")}\n`;
}
