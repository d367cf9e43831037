// The parts of `kubectl droptrace` that need no cluster: rates, the tables, the live view's
// frame and lines, and the trace flags as a spec.
import { describe, expect, it } from "vitest";
import type { DropRow } from "../../src/api/droptrace.js";
import { UsageError } from "../../src/api/exit-codes.js";
import type { Trace } from "../../src/plugin/client.js";
import { liveFrame, progressLine } from "../../src/plugin/live.js";
import { renderTrace, rowsTable } from "../../src/plugin/render-trace.js";
import { traceSpec, type TraceFlags } from "../../src/plugin/spec-flags.js";
import { formatRate } from "../../src/plugin/table.js";
import { traceView, tracedSeconds } from "../../src/plugin/view.js";
import { parseThreshold } from "../../src/plugin/diff-command.js";

const START = "2026-11-25T05:48:53Z";
const startMs = Date.parse(START);

function trace(status: Trace["status"], spec: Partial<Trace["spec"]> = {}): Trace {
  return {
    apiVersion: "droptrace.io/v1alpha1",
    kind: "DropTrace",
    metadata: { name: "t" },
    spec: { duration: "60s", topN: 20, tolerations: [{ operator: "Exists" }], ...spec },
    status,
  };
}

const rows: [DropRow, DropRow] = [
  { symbol: "udp_rcv+0x452", interface: "lo", module: "kernel", reason: "NO_SOCKET", class: "depends" as const, count: 600, nodes: 2 },
  { symbol: "nft_do_chain+0x4c3", interface: "vb", module: "nf_tables", reason: "NETFILTER_DROP", class: "depends" as const, count: 120, nodes: 1 },
];

describe("the rate per second", () => {
  it("is over the time since the start while the trace runs", () => {
    const t = trace({ phase: "Running", startTime: START, drops: rows });
    expect(tracedSeconds(t, startMs + 15_000)).toBe(15);
    expect(traceView(t, startMs + 15_000).rows.map((r) => r.ratePerSecond)).toEqual([40, 8]);
  });

  it("never counts more than the duration, while the nodes' final reports come in", () => {
    expect(tracedSeconds(trace({ phase: "Running", startTime: START }), startMs + 75_000)).toBe(60);
  });

  it("is over the duration once the trace completed, whenever it ended", () => {
    const t = trace({ phase: "Completed", startTime: START, completionTime: "2026-11-25T05:49:59Z", drops: rows });
    expect(tracedSeconds(t, startMs + 3_600_000)).toBe(60);
    expect(traceView(t, startMs).rows.map((r) => r.ratePerSecond)).toEqual([10, 2]);
  });

  it("is over the time until it ended for a trace that failed early", () => {
    expect(tracedSeconds(trace({ phase: "Failed", startTime: START, completionTime: "2026-11-25T05:49:03Z" }), startMs + 3_600_000)).toBe(10);
  });

  it("is unknown before the trace started", () => {
    const t = trace({ phase: "Pending" });
    expect(tracedSeconds(t, startMs)).toBeUndefined();
    expect(traceView(t, startMs).tracedSeconds).toBeUndefined();
  });

  it.each([
    [undefined, "-"],
    [0, "0"],
    [10, "10.00"],
    [0.1167, "0.12"],
    [1 / 3600, "0.00028"],
  ])("prints %s per second as %s", (perSecond, text) => {
    expect(formatRate(perSecond)).toBe(text);
  });
});

describe("the rows table", () => {
  it("has a column for each row field that some row carries, and none for those no row carries", () => {
    expect(rowsTable(rows, { withRate: false }).split("\n")[0]).toBe("SYMBOL               MODULE      REASON           INTERFACE   CLASS     NODES   COUNT");
    // The workload and pod behind a row, where the status names them (issue 11): short, `-` where a row has none.
    const cart = { kind: "Deployment", namespace: "shop", name: "cart" };
    const [lo, vb] = rows;
    const withPods: DropRow[] = [
      { ...lo, attribution: "netns", workload: cart, pods: 1, pod: { namespace: "shop", name: "cart-7d9c5b6f4-x2k9q", uid: "u1" } },
      { ...vb, attribution: "netns", workload: { kind: "CronJob", namespace: "batch", name: "nightly" }, pods: 2 },
      { ...vb, symbol: "x+0x1", attribution: "netns", workload: { kind: "Rollout", namespace: "shop", name: "web" }, pods: 2 },
      { ...vb, symbol: "y+0x1", attribution: "host" },
    ];
    expect(rowsTable(withPods, { withRate: false }).split("\n")).toEqual([
      "SYMBOL               MODULE      REASON           INTERFACE   WORKLOAD           POD                    CLASS     NODES   COUNT",
      "udp_rcv+0x452        kernel      NO_SOCKET        lo          deploy/shop/cart   cart-7d9c5b6f4-x2k9q   depends   2       600",
      "nft_do_chain+0x4c3   nf_tables   NETFILTER_DROP   vb          cj/batch/nightly   -                      depends   1       120",
      "x+0x1                nf_tables   NETFILTER_DROP   vb          Rollout/shop/web   -                      depends   1       120",
      "y+0x1                nf_tables   NETFILTER_DROP   vb          -                  -                      depends   1       120",
    ]);
  });

  it("says when the trace keeps no more rows than it lists", () => {
    const text = renderTrace(traceView(trace({ phase: "Completed", startTime: START, completionTime: START, drops: rows }, { topN: 2 }), startMs));
    expect(text).toContain("(the top 2 rows: the trace keeps no more, see spec.topN)");
  });

  it("says what the probes cost, on the busiest node when several traced", () => {
    const probeCost = {
      nodes: 3,
      hits: 901_000,
      handlerNanoseconds: 270_300_000,
      nanosecondsPerHit: 300,
      cpuPercent: 0.0312,
      busiestNode: "worker-2",
      notCounted: { mapFull: 0, skipped: 0, stackTableFull: 0 },
    };
    const text = renderTrace(traceView(trace({ phase: "Completed", startTime: START, completionTime: START, drops: rows, probeCost }), startMs));
    expect(text).toContain(
      "\nprobe: 901,000 hits, 300 ns per hit handler time, 0.03% of CPU on the busiest node, worker-2 (handler time excludes SystemTap's own entry and exit)\n",
    );
    const quiet = renderTrace(
      traceView(trace({ phase: "Completed", startTime: START, completionTime: START, probeCost: { ...probeCost, nodes: 1 } }), startMs),
    );
    expect(quiet).toContain("no drops counted\nprobe: 901,000 hits, 300 ns per hit handler time, 0.03% of CPU (handler time");
  });

  it("lists each row's top flows under the row, with names where the status has them, and nothing for rows without flows", () => {
    const [lo, vb] = rows;
    const withFlows: DropRow[] = [
      {
        ...lo,
        attribution: "netns",
        workload: { kind: "Deployment", namespace: "shop", name: "cart" },
        flows: [
          {
            protocol: "UDP",
            source: { address: "10.1.0.5", port: 40000, name: "shop/cart-1" },
            destination: { address: "10.96.0.10", port: 53, name: "svc/kube-system/kube-dns" },
            count: 450,
          },
          { protocol: "ICMPv6", source: { address: "fd00::5" }, destination: { address: "fd00::1" }, count: 30 },
        ],
        unparsedFlows: 20,
        otherFlows: 100,
      },
      vb,
    ];
    const text = renderTrace(traceView(trace({ phase: "Completed", startTime: START, completionTime: START, drops: withFlows }), startMs));
    expect(text).toContain(
      [
        "flows behind each row, most drops first (named where the cluster knows the address):",
        "udp_rcv+0x452 NO_SOCKET on lo deploy/shop/cart:",
        "  450  UDP 10.1.0.5:40000 (shop/cart-1) -> 10.96.0.10:53 (svc/kube-system/kube-dns)",
        "   30  ICMPv6 fd00::5 -> fd00::1",
        "  (20 without a readable header, 100 in other flows)",
        "",
      ].join("\n"),
    );
    expect(text).not.toContain("nft_do_chain+0x4c3 NETFILTER_DROP on vb");
    expect(renderTrace(traceView(trace({ phase: "Completed", startTime: START, completionTime: START, drops: rows }), startMs))).not.toContain("flows behind");
  });

  it("prints a trace the controller has not seen yet", () => {
    expect(renderTrace(traceView(trace(undefined), startMs))).toBe(
      "t: waiting for the controller (no status yet), duration 1m\nnot started; duration 1m\n\nno drops counted yet\n",
    );
  });
});

describe("the live view", () => {
  const running = trace({
    phase: "Running",
    startTime: START,
    nodes: { desired: 3, pending: 0, running: 2, completed: 0, failed: 1 },
    totalDrops: 720,
    drops: rows,
    nodeSummary: [
      {
        node: "node-c",
        phase: "Failed",
        reason: "HeadersMissing",
        message: "no kernel headers at /lib/modules/7.2.13+deb14-amd64/build: install them",
        totalDrops: 0,
      },
      { node: "node-a", phase: "Running", totalDrops: 720 },
    ],
  });

  it("counts the time elapsed and left, the nodes done and the drops so far", () => {
    expect(progressLine(traceView(running, startMs + 12_000), startMs + 12_000)).toBe(
      "t Running: 12s elapsed, 48s left; 1/3 nodes done (1 failed); 720 drops so far",
    );
    expect(progressLine(traceView(running, startMs + 61_000), startMs + 61_000)).toBe(
      "t Running: 1m1s elapsed, the nodes finishing (each traces 1m from its own start); 1/3 nodes done (1 failed); 720 drops so far",
    );
  });

  it("fits its frame to the terminal: lines cut at its width, rows cut at its height", () => {
    const many = trace({
      ...running.status,
      drops: [1, 2, 3, 4, 5].map((i) => ({
        symbol: `f${i}`,
        interface: "eth0",
        module: "kernel",
        reason: "NO_SOCKET",
        class: "depends" as const,
        count: 100 - i,
        nodes: 1,
      })),
    });
    const frame = liveFrame(traceView(many, startMs + 12_000), startMs + 12_000, { columns: 60, rows: 11 });
    expect(frame.split("\n")).toEqual([
      "t Running: 12s elapsed, 48s left; 1/3 nodes done (1 fail...",
      "node-c Failed: HeadersMissing: no kernel headers at /lib...",
      "",
      "SYMBOL   MODULE   REASON      INTERFACE   CLASS     NODE...",
      "f1       kernel   NO_SOCKET   eth0        depends   1   ...",
      "f2       kernel   NO_SOCKET   eth0        depends   1   ...",
      "f3       kernel   NO_SOCKET   eth0        depends   1   ...",
      "... and 2 more rows",
      "",
      "Ctrl-C stops following; the trace goes on.",
    ]);
  });

  it("lists a few failing nodes and counts the rest", () => {
    const nodeSummary = ["n1", "n2", "n3", "n4", "n5", "n6", "n7"].map((node) => ({ node, phase: "Failed" as const, reason: "KernelLockdown", totalDrops: 0 }));
    const frame = liveFrame(traceView(trace({ ...running.status, nodeSummary }), startMs), startMs, { columns: 200, rows: 40 });
    expect(frame).toContain("n5 Failed: KernelLockdown\n... and 2 more nodes failing: `kubectl droptrace nodes t` lists them\n");
  });
});

describe("trace flags as a spec", () => {
  const flags = (more: Partial<TraceFlags>): TraceFlags => ({ selector: [], interface: [], reason: [], ...more });

  it("leaves out what was not given, so the CRD's defaults apply", () => {
    expect(traceSpec(flags({}))).toEqual({});
  });

  it("makes --node a hostname selector and merges it with --selector", () => {
    expect(traceSpec(flags({ node: "worker-1", selector: ["pool=web,zone==a", "tier=edge"] }))).toEqual({
      nodeSelector: { pool: "web", zone: "a", tier: "edge", "kubernetes.io/hostname": "worker-1" },
    });
  });

  it("passes values through for the API server to judge, and turns --ttl into seconds", () => {
    expect(
      traceSpec(
        flags({
          duration: "4s",
          reportInterval: "5s",
          interface: ["eth0", "cali*"],
          reason: ["NO_SOCKET"],
          top: "300",
          stacks: true,
          maxProbeCpuPercent: "51",
          ttl: "1h30m",
        }),
      ),
    ).toEqual({
      duration: "4s",
      reportInterval: "5s",
      filter: { interfaces: ["eth0", "cali*"], reasons: ["NO_SOCKET"] },
      topN: 300,
      stacks: true,
      maxProbeCPUPercent: 51,
      ttlSecondsAfterFinished: 5400,
    });
  });

  it.each([
    [{ selector: ["pool!=web"] }, '--selector: "pool!=web" is not key=value'],
    [{ selector: ["pool in (a,b)"] }, "--selector"],
    [{ node: "a", selector: ["kubernetes.io/hostname=b"] }, "--node a and --selector kubernetes.io/hostname=b select different nodes"],
    [{ top: "ten" }, '--top: "ten" is not a whole number'],
    [{ maxProbeCpuPercent: "5%" }, '--max-probe-cpu-percent: "5%" is not a whole number'],
    [{ ttl: "1.5h" }, '--ttl: "1.5h" is not a duration'],
  ])("refuses %j: %s", (more, message) => {
    expect(() => traceSpec(flags(more))).toThrow(UsageError);
    expect(() => traceSpec(flags(more))).toThrow(message);
  });

  it.each([
    ["20", 20],
    ["12.5%", 12.5],
  ])("reads --threshold %s", (text, value) => {
    expect(parseThreshold(text)).toBe(value);
  });

  it("refuses a threshold that is not a percentage", () => {
    expect(() => parseThreshold("-5")).toThrow("--threshold");
  });
});
