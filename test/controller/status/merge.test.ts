import { describe, expect, it } from "vitest";
import { mergeReports, topRows } from "../../../src/controller/status/merge.js";
import { compareRows } from "../../../src/api/rows.js";
import { StringPool, toReportView } from "../../../src/controller/status/report-view.js";
import type { DropRow } from "../../../src/api/droptrace.js";
import type { RowOwner } from "../../../src/controller/status/owner-agreement.js";
import type { WorkloadRef } from "../../../src/api/attribution.js";
import { MAX_ROW_INTERFACES } from "../../../src/api/constants.js";
import { dropClass, type DropClass } from "../../../src/api/drop-explanations.js";
import { MAX_STACK_ROWS, MAX_STATUS_STACK_BYTES, type Stack } from "../../../src/api/stacks.js";
import type { ProbeCost } from "../../../src/api/probe-cost.js";
import { MAX_FLOWS_PER_ROW, type Flow } from "../../../src/api/flows.js";
import { MAX_FLOW_ROWS, MAX_STATUS_FLOW_BYTES } from "../../../src/controller/status/flow-sums.js";

const pool = new StringPool();

/** A node's report as the cache keeps it. */
function node(
  name: string,
  rows: ({
    symbol: string;
    interface?: string;
    netns?: number;
    module?: string;
    reason?: string;
    class?: DropClass;
    count: number;
    stacks?: Stack[];
    workload?: WorkloadRef;
    flows?: Flow[];
    unparsedFlows?: number;
    otherFlows?: number;
  } & RowOwner)[],
  extra: { otherDrops?: number; uncountedDrops?: number; kernelCounters?: unknown; probeCost?: ProbeCost } = {},
) {
  // Each row's class as the agent sets it, unless the test says otherwise.
  const full = rows.map((r) => ({ interface: "eth0", netns: 0, module: "kernel", reason: "NO_SOCKET", class: dropClass(r.reason ?? "NO_SOCKET"), ...r }));
  const counted = full.reduce((s, r) => s + r.count, 0);
  const result = toReportView(
    {
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTraceReport",
      metadata: { name: `t-${name}`, resourceVersion: "1" },
      spec: { trace: "t", node: name },
      status: {
        phase: "Running",
        intervals: 1,
        totalDrops: counted + (extra.otherDrops ?? 0),
        uncountedDrops: extra.uncountedDrops ?? 0,
        otherRows: extra.otherDrops === undefined ? 0 : 1,
        otherDrops: extra.otherDrops ?? 0,
        rows: full,
        ...(extra.kernelCounters === undefined ? {} : { kernelCounters: extra.kernelCounters }),
        ...(extra.probeCost === undefined ? {} : { probeCost: extra.probeCost }),
      },
    },
    pool,
  );
  if (result === undefined || result.invalid !== undefined) throw new Error(`bad test report: ${result?.invalid ?? ""}`);
  return result.view;
}

describe("merging nodes' rows", () => {
  it("sums counts across nodes per (symbol, interface, module, reason) and counts the nodes each row was seen on", () => {
    const merged = mergeReports(
      [
        node("a", [
          { symbol: "udp_rcv+0x452", count: 10 },
          { symbol: "nft_do_chain+0x2d1", module: "nf_tables", reason: "NETFILTER_DROP", count: 4 },
        ]),
        node("b", [{ symbol: "udp_rcv+0x452", count: 7 }]),
        node("c", [{ symbol: "udp_rcv+0x452", interface: "eth1", count: 1 }]),
      ],
      20,
    );
    expect(merged.drops).toEqual([
      { symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", class: "depends", count: 17, nodes: 2 },
      { symbol: "nft_do_chain+0x2d1", interface: "eth0", module: "nf_tables", reason: "NETFILTER_DROP", class: "depends", count: 4, nodes: 1 },
      { symbol: "udp_rcv+0x452", interface: "eth1", module: "kernel", reason: "NO_SOCKET", class: "depends", count: 1, nodes: 1 },
    ]);
    expect(merged.totalDrops).toBe(22);
    expect(merged.distinctRows).toBe(3);
  });

  it("drops netns: one node's rows in several namespaces are one row on one node", () => {
    const merged = mergeReports(
      [
        node("a", [
          { symbol: "udp_rcv+0x452", netns: 4026531840, count: 3 },
          { symbol: "udp_rcv+0x452", netns: 4026532001, count: 4 },
        ]),
      ],
      20,
    );
    expect(merged.drops).toEqual([{ symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", class: "depends", count: 7, nodes: 1 }]);
  });

  it("keeps the top N, counts drops beyond each node's row cap and uncounted drops in the totals", () => {
    const merged = mergeReports(
      [
        node(
          "a",
          [
            { symbol: "a", count: 5 },
            { symbol: "b", count: 4 },
            { symbol: "c", count: 3 },
          ],
          { otherDrops: 100, uncountedDrops: 9 },
        ),
        node("b", [{ symbol: "d", count: 50 }], { uncountedDrops: 1 }),
      ],
      2,
    );
    expect(merged.drops.map((d) => [d.symbol, d.count])).toEqual([
      ["d", 50],
      ["a", 5],
    ]);
    expect(merged.totalDrops).toBe(162);
    expect(merged.uncountedDrops).toBe(10);
    expect(merged.distinctRows).toBe(4);
  });

  it("orders equal counts by symbol, interface, module, reason whatever order the nodes came in", () => {
    const nodes = [
      node("a", [
        { symbol: "b_sym", count: 2 },
        { symbol: "a_sym", interface: "eth1", count: 2 },
      ]),
      node("b", [
        { symbol: "a_sym", interface: "eth0", count: 2 },
        { symbol: "a_sym", interface: "eth0", reason: "OTHERHOST", count: 2 },
      ]),
    ];
    const forward = mergeReports(nodes, 10).drops;
    const backward = mergeReports([...nodes].reverse(), 10).drops;
    expect(forward).toEqual(backward);
    expect(forward.map((d) => `${d.symbol}/${d.interface}/${d.reason}`)).toEqual([
      "a_sym/eth0/NO_SOCKET",
      "a_sym/eth0/OTHERHOST",
      "a_sym/eth1/NO_SOCKET",
      "b_sym/eth0/NO_SOCKET",
    ]);
  });

  it("classes each row by the controller's own table, whatever a report says, and unknown reasons as unknown", () => {
    const merged = mergeReports(
      [
        node("a", [
          { symbol: "skb_queue_purge_reason+0xfa", interface: "-", reason: "QUEUE_PURGE", count: 9 },
          { symbol: "neigh_invalidate+0x90", reason: "NEIGH_FAILED", class: "normal", count: 4 },
        ]),
        node("b", [{ symbol: "ovs_dp_process_packet+0x1f0", reason: "UNKNOWN_196610", count: 2 }]),
      ],
      20,
    );
    expect(merged.drops.map((d) => [d.reason, d.class])).toEqual([
      ["QUEUE_PURGE", "normal"],
      ["NEIGH_FAILED", "fault"],
      ["UNKNOWN_196610", "unknown"],
    ]);
  });

  it("finds the first row to act on among all rows, not only the top N", () => {
    const reports = [
      node("a", [
        { symbol: "skb_queue_purge_reason+0xfa", interface: "-", reason: "QUEUE_PURGE", count: 90 },
        { symbol: "tcp_rcv_state_process+0x1e2", reason: "TCP_CLOSE", count: 50 },
        { symbol: "nft_do_chain+0x2d1", module: "nf_tables", reason: "NETFILTER_DROP", count: 3 },
        { symbol: "neigh_invalidate+0x90", reason: "NEIGH_FAILED", count: 3 },
      ]),
    ];
    const merged = mergeReports(reports, 1);
    expect(merged.drops.map((d) => d.reason)).toEqual(["QUEUE_PURGE"]);
    // Equal counts: the row order decides, as it does for the top rows.
    expect(merged.topActionable).toMatchObject({ symbol: "neigh_invalidate+0x90", reason: "NEIGH_FAILED", class: "fault", count: 3 });
    expect(mergeReports([node("b", [{ symbol: "tcp_rcv_state_process+0x1e2", reason: "TCP_CLOSE", count: 5 }])], 20).topActionable).toBeUndefined();
  });

  it("selects the same top rows as a full sort", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const rows: DropRow[] = Array.from({ length: 5_000 }, (_, i) => ({
      symbol: `sym${Math.floor(random() * 300)}`,
      interface: `eth${i % 3}`,
      module: "kernel",
      reason: "NO_SOCKET",
      class: "depends",
      count: Math.floor(random() * 50),
      nodes: 1,
    }));
    for (const n of [1, 20, 200]) expect(topRows(rows, n)).toEqual([...rows].sort(compareRows).slice(0, n));
    expect(topRows(rows, 0)).toEqual([]);
  });
});

describe("merging by workload", () => {
  const cartA = { namespace: "shop", name: "cart-7d9c5b6f4-x2k9q", uid: "11111111-1111-4111-8111-111111111111" };
  const cartB = { namespace: "shop", name: "cart-7d9c5b6f4-p8s2m", uid: "22222222-2222-4222-8222-222222222222" };
  const cartC = { namespace: "shop", name: "cart-7d9c5b6f4-c4v8n", uid: "33333333-3333-4333-8333-333333333333" };
  const testCart = { namespace: "test", name: "cart-6b8d9c7f5-a1b2c", uid: "44444444-4444-4444-8444-444444444444" };
  const dbPod = { namespace: "shop", name: "db-0", uid: "55555555-5555-4555-8555-555555555555" };
  const cart = { kind: "Deployment", name: "cart" };
  const db = { kind: "StatefulSet", name: "db" };
  const inShop = (w: { kind: string; name: string }) => ({ ...w, namespace: "shop" });
  const udp = { symbol: "udp_rcv+0x452", module: "kernel", reason: "NO_SOCKET", class: "depends" } as const;
  const pod = (p: typeof cartA, workload = cart) => ({ attribution: "netns" as const, pod: p, workload });

  it("sums a workload's pods on every node into one row: Deployment cart dropped 1,200 at udp_rcv as NO_SOCKET on 3 nodes", () => {
    const merged = mergeReports(
      [
        node("a", [
          { ...udp, interface: "eth0", netns: 7, count: 300, ...pod(cartA) },
          { ...udp, interface: "eth0", netns: 9, count: 100, ...pod(cartB) },
        ]),
        node("b", [{ ...udp, interface: "eth0", netns: 7, count: 500, ...pod(cartC) }]),
        node("c", [{ ...udp, interface: "eth0", netns: 8, count: 300, ...pod(testCart) }]),
        node("d", [{ ...udp, interface: "eth0", netns: 3, count: 300, ...pod({ ...cartC, uid: "66666666-6666-4666-8666-666666666666", name: "cart-x" }) }]),
      ],
      20,
    );
    expect(merged.drops).toEqual([
      { ...udp, interface: "eth0", count: 1200, nodes: 3, workload: inShop(cart), pods: 4, attribution: "netns" },
      // The same Deployment name in another namespace is another workload.
      { ...udp, interface: "eth0", count: 300, nodes: 1, workload: { ...cart, namespace: "test" }, pods: 1, attribution: "netns", pod: testCart },
    ]);
    expect(merged.distinctRows).toBe(2);
  });

  it("names the pod where every row summed is that pod's, and keeps the interfaces it summed with their counts", () => {
    const merged = mergeReports(
      [
        node("a", [
          { ...udp, interface: "eth0", netns: 7, count: 30, ...pod(dbPod, db) },
          { ...udp, interface: "lo", netns: 7, count: 12, ...pod(dbPod, db) },
        ]),
        node("b", [{ ...udp, interface: "net1", netns: 4, count: 20, ...pod(cartB) }]),
        node("c", [{ ...udp, interface: "eth0", netns: 4, count: 15, ...pod(cartC) }]),
      ],
      20,
    );
    expect(merged.drops).toEqual([
      {
        ...udp,
        interface: "eth0",
        count: 42,
        nodes: 1,
        workload: inShop(db),
        pods: 1,
        attribution: "netns",
        pod: dbPod,
        interfaces: [
          { name: "eth0", count: 30 },
          { name: "lo", count: 12 },
        ],
      },
      {
        ...udp,
        interface: "net1",
        count: 35,
        nodes: 2,
        workload: inShop(cart),
        pods: 2,
        attribution: "netns",
        interfaces: [
          { name: "net1", count: 20 },
          { name: "eth0", count: 15 },
        ],
      },
    ]);
  });

  it(`lists at most ${MAX_ROW_INTERFACES} interfaces of a row, the largest`, () => {
    const rows = Array.from({ length: MAX_ROW_INTERFACES + 3 }, (_, i) => ({ ...udp, interface: `net${i}`, netns: 7, count: 100 - i, ...pod(cartA) }));
    const [row] = mergeReports([node("a", rows)], 20).drops;
    expect(row?.count).toBe(rows.reduce((sum, r) => sum + r.count, 0));
    expect(row?.interfaces?.map((i) => i.name)).toEqual(rows.slice(0, MAX_ROW_INTERFACES).map((r) => r.interface));
  });

  it("keeps rows no workload owns by place, interface and attribution: host lo, unknown lo, host eth0 and an older agent's rows stay apart", () => {
    const merged = mergeReports(
      [
        node("a", [
          { ...udp, interface: "lo", netns: 1, count: 5, attribution: "host" },
          { ...udp, interface: "eth0", netns: 1, count: 3, attribution: "host" },
          { ...udp, interface: "eth0", netns: 7, count: 30, ...pod(cartA) },
        ]),
        node("b", [
          { ...udp, interface: "lo", netns: 1, count: 6, attribution: "host" },
          { ...udp, interface: "lo", netns: 4026532999, count: 4, attribution: "unknown" },
          { ...udp, interface: "lo", netns: 4026532998, count: 2, attribution: "unknown" },
        ]),
        node("c", [{ ...udp, interface: "lo", count: 1 }]),
      ],
      20,
    );
    expect(merged.drops).toEqual([
      { ...udp, interface: "eth0", count: 30, nodes: 1, workload: inShop(cart), pods: 1, attribution: "netns", pod: cartA },
      { ...udp, interface: "lo", count: 11, nodes: 2, attribution: "host" },
      { ...udp, interface: "lo", count: 6, nodes: 1, attribution: "unknown" },
      { ...udp, interface: "eth0", count: 3, nodes: 1, attribution: "host" },
      { ...udp, interface: "lo", count: 1, nodes: 1 },
    ]);
    expect(merged.totalDrops).toBe(51);
  });

  it("orders equal counts the same whatever order the nodes came in, workloads included", () => {
    const nodes = [
      node("a", [{ ...udp, interface: "eth0", netns: 7, count: 5, ...pod(dbPod, db) }]),
      node("b", [
        { ...udp, interface: "eth0", netns: 7, count: 5, ...pod(cartB) },
        { ...udp, interface: "eth0", netns: 1, count: 5, attribution: "host" },
      ]),
      node("c", [{ ...udp, interface: "eth0", netns: 3, count: 5, attribution: "unknown" }]),
    ];
    const forward = mergeReports(nodes, 10);
    const backward = mergeReports([...nodes].reverse(), 10);
    expect(forward).toEqual(backward);
    // By "host", the workload as "namespace/kind/name", "unknown", in code-unit order.
    expect(forward.drops.map((d) => d.workload?.name ?? d.attribution)).toEqual(["host", "cart", "db", "unknown"]);
  });

  it("names the workload with most drops over all rows, not only the top N, equal sums by name", () => {
    const merged = mergeReports(
      [
        node("a", [
          { ...udp, interface: "lo", netns: 1, count: 100, attribution: "host" },
          { ...udp, interface: "eth0", netns: 7, count: 30, ...pod(dbPod, db) },
          { ...udp, symbol: "tcp_v4_rcv+0x1", interface: "eth0", netns: 4, count: 20, ...pod(cartA) },
          { ...udp, symbol: "tcp_v4_rcv+0x2", interface: "eth0", netns: 4, count: 20, ...pod(cartA) },
        ]),
      ],
      2,
    );
    expect(merged.drops.map((d) => d.workload?.name)).toEqual([undefined, "db"]);
    expect(merged.topWorkload).toBe("Deployment shop/cart");
    const tie = mergeReports(
      [
        node("a", [
          { ...udp, interface: "eth0", netns: 7, count: 40, ...pod(dbPod, db) },
          { ...udp, interface: "eth0", netns: 4, count: 40, ...pod(cartA) },
        ]),
      ],
      20,
    );
    expect(tie.topWorkload).toBe("Deployment shop/cart");
    expect(mergeReports([node("a", [{ ...udp, interface: "lo", netns: 1, count: 100, attribution: "host" }])], 20).topWorkload).toBeUndefined();
  });
});

describe("merging nodes' kernel counters", () => {
  const counters = (fifo: number, noPorts: number, verdict: "agree" | "differ") => ({
    netns: 4026531833,
    counters: [
      { name: "RxFifoErrors", interface: "eth0", count: fifo },
      { name: "RxFifoErrors", interface: "eth1", count: 1 },
      { name: "UdpNoPorts", count: noPorts },
    ].filter((c) => c.count > 0),
    unseenDrops: fifo + 1,
    partlySeenDrops: 0,
    checks: [{ counter: "UdpNoPorts", kernel: noPorts, traced: verdict === "agree" ? noPorts : 0, verdict, message: "m" }],
  });

  it("sums each counter over interfaces and nodes, counts the nodes it moved on, and tallies each check's verdicts", () => {
    const merged = mergeReports(
      [
        node("a", [{ symbol: "udp_rcv+0x1", count: 5 }], { kernelCounters: counters(10, 5, "agree") }),
        node("b", [{ symbol: "udp_rcv+0x1", count: 2 }], { kernelCounters: counters(0, 3, "differ") }),
        node("c", [{ symbol: "udp_rcv+0x1", count: 1 }]),
      ],
      20,
    );
    expect(merged.kernelCounters).toEqual({
      nodes: 2,
      unseenDrops: 12,
      partlySeenDrops: 0,
      counters: [
        { name: "RxFifoErrors", count: 12, nodes: 2 },
        { name: "UdpNoPorts", count: 8, nodes: 2 },
      ],
      checks: [{ counter: "UdpNoPorts", agree: 1, differ: 1, notCompared: 0 }],
    });
  });

  it("has no counters while no node has reported any", () => {
    expect(mergeReports([node("a", [{ symbol: "udp_rcv+0x1", count: 5 }])], 20).kernelCounters).toBeUndefined();
  });
});

describe("merging nodes' stacks", () => {
  const viaLo = ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0xab", "__netif_receive_skb_one_core+0x8d"];
  const viaVeth = ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0xab", "veth_poll+0x2c1 [veth]"];
  const other = ["udp_rcv+0x452", "ip_local_deliver_finish+0x7c"];
  const rare = ["udp_rcv+0x452", "ip_sublist_rcv_finish+0x3a"];

  it("sums identical stacks across nodes, keeps the 3 most frequent, and counts a node's namespaces' shared stacks once", () => {
    const merged = mergeReports(
      [
        node("a", [
          // Two namespaces' rows of one drop site and reason carry the same stacks: the node's are counted once.
          {
            symbol: "udp_rcv+0x452",
            netns: 1,
            count: 60,
            stacks: [
              { count: 90, frames: viaLo },
              { count: 10, frames: rare },
            ],
          },
          {
            symbol: "udp_rcv+0x452",
            netns: 2,
            count: 40,
            stacks: [
              { count: 90, frames: viaLo },
              { count: 10, frames: rare },
            ],
          },
        ]),
        node("b", [
          {
            symbol: "udp_rcv+0x452",
            count: 50,
            stacks: [
              { count: 30, frames: viaVeth },
              { count: 15, frames: viaLo },
              { count: 5, frames: other },
            ],
          },
        ]),
        node("c", [{ symbol: "udp_rcv+0x452", count: 8 }]),
      ],
      20,
    );
    expect(merged.drops[0]).toMatchObject({ count: 158, nodes: 3 });
    expect(merged.drops[0]?.stacks).toEqual([
      { count: 105, frames: viaLo },
      { count: 30, frames: viaVeth },
      { count: 10, frames: rare },
    ]);
  });

  it("gives stacks to the top rows only, and no stacks key to a row no node sent stacks for", () => {
    const rows = Array.from({ length: MAX_STACK_ROWS + 2 }, (_, i) => ({ symbol: `f${i}+0x1`, count: 100 - i, stacks: [{ count: 1, frames: [`f${i}+0x1`] }] }));
    const merged = mergeReports([node("a", [...rows, { symbol: "g+0x1", count: 1 }])], 50);
    expect(merged.drops.filter((d) => d.stacks !== undefined)).toHaveLength(MAX_STACK_ROWS);
    expect(merged.drops.at(-1)).not.toHaveProperty("stacks");
  });

  it("keeps the status's stacks within their byte budget however long the frames", () => {
    const long = (i: number, j: number) => Array.from({ length: 16 }, (_, k) => `${"s".repeat(500)}+0x${i}${j}${k} [${"m".repeat(64)}]`);
    const rows = Array.from({ length: MAX_STACK_ROWS }, (_, i) => ({
      symbol: `f${i}+0x1`,
      count: 100 - i,
      stacks: [0, 1, 2].map((j) => ({ count: 3 - j, frames: long(i, j) })),
    }));
    const merged = mergeReports([node("a", rows)], 50);
    const bytes = Buffer.byteLength(JSON.stringify(merged.drops.map((d) => d.stacks ?? [])));
    expect(bytes).toBeLessThan(MAX_STATUS_STACK_BYTES + 1024);
    // The top row's stacks come first: it keeps them.
    expect(merged.drops[0]?.stacks).toHaveLength(3);
  });
});

describe("merging nodes' probe cost", () => {
  const cost = (hits: number, ns: number, cpuPercent: number, notCounted = { mapFull: 0, skipped: 0, stackTableFull: 0 }): ProbeCost => ({
    hits,
    handlerNanoseconds: ns,
    elapsedNanoseconds: 60e9,
    cpus: 8,
    nanosecondsPerHit: ns / hits,
    cpuPercent,
    peakIntervalCPUPercent: cpuPercent,
    notCounted,
  });

  it("sums hits and handler time, keeps the highest share with its node, and sums what was not counted", () => {
    const merged = mergeReports(
      [
        node("a", [], { probeCost: cost(1000, 400_000, 0.01, { mapFull: 1, skipped: 2, stackTableFull: 3 }) }),
        node("b", [], { probeCost: cost(3000, 800_000, 0.2, { mapFull: 0, skipped: 5, stackTableFull: 0 }) }),
        node("c", []),
      ],
      20,
    );
    expect(merged.probeCost).toEqual({
      nodes: 2,
      hits: 4000,
      handlerNanoseconds: 1_200_000,
      nanosecondsPerHit: 300,
      cpuPercent: 0.2,
      busiestNode: "b",
      notCounted: { mapFull: 1, skipped: 7, stackTableFull: 3 },
    });
  });

  it("names the same busiest node whatever order the reports came in, and is absent before any node reported a cost", () => {
    const a = node("a", [], { probeCost: cost(10, 3000, 0.5) });
    const b = node("b", [], { probeCost: cost(10, 3000, 0.5) });
    expect(mergeReports([b, a], 20).probeCost?.busiestNode).toBe("a");
    expect(mergeReports([a, b], 20).probeCost?.busiestNode).toBe("a");
    expect(mergeReports([node("c", [])], 20).probeCost).toBeUndefined();
  });
});

describe("merging nodes' flows", () => {
  const udp = (source: string, destination: string, count: number): Flow => ({
    protocol: "UDP",
    source: { address: source, port: 5353 },
    destination: { address: destination, port: 9 },
    count,
  });
  const icmp = (source: string, destination: string, count: number): Flow => ({
    protocol: "ICMPv6",
    source: { address: source },
    destination: { address: destination },
    count,
  });
  const flowSum = (row: DropRow) => (row.flows ?? []).reduce((s, f) => s + f.count, 0) + (row.unparsedFlows ?? 0) + (row.otherFlows ?? 0);

  it("sums flows by identity across nodes, keeps the top 5, and counts the rest as other flows", () => {
    const merged = mergeReports(
      [
        node("a", [
          {
            symbol: "udp_rcv+0x452",
            count: 100,
            flows: [udp("10.0.0.1", "10.0.1.1", 40), udp("10.0.0.2", "10.0.1.1", 30), udp("10.0.0.3", "10.0.1.1", 10), icmp("fd00::1", "fd00::2", 5)],
            unparsedFlows: 10,
            otherFlows: 5,
          },
        ]),
        node("b", [
          {
            symbol: "udp_rcv+0x452",
            count: 60,
            flows: [udp("10.0.0.3", "10.0.1.1", 25), udp("10.0.0.4", "10.0.1.1", 20), udp("10.0.0.5", "10.0.1.1", 4)],
            unparsedFlows: 1,
            otherFlows: 10,
          },
        ]),
      ],
      20,
    );
    const row = merged.drops[0];
    expect(row?.flows).toEqual([
      udp("10.0.0.1", "10.0.1.1", 40),
      udp("10.0.0.3", "10.0.1.1", 35),
      udp("10.0.0.2", "10.0.1.1", 30),
      udp("10.0.0.4", "10.0.1.1", 20),
      icmp("fd00::1", "fd00::2", 5),
    ]);
    expect(row?.flows).toHaveLength(MAX_FLOWS_PER_ROW);
    expect(row?.unparsedFlows).toBe(11);
    // 5 + 10 the nodes did not list, and 4 of the flow cut from the top 5.
    expect(row?.otherFlows).toBe(19);
    expect(row === undefined ? 0 : flowSum(row)).toBe(160);
  });

  it("counts an older agent's drops as other flows of a row other nodes sent flows for, and keeps count = flows + unparsed + other on every row", () => {
    const merged = mergeReports(
      [
        node("new", [
          { symbol: "udp_rcv+0x452", count: 50, flows: [udp("10.0.0.1", "10.0.1.1", 50)], unparsedFlows: 0, otherFlows: 0 },
          { symbol: "tcp_v4_rcv+0x1a", count: 8, flows: [], unparsedFlows: 8, otherFlows: 0 },
        ]),
        node("old", [
          { symbol: "udp_rcv+0x452", count: 30 },
          { symbol: "nft_do_chain+0x2d1", count: 20 },
        ]),
      ],
      20,
    );
    const bySymbol = new Map(merged.drops.map((row) => [row.symbol, row]));
    expect(bySymbol.get("udp_rcv+0x452")).toMatchObject({ count: 80, flows: [udp("10.0.0.1", "10.0.1.1", 50)], unparsedFlows: 0, otherFlows: 30 });
    expect(bySymbol.get("tcp_v4_rcv+0x1a")).toMatchObject({ count: 8, flows: [], unparsedFlows: 8, otherFlows: 0 });
    // No node sent flows for it: the row has none of the three fields.
    const old = bySymbol.get("nft_do_chain+0x2d1");
    expect(old).toBeDefined();
    expect(old).not.toHaveProperty("flows");
    expect(old).not.toHaveProperty("unparsedFlows");
    expect(old).not.toHaveProperty("otherFlows");
    for (const row of merged.drops) if (row.flows !== undefined) expect(flowSum(row)).toBe(row.count);
  });

  it("sums one node's rows of a workload's pods into one row's flows", () => {
    const cart = { kind: "Deployment", name: "cart" };
    const podA = { namespace: "shop", name: "cart-a", uid: "11111111-1111-4111-8111-111111111111" };
    const podB = { namespace: "shop", name: "cart-b", uid: "22222222-2222-4222-8222-222222222222" };
    const merged = mergeReports(
      [
        node("a", [
          {
            symbol: "udp_rcv+0x452",
            netns: 1,
            count: 10,
            attribution: "netns",
            pod: podA,
            workload: cart,
            flows: [udp("10.0.0.9", "10.0.2.1", 10)],
            unparsedFlows: 0,
          },
          {
            symbol: "udp_rcv+0x452",
            netns: 2,
            count: 7,
            attribution: "netns",
            pod: podB,
            workload: cart,
            flows: [udp("10.0.0.9", "10.0.2.1", 6)],
            unparsedFlows: 1,
          },
        ]),
      ],
      20,
    );
    expect(merged.drops[0]).toMatchObject({ count: 17, flows: [udp("10.0.0.9", "10.0.2.1", 16)], unparsedFlows: 1, otherFlows: 0 });
  });

  it(`keeps the listed flows of a report's first ${MAX_FLOW_ROWS} rows only, counting a lower row's as other flows and keeping its unparsed ones`, () => {
    const rows = Array.from({ length: MAX_FLOW_ROWS + 1 }, (_, i) => ({
      symbol: `f${String(i).padStart(2, "0")}+0x1`,
      count: 100 - i,
      flows: [udp("10.0.0.1", "10.0.1.1", 90 - i)],
      unparsedFlows: 3,
      otherFlows: 7,
    }));
    const merged = mergeReports([node("a", rows)], 100);
    const last = merged.drops.at(-1);
    expect(merged.drops[0]).toMatchObject({ count: 100, flows: [udp("10.0.0.1", "10.0.1.1", 90)], unparsedFlows: 3, otherFlows: 7 });
    expect(last).toMatchObject({ count: 100 - MAX_FLOW_ROWS, flows: [], unparsedFlows: 3, otherFlows: 97 - MAX_FLOW_ROWS });
  });

  it("keeps the status's flows within their byte budget: lower rows list none and count them as other flows", () => {
    const long = "x".repeat(300);
    const rows = Array.from({ length: 200 }, (_, i) => ({
      symbol: `f${String(i).padStart(3, "0")}+0x1`,
      count: 1000 - i,
      flows: Array.from({ length: MAX_FLOWS_PER_ROW }, (_, k) => udp(`10.0.${k}.1`, "10.0.1.1", 10)),
      unparsedFlows: 0,
    }));
    const merged = mergeReports(
      Array.from({ length: 10 }, (_, n) => node(`n${n}`, rows.slice(n * 20, n * 20 + 20))),
      200,
      { addressName: () => long },
    );
    const bytes = Buffer.byteLength(JSON.stringify(merged.drops.map((d) => d.flows ?? [])));
    expect(bytes).toBeLessThanOrEqual(MAX_STATUS_FLOW_BYTES + 1024);
    expect(merged.drops[0]?.flows).toHaveLength(MAX_FLOWS_PER_ROW);
    const last = merged.drops.at(-1);
    expect(last).toMatchObject({ flows: [], otherFlows: last?.count });
    for (const row of merged.drops) expect(flowSum(row)).toBe(row.count);
  });

  it("names the top rows' addresses with the namer it is given, and leaves unknown addresses unnamed", () => {
    const names = new Map([
      ["10.0.0.1", "shop/cart-a"],
      ["10.96.0.10", "svc/kube-system/kube-dns"],
    ]);
    const merged = mergeReports(
      [node("a", [{ symbol: "udp_rcv+0x452", count: 3, flows: [udp("10.0.0.1", "10.96.0.10", 2), udp("10.0.0.7", "10.96.0.10", 1)] }])],
      20,
      {
        addressName: (address) => names.get(address),
      },
    );
    expect(merged.drops[0]?.flows).toEqual([
      {
        protocol: "UDP",
        source: { address: "10.0.0.1", port: 5353, name: "shop/cart-a" },
        destination: { address: "10.96.0.10", port: 9, name: "svc/kube-system/kube-dns" },
        count: 2,
      },
      {
        protocol: "UDP",
        source: { address: "10.0.0.7", port: 5353 },
        destination: { address: "10.96.0.10", port: 9, name: "svc/kube-system/kube-dns" },
        count: 1,
      },
    ]);
  });
});
