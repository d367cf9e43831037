// `kubectl droptrace diff`: two traces compared by rate per second. Trace A holds the fixture
// boot's real rows (test/trace/stand-ins.ts FIXTURE_ROWS) over 60 s; trace B, half as long, has
// known changes to them: one row the same rate in half the time, one gone, one three times the
// rate, one a third, one exactly the threshold up, one a little down, one new.
import { describe, expect, it } from "vitest";
import type { DropRow } from "../../src/api/droptrace.js";
import { diffTraces, renderDiff } from "../../src/plugin/diff.js";
import type { TraceView } from "../../src/plugin/view.js";
import { FIXTURE_ROWS } from "../trace/stand-ins.js";

function view(name: string, rows: DropRow[], seconds: number, topN = 20): TraceView {
  return {
    name,
    phase: "Completed",
    durationSeconds: seconds,
    topN,
    tracedSeconds: seconds,
    totalDrops: rows.reduce((sum, r) => sum + r.count, 0),
    uncountedDrops: 0,
    rows,
    nodeSummary: [],
    nodeSummaryOmitted: 0,
    conditions: [],
  };
}

const before: DropRow[] = FIXTURE_ROWS.map(({ netns: _netns, ...row }) => ({ ...row, nodes: 1 }));
const counted = (symbol: string, iface: string, count: number): DropRow => {
  const row = before.find((r) => r.symbol === symbol && r.interface === iface);
  if (row === undefined) throw new Error(`no row ${symbol} ${iface} in the fixture`);
  return { ...row, count };
};
const after: DropRow[] = [
  counted("udp_rcv+0x452", "lo", 150), // 300 in 60 s, 150 in 30 s: the same 5/s
  // udp_rcv+0x452 vb: gone (190 in 60 s)
  counted("neigh_invalidate+0x90", "va", 60), // 40/60 to 60/30: three times
  counted("veth_xmit+0x1c3", "va", 3), // 7/60 to 3/30: -14%, under the threshold
  counted("ip6_mc_input+0x18c", "vb", 1), // 6/60 to 1/30: a third
  counted("ip6_mc_input+0x18c", "va", 3), // 5/60 to 3/30: +20% exactly, not more than the threshold
  // __tcf_kfree_skb_list+0x62 va: gone (3 in 60 s)
  { symbol: "nft_do_chain+0x4c3", interface: "vb", module: "nf_tables", reason: "NETFILTER_DROP", class: "depends", count: 120, nodes: 1 }, // new: 4/s
];

describe("diff of two traces", () => {
  const diff = diffTraces(view("before-fix", before, 60), view("after-fix", after, 30), 60, 30, 20);

  it("finds each known change, by rate per second, largest first", () => {
    expect(diff.rows.map((r) => [r.change, r.symbol, r.interface, r.rateA, r.rateB, r.deltaPerSecond, r.deltaPercent])).toEqual([
      ["new", "nft_do_chain+0x4c3", "vb", 0, 4, 4, undefined],
      ["gone", "udp_rcv+0x452", "vb", 3.1667, 0, -3.1667, -100],
      ["grown", "neigh_invalidate+0x90", "va", 0.6667, 2, 1.3333, 200],
      ["shrunk", "ip6_mc_input+0x18c", "vb", 0.1, 0.0333, -0.0667, -67],
      ["gone", "__tcf_kfree_skb_list+0x62", "va", 0.05, 0, -0.05, -100],
    ]);
    // udp_rcv lo (same rate in half the time), veth_xmit (-14%), ip6_mc_input va (+20%, not more)
    expect(diff.unchanged).toBe(3);
  });

  it("prints them as a table, with the two traces named", () => {
    expect(renderDiff(diff)).toBe(
      [
        "A: before-fix (Completed, 1m traced, 7 rows)",
        "B: after-fix (Completed, 30s traced, 6 rows)",
        "",
        "CHANGE   SYMBOL                      MODULE      REASON           INTERFACE   A/S    B/S    DELTA/S",
        "new      nft_do_chain+0x4c3          nf_tables   NETFILTER_DROP   vb          0      4.00   +4.00",
        "gone     udp_rcv+0x452               kernel      NO_SOCKET        vb          3.17   0      -3.17",
        "grown    neigh_invalidate+0x90       kernel      NEIGH_FAILED     va          0.67   2.00   +1.33 (+200%)",
        "shrunk   ip6_mc_input+0x18c          kernel      NOT_SPECIFIED    vb          0.10   0.03   -0.07 (-67%)",
        "gone     __tcf_kfree_skb_list+0x62   kernel      QDISC_DROP       va          0.05   0      -0.05",
        "",
        "3 rows in both changed by 20% or less and are not listed.",
        "",
      ].join("\n"),
    );
  });

  it("lists a row that changed by the threshold once the threshold is lower", () => {
    const lower = diffTraces(view("before-fix", before, 60), view("after-fix", after, 30), 60, 30, 19);
    expect(lower.rows.find((r) => r.symbol === "ip6_mc_input+0x18c" && r.interface === "va")).toMatchObject({ change: "grown", deltaPercent: 20 });
  });

  it("bounds the rate of a row missing from a trace that kept only its top rows", () => {
    // B keeps its top 3 rows: a row of A that B does not list may be below B's lowest rate (veth_xmit's 3 in 30 s).
    const top3 = diffTraces(view("before-fix", before, 60), view("after-fix", after.slice(0, 3), 30, 3), 60, 30, 20);
    const gone = top3.rows.find((r) => r.symbol === "ip6_mc_input+0x18c" && r.interface === "vb");
    expect(gone).toMatchObject({ change: "gone", rateA: 0.1, atMostB: 0.1 });
    expect(renderDiff(top3)).toMatch(/gone +ip6_mc_input\+0x18c +kernel +NOT_SPECIFIED +vb +0\.10 +<=0\.10 +-0\.10\n/);
    expect(renderDiff(top3)).toContain("A trace that kept only its top rows (spec.topN) may have had a row it does not list");
  });

  it("says so when nothing changed beyond the threshold", () => {
    const same = diffTraces(view("a", before, 60), view("b", before, 60), 60, 60, 20);
    expect(renderDiff(same)).toContain("no row changed by more than 20% in drops per second (7 rows in both)");
  });
});

describe("diff of rows by workload", () => {
  it("keeps two workloads' rows at one place apart, and names each workload", () => {
    const place = { symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", class: "depends" as const, nodes: 2 };
    const cart = { kind: "Deployment", namespace: "shop", name: "cart" };
    const db = { kind: "StatefulSet", namespace: "shop", name: "db" };
    const a = view(
      "a",
      [
        { ...place, workload: cart, count: 600 },
        { ...place, workload: db, count: 60 },
      ],
      60,
    );
    const b = view("b", [{ ...place, workload: cart, count: 600 }], 60);
    const diff = diffTraces(a, b, 60, 60, 20);
    expect(diff.rows.map((r) => [r.change, r.workload?.name, r.rateA, r.rateB])).toEqual([["gone", "db", 1, 0]]);
    expect(diff.unchanged).toBe(1);
    expect(renderDiff(diff)).toContain(
      "CHANGE   SYMBOL          MODULE   REASON      INTERFACE   WORKLOAD      A/S    B/S   DELTA/S\ngone     udp_rcv+0x452   kernel   NO_SOCKET   eth0        sts/shop/db   1.00   0     -1.00",
    );
  });
});
