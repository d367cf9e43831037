// The lines `droptrace run --output table` prints under its table: what the reasons of the top
// rows mean and what to check next, as `kubectl describe dt` shows them from a DropTrace's status.
import type { ReportRow } from "../api/report.js";
import { explanationsFor, isActionable } from "../api/drop-explanations.js";

/**
 * The distinct reasons of the top rows, in their order, each with its class, meaning and next
 * step; the first row worth acting on is always among them, even below the top reasons, as it
 * is in a DropTrace's status. No lines when there are no rows.
 */
export function explanationLines(rows: readonly Pick<ReportRow, "reason" | "class">[]): string[] {
  const firstToActOn = rows.find(isActionable)?.reason;
  const explained = explanationsFor(rows, undefined, firstToActOn);
  if (explained.length === 0) return [];
  const lines = ["", "What the top reasons mean:"];
  for (const e of explained) {
    lines.push(`${e.reason} (${e.class}): ${e.meaning}`);
    if (e.nextStep !== undefined) lines.push(`  next: ${e.nextStep}`);
  }
  return lines;
}
