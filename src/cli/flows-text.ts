// The lines `droptrace run --output table` prints under its table: the flows behind the top rows,
// each row's most frequent ones with their drops, and what could not be told apart.
import type { ReportRow } from "../api/report.js";
import { formatFlow } from "../api/flows.js";

/** Rows whose flows are printed: the top ones. */
export const FLOW_LINE_ROWS = 10;

/** No lines when no row carries flows. */
export function flowLines(rows: readonly ReportRow[], maxRows: number = FLOW_LINE_ROWS): string[] {
  const lines: string[] = [];
  rows.slice(0, maxRows).forEach((row, index) => {
    if (row.flows === undefined) return;
    const counts = [...row.flows.map((f) => f.count), row.unparsedFlows ?? 0, row.otherFlows ?? 0];
    const width = Math.max(...counts.map((c) => String(c).length));
    lines.push(`#${index + 1} ${row.symbol} ${row.interface} ${row.reason}:`);
    for (const flow of row.flows) lines.push(`  ${String(flow.count).padStart(width)}  ${formatFlow(flow)}`);
    if ((row.unparsedFlows ?? 0) > 0) lines.push(`  ${String(row.unparsedFlows).padStart(width)}  (no IP header the probe could read)`);
    if ((row.otherFlows ?? 0) > 0) lines.push(`  ${String(row.otherFlows).padStart(width)}  (other flows)`);
  });
  if (lines.length === 0) return [];
  return ["", "Flows of the top rows (count, protocol, source -> destination):", ...lines];
}
