// The controller restarted mid-trace, and API trouble: 409s and 500s on writes, watches cut,
// watches answered 410. Each time the final status must be exactly right.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  agents,
  createTrace,
  getDaemonSet,
  getTrace,
  reportStatus,
  setDesiredNodes,
  startCluster,
  startController,
  stopController,
  untilPhase,
  type Cluster,
  type TestAgent,
  type TraceObject,
} from "./harness.js";
import { until } from "../support/until.js";

let cluster: Cluster;
beforeEach(async () => {
  cluster = await startCluster();
});
afterEach(async () => {
  await cluster.close();
});

const row = (symbol: string, count: number) => ({ symbol, interface: "eth0", module: "kernel", reason: "NO_SOCKET", count });

async function runningTrace(name: string, nodes: string[]): Promise<{ trace: TraceObject; nodeAgents: TestAgent[] }> {
  const trace = await createTrace(cluster, name, { duration: "60s" });
  await until("the DaemonSet", () => getDaemonSet(cluster, name));
  await setDesiredNodes(cluster, name, nodes.length);
  const nodeAgents = agents(cluster, trace, ...nodes);
  for (const a of nodeAgents) await a.report(reportStatus("Running", [row("udp_rcv+0x452", 10)]));
  return { trace, nodeAgents };
}

const totalIs = (name: string, total: number) =>
  until(`${name} to total ${total}`, async () => {
    const t = await getTrace(cluster, name);
    return t?.status?.totalDrops === total ? t : undefined;
  });

describe("a controller restarted mid-trace", () => {
  it("rebuilds the trace's state from the API: totals neither lost nor doubled, no second DaemonSet", async () => {
    const first = await startController(cluster);
    const { nodeAgents } = await runningTrace("survivor", ["a", "b"]);
    await totalIs("survivor", 20);

    await stopController(cluster, first);
    // The agents carry on while no controller runs: cumulative counts.
    const [a, b] = nodeAgents;
    await a?.report(reportStatus("Running", [row("udp_rcv+0x452", 25)]));
    await b?.report(reportStatus("Completed", [row("udp_rcv+0x452", 30), row("ip_rcv+0x10", 5)]));
    const writesBefore = cluster.server.writes().length;

    await startController(cluster);
    const rebuilt = await totalIs("survivor", 60);
    expect(rebuilt.status?.phase).toBe("Running");
    expect(rebuilt.status?.drops?.map((d) => [d.symbol, d.count, d.nodes])).toEqual([
      ["udp_rcv+0x452", 55, 2],
      ["ip_rcv+0x10", 5, 1],
    ]);
    expect(rebuilt.status?.nodes).toEqual({ desired: 2, pending: 0, running: 1, completed: 1, failed: 0 });
    // The new controller found its DaemonSet as wanted: it wrote none.
    expect(
      cluster.server
        .writes()
        .slice(writesBefore)
        .filter((w) => w.path.includes("daemonsets")),
    ).toEqual([]);

    await a?.report(reportStatus("Completed", [row("udp_rcv+0x452", 26)]));
    const done = await untilPhase(cluster, "survivor", "Completed");
    expect(done.status?.totalDrops).toBe(61);
    expect(done.status?.drops?.[0]).toEqual({ ...row("udp_rcv+0x452", 56), class: "depends", nodes: 2 });
  });
});

describe("API trouble", () => {
  it("retries status writes answered 409 and 500, and DaemonSet creates answered 500", async () => {
    cluster.server.faults.failNext({ method: "POST", pathRegex: /\/daemonsets$/, status: 500, count: 2 });
    cluster.server.faults.failNext({ method: "PUT", pathRegex: /\/droptraces\/[^/]+\/status$/, status: 409, count: 2 });
    cluster.server.faults.failNext({ method: "PUT", pathRegex: /\/droptraces\/[^/]+\/status$/, status: 500, count: 2 });
    const controller = await startController(cluster);
    await runningTrace("bumpy", ["a", "b", "c"]);
    const t = await totalIs("bumpy", 30);
    expect(t.status?.phase).toBe("Running");
    const failedWrites = cluster.server.requests.filter((r) => r.method === "PUT" && r.path.endsWith("/status") && r.status >= 409);
    expect(failedWrites.map((r) => r.status)).toEqual([409, 409, 500, 500]);
    const metrics = await controller.metrics.registry.getSingleMetricAsString("droptrace_controller_status_writes_total");
    expect(metrics).toContain('droptrace_controller_status_writes_total{result="conflict"} 2');
    expect(metrics).toContain('droptrace_controller_status_writes_total{result="error"} 2');
    const reconciles = await controller.metrics.registry.getSingleMetricAsString("droptrace_controller_reconciles_total");
    expect(reconciles).toMatch(/result="error"} [1-9]/);
  });

  it("restarts informers whose watches were cut, and sees what changed meanwhile", async () => {
    const controller = await startController(cluster);
    const { nodeAgents } = await runningTrace("cut", ["a", "b"]);
    await totalIs("cut", 20);

    // Five caches and the address index's three watches (pods, Services, nodes), which the controller does not wait for.
    await until("eight watches", () => cluster.server.openWatches() === 8);
    expect(cluster.server.faults.dropWatches()).toBe(8);
    // Writes while the watches are down must still reach the status.
    for (const a of nodeAgents) await a.report(reportStatus("Completed", [row("udp_rcv+0x452", 40)]));
    const done = await untilPhase(cluster, "cut", "Completed");
    expect(done.status?.totalDrops).toBe(80);
    await until("eight watches again", () => cluster.server.openWatches() === 8);
    const restarts = await controller.metrics.registry.getSingleMetricAsString("droptrace_controller_watch_restarts_total");
    for (const resource of ["droptraces", "droptracereports", "daemonsets", "pods", "events", "address-pods", "services", "nodes"]) {
      expect(restarts).toContain(`droptrace_controller_watch_restarts_total{resource="${resource}"} 1`);
    }
  });

  it("relists after a watch is answered 410 Gone, dropping objects deleted meanwhile", async () => {
    await startController(cluster);
    const { nodeAgents } = await runningTrace("gone", ["a", "b"]);
    await totalIs("gone", 20);

    cluster.server.faults.dropWatches();
    // While the watches are down: more counts, and a report deleted by hand (its node left).
    await nodeAgents[0]?.report(reportStatus("Running", [row("udp_rcv+0x452", 15)]));
    await cluster.custom.deleteClusterCustomObject({ group: "droptrace.io", version: "v1alpha1", plural: "droptracereports", name: "gone-b" });
    cluster.server.faults.expireHistory();

    const relisted = await totalIs("gone", 15);
    expect(relisted.status?.nodes?.running).toBe(1);
    // The restarted watches met 410 and listed again.
    const lists = cluster.server.requests.filter((r) => r.method === "GET" && r.path.endsWith("/droptracereports") && !r.query.includes("watch=true"));
    expect(lists.length).toBe(2);
    await nodeAgents[0]?.report(reportStatus("Completed", [row("udp_rcv+0x452", 16)]));
    await setDesiredNodes(cluster, "gone", 1);
    const done = await untilPhase(cluster, "gone", "Completed");
    expect(done.status?.totalDrops).toBe(16);
  });

  it("backs off while the API server keeps failing its lists, then recovers", async () => {
    // Every list of reports fails for a while: the informer must keep retrying, not stop.
    cluster.server.faults.failNext({ method: "GET", pathRegex: /\/droptracereports$/, status: 500, count: 4 });
    const controller = await startController(cluster);
    expect(controller.ready()).toBeUndefined();
    const restarts = await controller.metrics.registry.getSingleMetricAsString("droptrace_controller_watch_restarts_total");
    expect(restarts).toContain('droptrace_controller_watch_restarts_total{resource="droptracereports"} 4');
    await runningTrace("late", ["a"]);
    await totalIs("late", 10);
  });
});
