// The lines `droptrace run --output table` prints under its table with --stacks: the call stacks
// behind the top rows. Stacks belong to a drop site and reason, not to an interface (api/stacks.ts),
// so they are printed once per site and reason, not under each row that shares them.
import type { ReportRow } from "../api/report.js";
import { frameText } from "../api/stacks.js";

/** No lines when no row carries stacks. */
export function stackLines(rows: readonly ReportRow[]): string[] {
  const lines: string[] = [];
  const printed = new Set<string>();
  for (const row of rows) {
    if (row.stacks === undefined || row.stacks.length === 0) continue;
    const site = `${frameText(row)} ${row.reason}`;
    if (printed.has(site)) continue;
    printed.add(site);
    const width = Math.max(...row.stacks.map((s) => String(s.count).length));
    lines.push(`${site}:`);
    for (const stack of row.stacks) {
      stack.frames.forEach((frame, i) => {
        lines.push(`  ${i === 0 ? String(stack.count).padStart(width) : " ".repeat(width)}  ${frame}`);
      });
    }
  }
  if (lines.length === 0) return [];
  return ["", "Code paths of the top rows (per drop site and reason, on any interface; count, then the dropping function and its callers):", ...lines];
}
