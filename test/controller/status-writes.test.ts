// Status is written only when it changed, at most once per interval per trace however often
// the nodes report, and a phase change goes out at once. Plus /metrics, /healthz and /readyz.
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REASON } from "../../src/api/conditions.js";
import { startHealthServer } from "../../src/kube/health-server.js";
import {
  agents,
  createTrace,
  eventsAbout,
  FAST,
  getDaemonSet,
  getTrace,
  reportStatus,
  setDesiredNodes,
  startCluster,
  startController,
  statusWrites,
  untilPhase,
  type Cluster,
} from "./harness.js";
import { holdsFor, until } from "../support/until.js";

let cluster: Cluster;
beforeEach(async () => {
  cluster = await startCluster();
});
afterEach(async () => {
  await cluster.close();
});

const row = (count: number) => ({ symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count });

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
    // The reports that came after the Running write are written once its window closes: that
    // write belongs to before the measurement.
    await until("the three first reports merged", async () => (await getTrace(cluster, "busy"))?.status?.totalDrops === 3);

    const before = statusWrites(cluster);
    const started = Date.now();
    // 3 nodes x 12 updates over ~1.5 s: 36 report writes.
    for (let i = 2; i <= 13; i += 1) {
      for (const n of nodes) await n.report(reportStatus("Running", [row(i)]));
      // Not a wait for anything: the updates are spread over several intervals, as agents' are.
      await sleep(100);
    }
    const elapsed = Date.now() - started;
    const during = statusWrites(cluster) - before;
    expect(during).toBeGreaterThanOrEqual(1);
    expect(during).toBeLessThanOrEqual(Math.ceil(elapsed / intervalMs) + 1);

    // The last change is not lost: it goes out when its window opens.
    await until("the last counts", async () => (await getTrace(cluster, "busy"))?.status?.totalDrops === 39, { timeoutMs: 3_000 });

    // Final reports: the phase change is written without waiting for the window.
    for (const n of nodes.slice(0, 2)) await n.report(reportStatus("Completed", [row(13)]));
    // Their status write (no new phase: it waits for its window) has just gone out, so the next
    // window is far off: only a write that does not wait for it can be as quick as asserted.
    await until("two nodes completed", async () => (await getTrace(cluster, "busy"))?.status?.nodes?.completed === 2);
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
    // The Event announcing Running is the last write that change causes.
    await until("the Running Event", async () => (await eventsAbout(cluster, "quiet")).some((e) => e.reason === REASON.tracing));
    const before = cluster.server.writes().length;
    // Nothing changing is an absence, which no wait can show: watch the writes through several
    // resyncs, each of which reconciles the trace again (a busy machine only makes them fewer).
    await holdsFor("no writes", 6 * FAST.resyncMs, () => {
      expect(cluster.server.writes().slice(before)).toEqual([]);
    });
  });
});

describe("/metrics, /healthz and /readyz", () => {
  it("serves the controller's metrics with bounded labels, and is ready once its caches are filled", async () => {
    const controller = await startController(cluster);
    const health = await startHealthServer({
      port: 0,
      registry: controller.metrics.registry,
      healthy: () => controller.healthy(),
      ready: () => controller.ready(),
    });
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
