// Status rows merged by workload, end to end: agents' reports naming pods through the real
// client-node, the controller's status, and `kubectl get dt`'s Top Workload column as the test
// API server prints it from the CRD.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agents, createTrace, getDaemonSet, getTrace, reportStatus, setDesiredNodes, startCluster, startController, type Cluster } from "./harness.js";
import { raw, tableAccept } from "../support/apiserver-http-helpers.js";
import { until } from "../support/until.js";

let cluster: Cluster;
beforeEach(async () => {
  cluster = await startCluster();
});
afterEach(async () => {
  await cluster.close();
});

const cart = { kind: "Deployment", name: "cart" };
const pod = (name: string, uid: string) => ({ attribution: "netns" as const, pod: { namespace: "shop", name, uid }, workload: cart });
const udp = { symbol: "udp_rcv+0x452", module: "kernel", reason: "NO_SOCKET" };

describe("a DropTrace's rows by workload", () => {
  it("says Deployment shop/cart dropped 1,200 at udp_rcv as NO_SOCKET on 3 nodes, and kubectl get dt shows it as the top workload", async () => {
    await startController(cluster);
    const trace = await createTrace(cluster, "who", { duration: "60s", reportInterval: "5s" });
    await until("the DaemonSet", () => getDaemonSet(cluster, "who"));
    await setDesiredNodes(cluster, "who", 3);
    const [a, b, c] = agents(cluster, trace, "node-a", "node-b", "node-c");
    if (a === undefined || b === undefined || c === undefined) throw new Error("three agents");
    await a.report(
      reportStatus("Running", [
        { ...udp, interface: "eth0", netns: 7, count: 300, ...pod("cart-1", "u1") },
        { ...udp, interface: "eth0", netns: 9, count: 100, ...pod("cart-2", "u2") },
        // The node's own namespace: more drops than any one row of cart, fewer than cart in all.
        { ...udp, interface: "lo", netns: 1, count: 500, attribution: "host" },
      ]),
    );
    await b.report(reportStatus("Running", [{ ...udp, interface: "eth0", netns: 7, count: 400, ...pod("cart-3", "u3") }]));
    await c.report(
      reportStatus("Running", [
        { ...udp, interface: "eth0", netns: 7, count: 350, ...pod("cart-4", "u4") },
        { ...udp, interface: "lo", netns: 7, count: 50, ...pod("cart-4", "u4") },
        { ...udp, interface: "lo", netns: 1, count: 200, attribution: "host" },
      ]),
    );
    const merged = await until("three nodes merged", async () => {
      const t = await getTrace(cluster, "who");
      return t?.status?.totalDrops === 1900 ? t : undefined;
    });
    expect(merged.status?.drops).toEqual([
      {
        ...udp,
        interface: "eth0",
        class: "depends",
        count: 1200,
        nodes: 3,
        workload: { kind: "Deployment", namespace: "shop", name: "cart" },
        pods: 4,
        attribution: "netns",
        interfaces: [
          { name: "eth0", count: 1150 },
          { name: "lo", count: 50 },
        ],
      },
      { ...udp, interface: "lo", class: "depends", count: 700, nodes: 2, attribution: "host" },
    ]);
    expect(merged.status?.topWorkload).toBe("Deployment shop/cart");

    const res = await raw(cluster.server, "/apis/droptrace.io/v1alpha1/droptraces/who", { headers: { Accept: tableAccept } });
    const table = res.json as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
    const column = table.columnDefinitions.findIndex((d) => d.name === "Top Workload");
    expect(column).toBeGreaterThan(0);
    expect(table.rows[0]?.cells[column]).toBe("Deployment shop/cart");
  });
});
