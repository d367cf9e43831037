import { describe, expect, it } from "vitest";
import { DropTraceStatusSchema, type DropRow } from "../../../src/api/droptrace.js";
import { applyConditions, desiredConditions, type ConditionInput } from "../../../src/controller/status/conditions.js";
import { REASON } from "../../../src/api/conditions.js";
import { failuresByReason, type NodeState } from "../../../src/controller/status/node-states.js";
import { buildStatus, EMPTY_MERGE, sameStatus, type StatusInput } from "../../../src/controller/status/status.js";
import { DROP_EXPLANATIONS, MAX_EXPLAINED_REASONS } from "../../../src/api/drop-explanations.js";
import { KNOWN_DROP_REASONS } from "../../../src/api/drop-reasons.js";
import { MAX_STACK_FRAMES, MAX_STATUS_STACK_BYTES, stacksOnTopRows } from "../../../src/api/stacks.js";

const T0 = Date.parse("2026-03-01T10:00:00Z");
const failed = (node: string, reason: string): NodeState => ({ node, phase: "Failed", reason, totalDrops: 0 });
const NO_SOCKET_ROW: DropRow = { symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", class: "depends", count: 5, nodes: 1 };

function input(over: Partial<StatusInput> = {}): StatusInput {
  return {
    current: undefined,
    generation: 1,
    outcome: { phase: "Running", reason: REASON.tracing },
    nodes: [{ node: "a", phase: "Running", totalDrops: 5 }],
    counts: { desired: 2, pending: 1, running: 1, completed: 0, failed: 0 },
    merged: { drops: [NO_SOCKET_ROW], totalDrops: 5, uncountedDrops: 0, distinctRows: 1, topActionable: NO_SOCKET_ROW },
    notReporting: { count: 0, names: [] },
    startTime: "2026-03-01T09:59:00Z",
    nowMs: T0,
    daemonSet: "droptrace-system/droptrace-t",
    ...over,
  };
}

describe("conditions", () => {
  it("keep lastTransitionTime while their status stays, even as reason and message change", () => {
    const first = applyConditions(undefined, [{ type: "Ready", status: "False", reason: "WaitingForAgents", message: "waiting" }], 1, "2026-03-01T10:00:00Z");
    const second = applyConditions(first, [{ type: "Ready", status: "False", reason: "Tracing", message: "tracing" }], 2, "2026-03-01T10:05:00Z");
    expect(second).toEqual([
      { type: "Ready", status: "False", observedGeneration: 2, lastTransitionTime: "2026-03-01T10:00:00Z", reason: "Tracing", message: "tracing" },
    ]);
    const third = applyConditions(second, [{ type: "Ready", status: "True", reason: "AllNodesDone", message: "done" }], 2, "2026-03-01T10:09:00Z");
    expect(third[0]?.lastTransitionTime).toBe("2026-03-01T10:09:00Z");
  });

  it("keep conditions of other types someone else set", () => {
    const other = { type: "example.com/Audited", status: "True" as const, lastTransitionTime: "2026-01-01T00:00:00Z", reason: "Checked", message: "" };
    expect(applyConditions([other], [{ type: "Ready", status: "False", reason: "Tracing", message: "" }], 1, "2026-03-01T10:00:00Z")).toContainEqual(other);
  });

  it("name failing nodes by reason, a few at most, and say how many more", () => {
    const nodes = ["n1", "n2", "n3", "n4", "n5", "n6", "n7"].map((n) => failed(n, "HeadersMissing"));
    const base: ConditionInput = {
      phase: "Running",
      reason: REASON.tracing,
      counts: { desired: 10, pending: 0, running: 3, completed: 0, failed: 7 },
      failures: failuresByReason([...nodes, failed("x", "CompileFailed")]),
      notReporting: { count: 0, names: [] },
      unfinished: [],
      totalDrops: 0,
      uncountedDrops: 12,
      topRow: undefined,
      topActionable: undefined,
      daemonSet: "ns/ds",
    };
    const degraded = desiredConditions(base).find((c) => c.type === "Degraded");
    expect(degraded).toEqual({
      type: "Degraded",
      status: "True",
      reason: "NodesFailing",
      message:
        "7 of 10 nodes failed: HeadersMissing on 7 (n1, n2, n3, n4, n5 and 2 more); CompileFailed on 1 (x); 12 drops were seen but not counted because a node's probe map was full",
    });
  });
});

describe("a node whose probe stopped itself for its CPU cost", () => {
  const overloaded = (node: string, percent: string): NodeState => ({
    node,
    phase: "Completed",
    reason: REASON.probeOverload,
    message: `the probe used ${percent} of the node's CPU (limit 5%, spec.maxProbeCPUPercent): stopped after 41 s; counts so far are kept`,
    totalDrops: 300,
  });

  it("makes the trace Degraded with reason ProbeOverload, quoting the node's share and limit, while its counts stay in the totals", () => {
    const status = buildStatus(
      input({
        outcome: { phase: "Completed", reason: REASON.allNodesDone },
        nodes: [overloaded("b", "7.3%"), { node: "a", phase: "Completed", totalDrops: 5 }],
        counts: { desired: 2, pending: 0, running: 0, completed: 2, failed: 0 },
        merged: { drops: [NO_SOCKET_ROW], totalDrops: 305, uncountedDrops: 0, distinctRows: 1, topActionable: NO_SOCKET_ROW },
      }),
    );
    expect(status.phase).toBe("Completed");
    expect(status.totalDrops).toBe(305);
    expect(status.conditions?.find((c) => c.type === "Degraded")).toMatchObject({
      status: "True",
      reason: "ProbeOverload",
      message:
        "the probe stopped itself early for its CPU cost on 1 node (spec.maxProbeCPUPercent), their counts so far kept: " +
        "b: the probe used 7.3% of the node's CPU (limit 5%, spec.maxProbeCPUPercent): stopped after 41 s; counts so far are kept",
    });
    // Listed before the nodes that traced to the end, with its reason and words.
    expect(status.nodeSummary?.[0]).toMatchObject({ node: "b", phase: "Completed", reason: "ProbeOverload", totalDrops: 300 });
  });

  it("comes after failing nodes in Degraded and in the node summary, and quotes a few nodes at most", () => {
    const early = ["n1", "n2", "n3", "n4", "n5", "n6", "n7"].map((n) => overloaded(n, "9.0%"));
    const status = buildStatus(
      input({
        nodes: [...early, failed("x", "HeadersMissing")],
        counts: { desired: 8, pending: 0, running: 0, completed: 7, failed: 1 },
      }),
    );
    const degraded = status.conditions?.find((c) => c.type === "Degraded");
    expect(degraded?.reason).toBe("NodesFailing");
    expect(degraded?.message).toContain("; the probe stopped itself early for its CPU cost on 7 nodes (spec.maxProbeCPUPercent)");
    expect(degraded?.message).toContain("n5: the probe used 9.0%");
    expect(degraded?.message).toMatch(/; and 2 more$/);
    expect(status.nodeSummary?.map((n) => n.node).slice(0, 3)).toEqual(["x", "n1", "n2"]);
  });
});

describe("DropsVisible", () => {
  const visible = (kernelCounters: ConditionInput["kernelCounters"]) =>
    desiredConditions({
      phase: "Completed",
      reason: REASON.allNodesDone,
      counts: { desired: 2, pending: 0, running: 0, completed: 2, failed: 0 },
      failures: new Map(),
      notReporting: { count: 0, names: [] },
      unfinished: [],
      totalDrops: 10,
      uncountedDrops: 0,
      topRow: undefined,
      topActionable: undefined,
      daemonSet: "ns/ds",
      ...(kernelCounters === undefined ? {} : { kernelCounters }),
    }).find((c) => c.type === "DropsVisible");
  const sums = (over: Partial<NonNullable<ConditionInput["kernelCounters"]>> = {}): NonNullable<ConditionInput["kernelCounters"]> => ({
    nodes: 2,
    unseenDrops: 0,
    partlySeenDrops: 0,
    counters: [{ name: "UdpNoPorts", count: 10, nodes: 2 }],
    checks: [{ counter: "UdpNoPorts", agree: 2, differ: 0, notCompared: 0 }],
    ...over,
  });

  it("is True when every check agrees and nothing was counted out of the probe's sight", () => {
    expect(visible(sums())).toEqual({
      type: "DropsVisible",
      status: "True",
      reason: "CountersAgree",
      message: "UdpNoPorts agree with the rows and no drop was counted out of the probe's sight on 2 nodes",
    });
  });

  it("is False and names the counters when the kernel counted drops the probe cannot see", () => {
    const got = visible(sums({ unseenDrops: 7, counters: [{ name: "RxFifoErrors", count: 7, nodes: 1 }] }));
    expect(got).toMatchObject({ status: "False", reason: "DropsUnseen" });
    expect(got?.message).toBe(
      "the kernel counted 7 drops the probe cannot see (RxFifoErrors 7: in the NIC or its driver, before an skb existed), so they are in no row",
    );
  });

  it("is False when a check differs on a node, and Unknown before any node read its counters", () => {
    expect(visible(sums({ checks: [{ counter: "UdpNoPorts", agree: 1, differ: 1, notCompared: 0 }] }))).toMatchObject({
      status: "False",
      reason: "CountersDiffer",
      message: "the kernel's counters and the rows that count the same drops differ (UdpNoPorts on 1 node): see kernelCounters in the nodes' reports",
    });
    expect(visible(undefined)).toMatchObject({ status: "Unknown", reason: "CountersNotRead" });
  });
});

describe("the status", () => {
  it("is equal to the one before when nothing changed, so nothing is written", () => {
    const first = buildStatus(input());
    const again = buildStatus(input({ current: first, nowMs: T0 + 60_000 }));
    expect(sameStatus(first, again)).toBe(true);
    expect(again.conditions?.[0]?.lastTransitionTime).toBe("2026-03-01T10:00:00Z");
  });

  it("has every field status readers rely on", () => {
    expect(buildStatus(input())).toEqual({
      phase: "Running",
      observedGeneration: 1,
      startTime: "2026-03-01T09:59:00Z",
      conditions: [
        {
          type: "Ready",
          status: "False",
          observedGeneration: 1,
          lastTransitionTime: "2026-03-01T10:00:00Z",
          reason: "Tracing",
          message: "tracing: 0/2 nodes done, 5 drops so far",
        },
        {
          type: "Progressing",
          status: "True",
          observedGeneration: 1,
          lastTransitionTime: "2026-03-01T10:00:00Z",
          reason: "Tracing",
          message: "tracing: 0/2 nodes done, 5 drops so far",
        },
        {
          type: "Degraded",
          status: "False",
          observedGeneration: 1,
          lastTransitionTime: "2026-03-01T10:00:00Z",
          reason: "NodesHealthy",
          message: "no node has failed",
        },
        {
          type: "DropsVisible",
          status: "Unknown",
          observedGeneration: 1,
          lastTransitionTime: "2026-03-01T10:00:00Z",
          reason: "CountersNotRead",
          message: "no node has reported the kernel's own drop counters yet (or none could read them: see each node's report)",
        },
      ],
      nodes: { desired: 2, pending: 1, running: 1, completed: 0, failed: 0 },
      nodeProgress: "0/2",
      totalDrops: 5,
      uncountedDrops: 0,
      topSymbol: "udp_rcv+0x452",
      drops: [{ symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", class: "depends", count: 5, nodes: 1 }],
      explanations: [{ reason: "NO_SOCKET", class: "depends", meaning: DROP_EXPLANATIONS.NO_SOCKET.meaning, nextStep: DROP_EXPLANATIONS.NO_SOCKET.nextStep }],
      nodeSummary: [{ node: "a", phase: "Running", totalDrops: 5 }],
      nodeSummaryOmitted: 0,
    });
  });

  it("keeps its completion time once set", () => {
    const done = buildStatus(input({ outcome: { phase: "Completed", reason: REASON.allNodesDone } }));
    expect(done.completionTime).toBe("2026-03-01T10:00:00Z");
    expect(buildStatus(input({ current: done, outcome: { phase: "Completed", reason: REASON.allNodesDone }, nowMs: T0 + 5_000 })).completionTime).toBe(
      "2026-03-01T10:00:00Z",
    );
  });

  it("stays under 256 KiB and valid at its largest: 200 rows of the longest symbols, their stacks, the longest explanations, 5,000 nodes with long messages", () => {
    const wordiest = [...KNOWN_DROP_REASONS].sort((a, b) => explanationLength(b) - explanationLength(a));
    const longFrames = (i: number) => Array.from({ length: MAX_STACK_FRAMES }, (_, k) => `${"f".repeat(500)}+0x${i}${k} [${"m".repeat(64)}]`);
    const widest: DropRow[] = Array.from({ length: 200 }, (_, i) => ({
      symbol: `${"s".repeat(500)}+0x${i.toString(16)}`,
      interface: "x".repeat(15),
      module: "m".repeat(64),
      reason: i < MAX_EXPLAINED_REASONS ? (wordiest[i] ?? "") : "r".repeat(64),
      class: "fault",
      count: 2 ** 40 - i,
      nodes: 5_000,
      stacks: [0, 1, 2].map((j) => ({ count: 2 ** 40 - j, frames: longFrames(i * 3 + j) })),
    }));
    // What merge.ts hands the status: stacks within their budget, on the top rows.
    const drops = stacksOnTopRows(widest, MAX_STATUS_STACK_BYTES);
    expect(drops.some((d) => d.stacks !== undefined)).toBe(true);
    const nodes: NodeState[] = Array.from({ length: 5_000 }, (_, i) => ({
      node: `${"n".repeat(240)}-${i}`,
      phase: "Failed",
      reason: "HeadersMissing",
      message: "m".repeat(4096),
      totalDrops: i,
    }));
    const status = buildStatus(
      input({
        outcome: { phase: "Completed", reason: REASON.deadlinePassed },
        nodes,
        counts: { desired: 5_000, pending: 0, running: 0, completed: 0, failed: 5_000 },
        merged: {
          ...EMPTY_MERGE,
          drops,
          totalDrops: 2 ** 50,
          probeCost: {
            nodes: 5_000,
            hits: 2 ** 50,
            handlerNanoseconds: 2 ** 52,
            nanosecondsPerHit: 4.5,
            cpuPercent: 49.9999,
            busiestNode: "n".repeat(253),
            notCounted: { mapFull: 2 ** 40, skipped: 2 ** 40, stackTableFull: 2 ** 40 },
          },
        },
      }),
    );
    expect(DropTraceStatusSchema.safeParse(status).success).toBe(true);
    expect(status.explanations).toHaveLength(MAX_EXPLAINED_REASONS);
    expect(Buffer.byteLength(JSON.stringify(status))).toBeLessThan(256 * 1024);
  });
});

const explanationLength = (reason: keyof typeof DROP_EXPLANATIONS) => {
  const e = DROP_EXPLANATIONS[reason];
  return e.meaning.length + (e.nextStep?.length ?? 0);
};

const row = (symbol: string, reason: string, cls: DropRow["class"], count: number, iface = "eth0"): DropRow => ({
  symbol,
  interface: iface,
  module: "kernel",
  reason,
  class: cls,
  count,
  nodes: 1,
});

function finished(drops: DropRow[], topActionable: DropRow | undefined): StatusInput {
  const totalDrops = drops.reduce((sum, d) => sum + d.count, 0);
  return input({
    outcome: { phase: "Completed", reason: REASON.allNodesDone },
    nodes: [
      { node: "a", phase: "Completed", totalDrops },
      { node: "b", phase: "Completed", totalDrops: 0 },
    ],
    counts: { desired: 2, pending: 0, running: 0, completed: 2, failed: 0 },
    merged: { drops, totalDrops, uncountedDrops: 0, distinctRows: drops.length, topActionable },
  });
}

const ready = (status: ReturnType<typeof buildStatus>) => status.conditions?.find((c) => c.type === "Ready")?.message;

describe("the Ready message of a finished trace", () => {
  it("sends a person to the first row worth acting on, with its next step, not to the top row", () => {
    const purge = row("skb_queue_purge_reason+0xfa", "QUEUE_PURGE", "normal", 900, "-");
    const refused = row("nft_do_chain+0x2d1", "NETFILTER_DROP", "depends", 120, "cali1234");
    const status = buildStatus(finished([purge, refused], refused));
    expect(ready(status)).toBe(
      "1020 drops counted on 2 nodes, every node finished; look first at NETFILTER_DROP at nft_do_chain+0x2d1 on cali1234 (120 drops): " +
        "find the rule whose counter grows (iptables-save -c or nft list ruleset on the node) and the NetworkPolicies that select the pod (kubectl get networkpolicy -A).",
    );
    expect(status.topSymbol).toBe("skb_queue_purge_reason+0xfa");
  });

  it("says when every drop is of a kind normal in small numbers", () => {
    const purge = row("skb_queue_purge_reason+0xfa", "QUEUE_PURGE", "normal", 3, "-");
    expect(ready(buildStatus(finished([purge], undefined)))).toBe(
      "3 drops counted on 2 nodes, every node finished; nothing to act on: every drop has a reason that is normal in small numbers, most QUEUE_PURGE at skb_queue_purge_reason+0xfa (3 drops)",
    );
  });

  it("says only the count when nothing was dropped", () => {
    expect(ready(buildStatus(finished([], undefined)))).toBe("0 drops counted on 2 nodes, every node finished");
  });

  it("uses the meaning where a reason has no next step, and names a row without a device without its interface", () => {
    const unknown = row("ovs_dp_process_packet+0x1f0", "UNKNOWN_196610", "unknown", 4, "-");
    expect(ready(buildStatus(finished([unknown], unknown)))).toMatch(
      /; look first at UNKNOWN_196610 at ovs_dp_process_packet\+0x1f0 \(4 drops\): look the name up in include\/net\/dropreason-core\.h/,
    );
  });
});

describe("the explanations in the status", () => {
  it("explain the distinct reasons of the top rows in their order, at most a few, and always the first row to act on", () => {
    const normal = ["QUEUE_PURGE", "TCP_CLOSE", "TCP_OLD_DATA", "SOCKET_CLOSE", "OTHERHOST", "NEIGH_DEAD"];
    const drops = [
      ...normal.map((reason, i) => row(`sym${i}`, reason, "normal", 100 - i)),
      row("sym_dup", "QUEUE_PURGE", "normal", 50),
      row("udp_rcv+0x452", "NO_SOCKET", "depends", 10),
    ];
    const status = buildStatus(finished(drops, drops.at(-1)));
    expect(status.explanations?.map((e) => [e.reason, e.class])).toEqual([
      ["QUEUE_PURGE", "normal"],
      ["TCP_CLOSE", "normal"],
      ["TCP_OLD_DATA", "normal"],
      ["SOCKET_CLOSE", "normal"],
      ["NO_SOCKET", "depends"],
    ]);
    expect(status.explanations?.[4]).toEqual({ reason: "NO_SOCKET", ...DROP_EXPLANATIONS.NO_SOCKET });
    expect(DropTraceStatusSchema.safeParse(status).success).toBe(true);
  });

  it("are left out while there are no drops", () => {
    expect(buildStatus(input({ merged: EMPTY_MERGE })).explanations).toBeUndefined();
  });
});
