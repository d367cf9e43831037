// One row order and one row identity for the agent's accumulator, its carry-over across restarts,
// and the controller's merge: equal counts list the same way wherever they are sorted.
import { describe, expect, it } from "vitest";
import { compareRows, nodeRowKey, rowKey } from "../../src/api/rows.js";
import type { DropTraceReportStatus, ReportRow } from "../../src/api/report.js";
import { carryOver } from "../../src/agent/carry-over.js";
import { DropAccumulator } from "../../src/trace/accumulator.js";
import { mergeReports } from "../../src/controller/status/merge.js";
import { StringPool, toReportView } from "../../src/controller/status/report-view.js";

// Upper case, underscore and lower case: code-unit order puts them T < _ < t; an ICU locale
// compare ignores case and punctuation first and gives another order.
const SYMBOLS = ["tcp_v4+0x1", "_skb+0x1", "Tcp_x+0x1"];
const CODE_UNIT_ORDER = ["Tcp_x+0x1", "_skb+0x1", "tcp_v4+0x1"];

const row = (symbol: string, count = 7, netns = 0): ReportRow => ({
  symbol,
  interface: "eth0",
  netns,
  module: "kernel",
  reason: "NO_SOCKET",
  class: "depends",
  count,
});

function status(rows: ReportRow[]): DropTraceReportStatus {
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  return { phase: "Running", intervals: 1, totalDrops: total, uncountedDrops: 0, otherRows: 0, otherDrops: 0, rows };
}

describe("the row order", () => {
  it("is code-unit order on ties, whatever the locale would say", () => {
    expect(
      SYMBOLS.map((s) => row(s))
        .sort(compareRows)
        .map((r) => r.symbol),
    ).toEqual(CODE_UNIT_ORDER);
    expect([...SYMBOLS].sort((a, b) => a.localeCompare(b))).not.toEqual(CODE_UNIT_ORDER);
  });

  it("is the same in the accumulator, in a restarted agent's carried-over report and in the controller's merge", () => {
    const accumulator = new DropAccumulator(
      { symbolize: (address) => ({ symbol: SYMBOLS[Number(address)] ?? "?", module: "kernel" }) },
      { reasonName: () => "NO_SOCKET" },
    );
    for (const [i] of SYMBOLS.entries()) accumulator.addRow({ kind: "row", count: 7, location: String(i), interface: "eth0", netns: 0, reason: 2 });
    const fromAccumulator = accumulator.snapshot(10).rows.map((r) => r.symbol);
    const carried = carryOver(status([row(SYMBOLS[0] ?? "")]), status(SYMBOLS.slice(1).map((s) => row(s))), 10).rows.map((r) => r.symbol);
    const report = {
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTraceReport",
      metadata: { name: "t-n" },
      spec: { trace: "t", node: "n" },
      status: status(SYMBOLS.map((s) => row(s))),
    };
    const view = toReportView(report, new StringPool())?.view;
    if (view === undefined) throw new Error("no view");
    const merged = mergeReports([view], 10).drops.map((r) => r.symbol);
    expect({ fromAccumulator, carried, merged }).toEqual({ fromAccumulator: CODE_UNIT_ORDER, carried: CODE_UNIT_ORDER, merged: CODE_UNIT_ORDER });
  });
});

describe("the row identity", () => {
  it("tells two pods' eth0 apart on a node, and makes them one row across nodes", () => {
    expect(nodeRowKey(row("a", 1, 1))).not.toBe(nodeRowKey(row("a", 1, 2)));
    expect(rowKey(row("a", 1, 1))).toBe(rowKey(row("a", 1, 2)));
  });
});
