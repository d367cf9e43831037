// Tables as kubectl prints them: upper-case headers, columns padded and three spaces apart, no
// borders, nothing after a line's last cell. cli-table3 measures the cells (wide characters too).
import Table from "cli-table3";

const NO_BORDERS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "",
};

export type Cell = string | number;

/** The table's lines, without a trailing newline. */
export function kubectlTable(head: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const table = new Table({ head: [...head], chars: NO_BORDERS, style: { head: [], border: [], "padding-left": 0, "padding-right": 3 } });
  for (const row of rows) table.push(row.map(String));
  return table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
}

/** Drops per second as a person reads it: two decimals, or two significant digits below 0.01. */
export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined) return "-";
  if (perSecond === 0) return "0";
  return perSecond >= 0.01 ? perSecond.toFixed(2) : perSecond.toPrecision(2);
}
