// Status is written only when it changed, at most once per interval per trace however often
// the nodes report, and a phase change goes out at once. Plus /metrics, /healthz and /readyz.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startHealthServer } from "../../src/kube/health-server.js";
import {
  agents,
  createTrace,
  FAST,
  getDaemonSet,
  getTrace,
  reportStatus,
  setDesiredNodes,
  startCluster,
  startController,
  statusWrites,
  until,
  untilPhase,
  type Cluster,
} from "./harness.js";

let cluster: Cluster;
beforeEach(async () => {
  cluster = await startCluster();
});
afterEach(async () => {
  await cluster.close();
});

const row = (count: number) => ({ symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("status writes", () => {
  it("coalesces many report updates into at most one write per interval, and sends a phase change at once", async () => {
    const intervalMs = 600;
    await startController(cluster, { timings: { ...FAST, statusIntervalMs: intervalMs } });
    const trace = await createTrace(cluster, "busy");
    await until("the DaemonSet", () => getDaemonSet(cluster, "busy"));
    await setDesiredNodes(cluster, "busy", 3);
    const nodes = agents(cluster, trace, "a", "b", "c");
    for (const n of nodes) await n.report(reportStatus("Running", [row(1)]));
    await untilPhase(cluster, "busy", "Running");
    await sleep(intervalMs); // let the window that the Running write opened close

    const before = statusWrites(cluster);
    const started = Date.now();
    // 3 nodes x 12 updates over ~1.5 s: 36 report writes.
    for (let i = 2; i <= 13; i += 1) {
      for (const n of nodes) await n.report(reportStatus("Running", [row(i)]));
      await sleep(100);
    }
    const elapsed = Date.now() - started;
    const during = statusWrites(cluster) - before;
    expect(during).toBeGreaterThanOrEqual(1);
    expect(during).toBeLessThanOrEqual(Math.ceil(elapsed / intervalMs) + 1);

    // The last change is not lost: it goes out when its window opens.
    await until("the last counts", async () => (await getTrace(cluster, "busy"))?.status?.totalDrops === 39, 3_000);

    // Final reports: the phase change is written without waiting for the window.
    for (const n of nodes.slice(0, 2)) await n.report(reportStatus("Completed", [row(13)]));
    await sleep(intervalMs + 100);
    const last = nodes[2];
    if (last === undefined) throw new Error("three agents");
    const finalAt = Date.now();
    await last.report(reportStatus("Completed", [row(14)]));
    const done = await untilPhase(cluster, "busy", "Completed");
    expect(Date.now() - finalAt).toBeLessThan(intervalMs / 2);
    expect(done.status?.totalDrops).toBe(40);
  });

  it("writes nothing while nothing changes, resyncs included", async () => {
    await startController(cluster);
    const trace = await createTrace(cluster, "quiet");
    await until("the DaemonSet", () => getDaemonSet(cluster, "quiet"));
    await setDesiredNodes(cluster, "quiet", 1);
    await agents(cluster, trace, "a")[0]?.report(reportStatus("Running", [row(5)]));
    await until("the counts", async () => (await getTrace(cluster, "quiet"))?.status?.totalDrops === 5);
    await sleep(200);
    const before = cluster.server.writes().length;
    await sleep(6 * FAST.resyncMs);
    expect(cluster.server.writes().slice(before)).toEqual([]);
  });
});

describe("/metrics, /healthz and /readyz", () => {
  it("serves the controller's metrics with bounded labels, and is ready once its caches are filled", async () => {
    const controller = await startController(cluster);
    const health = await startHealthServer({ port: 0, registry: controller.metrics.registry, healthy: () => controller.healthy(), ready: () => controller.ready() });
    try {
      await createTrace(cluster, "observed");
      await untilPhase(cluster, "observed", "Pending");
      const base = `http://127.0.0.1:${health.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const text = await (await fetch(`${base}/metrics`)).text();
      for (const line of [
        'droptrace_controller_reconciles_total{result="requeue"}',
        "droptrace_controller_reconcile_seconds_bucket{le=",
        'droptrace_controller_traces{phase="Pending"} 1',
        'droptrace_controller_traces{phase="Running"} 0',
        'droptrace_controller_status_writes_total{result="ok"}',
        "droptrace_controller_queue_depth",
        "droptrace_controller_is_leader 1",
        'droptrace_controller_events_total{result="ok"}',
        "droptrace_controller_process_resident_memory_bytes",
      ]) {
        expect(text).toContain(line);
      }
      // No label anywhere carries a trace or node name.
      expect(text).not.toContain("observed");
    } finally {
      await health.close();
    }
  });
});
