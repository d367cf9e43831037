import { describe, expect, it } from "vitest";
import { eventName, eventObject, nodeFailureEvent, phaseEvent } from "../../../src/controller/events.js";
import { StringPool, toReportView } from "../../../src/controller/status/report-view.js";

const report = (node: string, status: unknown) => ({
  apiVersion: "droptrace.io/v1alpha1",
  kind: "DropTraceReport",
  metadata: { name: `t-${node}`, resourceVersion: "7", ownerReferences: [{ apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "t", uid: "uid-t" }] },
  spec: { trace: "t", node },
  ...(status === undefined ? {} : { status }),
});
const row = { symbol: "udp_rcv+0x452", interface: "eth0", netns: 1, module: "kernel", reason: "NO_SOCKET", class: "depends", count: 3 };
const status = (rows: unknown[]) => ({ phase: "Running", intervals: 2, totalDrops: 3, uncountedDrops: 0, otherRows: 0, otherDrops: 0, rows });

describe("the cached form of a report", () => {
  it("keeps what status needs, names its trace by owner uid, and shares equal strings between reports", () => {
    const pool = new StringPool();
    const a = toReportView(report("a", status([row])), pool);
    const b = toReportView(report("b", status([{ ...row, netns: 2 }])), pool);
    expect(a?.invalid).toBeUndefined();
    expect(a?.view).toEqual({
      metadata: { name: "t-a", resourceVersion: "7" },
      trace: "t",
      traceUid: "uid-t",
      node: "a",
      phase: "Running",
      totalDrops: 3,
      uncountedDrops: 0,
      rows: [
        { key: "udp_rcv+0x452\0eth0\0kernel\0NO_SOCKET\0\0", symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 3 },
      ],
    });
    expect(pool.size).toBe(5);
    expect(b?.view.rows[0]?.key).toBe(a?.view.rows[0]?.key);
  });

  it("sums a workload's pods and interfaces on the node into one row, with its interfaces and its pod count", () => {
    const cart = { kind: "Deployment", name: "cart" };
    const pod = (uid: string) => ({ namespace: "shop", name: `cart-${uid}`, uid });
    const view = toReportView(
      report(
        "a",
        status([
          { ...row, netns: 7, count: 30, attribution: "netns", pod: pod("u1"), workload: cart },
          { ...row, netns: 7, interface: "lo", count: 2, attribution: "netns", pod: pod("u1"), workload: cart },
          { ...row, netns: 9, count: 12, attribution: "netns", pod: pod("u2"), workload: cart },
          { ...row, netns: 1, interface: "lo", count: 5, attribution: "host" },
        ]),
      ),
      new StringPool(),
    )?.view;
    expect(view?.rows.map(({ key: _key, owner: _owner, ...rest }) => rest)).toEqual([
      {
        symbol: "udp_rcv+0x452",
        interface: "eth0",
        module: "kernel",
        reason: "NO_SOCKET",
        count: 44,
        workload: { kind: "Deployment", namespace: "shop", name: "cart" },
        pods: 2,
        interfaces: [
          { name: "eth0", count: 42 },
          { name: "lo", count: 2 },
        ],
      },
      { symbol: "udp_rcv+0x452", interface: "lo", module: "kernel", reason: "NO_SOCKET", count: 5 },
    ]);
  });

  it("treats a report without status as a starting agent", () => {
    expect(toReportView(report("a", undefined), new StringPool())?.view.phase).toBe("Pending");
  });

  it("turns a report that does not match the schema into a failed node that says why", () => {
    const bad = toReportView(report("a", { ...status([row]), rows: [{ ...row, count: -1 }] }), new StringPool());
    expect(bad?.invalid).toBe("status.rows[0].count: Too small: expected number to be >=0");
    expect(bad?.view).toMatchObject({ node: "a", trace: "t", phase: "Failed", reason: "InvalidReport", rows: [] });
    expect(toReportView({ metadata: {} }, new StringPool())).toBeUndefined();
  });

  it("forgets pooled strings when full instead of growing without bound", () => {
    const pool = new StringPool(3);
    for (const s of ["a", "b", "c", "d"]) pool.intern(s);
    expect(pool.size).toBe(1);
  });
});

describe("Events", () => {
  const trace = { name: "web", uid: "uid-1" };

  it("have names derived from what they announce, so announcing twice is refused as AlreadyExists", () => {
    expect(eventName(trace, "phase/Running")).toBe(eventName(trace, "phase/Running"));
    expect(eventName(trace, "phase/Running")).not.toBe(eventName(trace, "phase/Completed"));
    expect(eventName(trace, "phase/Running")).not.toBe(eventName({ name: "web", uid: "uid-2" }, "phase/Running"));
    expect(eventName(trace, "phase/Running")).toMatch(/^web\.[0-9a-f]{16}$/);
  });

  it("are about the DropTrace, in namespace default, with the condition's reason", () => {
    const e = eventObject(
      trace,
      nodeFailureEvent({ node: "n2", phase: "Failed", reason: "HeadersMissing", message: "no headers", totalDrops: 0 }),
      Date.parse("2026-03-01T10:00:00.500Z"),
      "controller-a_1",
    );
    expect(e.metadata.namespace).toBe("default");
    expect(e.involvedObject).toEqual({ apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "web", uid: "uid-1" });
    expect([e.type, e.reason, e.message]).toEqual(["Warning", "NodesFailing", "node n2 failed: HeadersMissing: no headers"]);
    expect(e.firstTimestamp?.toISOString()).toBe("2026-03-01T10:00:00.000Z");
    expect(phaseEvent({ phase: "Completed", reason: "AllNodesDone" }, "done").type).toBe("Normal");
    expect(phaseEvent({ phase: "Failed", reason: "AllNodesFailed" }, "x").type).toBe("Warning");
  });
});
