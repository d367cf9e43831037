// One line per node of a trace: from each node's DropTraceReport (its phase, drops, kernel, and
// a failed node's message, which names its fix), and from the trace's node summary for nodes
// that never wrote one (an agent pod that could not start says why there).
import type { NodeSummary } from "../api/droptrace.js";
import type { DropTraceReport } from "../api/report.js";
import { compareText } from "../api/rows.js";
import { kubectlTable } from "./table.js";

export interface NodeLine {
  node: string;
  phase: string;
  drops: number;
  kernel?: string;
  reason?: string;
  message?: string;
}

const attention = (phase: string): number => (phase === "Failed" ? 0 : phase === "NotReporting" ? 1 : 2);

export function nodeLines(reports: readonly DropTraceReport[], summary: readonly NodeSummary[]): NodeLine[] {
  const lines = new Map<string, NodeLine>();
  for (const report of reports) {
    const s = report.status;
    lines.set(report.spec.node, {
      node: report.spec.node,
      phase: s?.phase ?? "Pending",
      drops: s?.totalDrops ?? 0,
      ...(s?.kernelRelease === undefined ? {} : { kernel: s.kernelRelease }),
      ...(s?.reason === undefined ? {} : { reason: s.reason }),
      ...(s?.message === undefined ? {} : { message: s.message }),
    });
  }
  for (const n of summary) {
    if (lines.has(n.node)) continue;
    lines.set(n.node, {
      node: n.node,
      phase: n.phase,
      drops: n.totalDrops,
      ...(n.reason === undefined ? {} : { reason: n.reason }),
      ...(n.message === undefined ? {} : { message: n.message }),
    });
  }
  return [...lines.values()].sort((a, b) => attention(a.phase) - attention(b.phase) || compareText(a.node, b.node));
}

export function renderNodes(lines: readonly NodeLine[]): string {
  return `${kubectlTable(
    ["NODE", "PHASE", "DROPS", "KERNEL", "REASON", "MESSAGE"],
    lines.map((l) => [l.node, l.phase, l.drops, l.kernel ?? "", l.reason ?? "", l.message ?? ""]),
  )}\n`;
}
