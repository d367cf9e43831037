// Nodes that fail, nodes that never report, every node failing, a spec the controller refuses,
// and a trace deleted while it runs.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  agents,
  condition,
  createTrace,
  deleteTrace,
  eventsAbout,
  FAST,
  getDaemonSet,
  getTrace,
  reportStatus,
  scheduleAgentPod,
  setDesiredNodes,
  startCluster,
  startController,
  TestClock,
  untilPhase,
  type Cluster,
} from "./harness.js";
import { holdsFor, until } from "../support/until.js";
import { mergePatch } from "../support/apiserver-test-helpers.js";

let cluster: Cluster;
beforeEach(async () => {
  cluster = await startCluster();
});
afterEach(async () => {
  await cluster.close();
});

const udp = { symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET" };

describe("nodes that fail or stay silent", () => {
  it("marks a failing node Degraded at once, and at the deadline completes, naming the node that never reported", async () => {
    const clock = new TestClock();
    await startController(cluster, { clock: clock.now });
    const trace = await createTrace(cluster, "partial", { duration: "10s" });
    await until("the DaemonSet", () => getDaemonSet(cluster, "partial"));
    await setDesiredNodes(cluster, "partial", 3);
    for (const node of ["n1", "n2", "n3"]) await scheduleAgentPod(cluster, "partial", node);
    const [n1, n2] = agents(cluster, trace, "n1", "n2");
    if (n1 === undefined || n2 === undefined) throw new Error("two agents");
    await n1.report(reportStatus("Completed", [{ ...udp, count: 12 }]));
    await n2.report(
      reportStatus("Failed", [], {
        reason: "HeadersMissing",
        message: "stap found no kernel headers for 6.1.0-18-amd64: install them (apt-get install linux-headers-6.1.0-18-amd64)",
      }),
    );

    const degraded = await until("Degraded", async () => {
      const t = await getTrace(cluster, "partial");
      return condition(t, "Degraded")?.status === "True" ? t : undefined;
    });
    expect(degraded.status?.phase).toBe("Running");
    expect(condition(degraded, "Degraded")).toMatchObject({ reason: "NodesFailing", message: "1 of 3 nodes failed: HeadersMissing on 1 (n2)" });
    expect(degraded.status?.nodes).toEqual({ desired: 3, pending: 1, running: 0, completed: 1, failed: 1 });
    expect(degraded.status?.nodeProgress).toBe("2/3");
    const failureEvent = await until("the node failure Event", async () => (await eventsAbout(cluster, "partial")).find((e) => e.reason === "NodesFailing"));
    expect(failureEvent.type).toBe("Warning");
    expect(failureEvent.message).toBe(
      "node n2 failed: HeadersMissing: stap found no kernel headers for 6.1.0-18-amd64: install them (apt-get install linux-headers-6.1.0-18-amd64)",
    );

    // Past start + 10s + grace: n3 never reported.
    clock.advance(60_000);
    const done = await untilPhase(cluster, "partial", "Completed");
    expect(condition(done, "Ready")).toMatchObject({ status: "True", reason: "DeadlinePassed" });
    expect(condition(done, "Degraded")?.message).toBe("1 of 3 nodes failed: HeadersMissing on 1 (n2); 1 of 3 nodes never reported: n3");
    expect(done.status?.nodeSummary).toEqual([
      {
        node: "n2",
        phase: "Failed",
        reason: "HeadersMissing",
        message: "stap found no kernel headers for 6.1.0-18-amd64: install them (apt-get install linux-headers-6.1.0-18-amd64)",
        totalDrops: 0,
      },
      { node: "n3", phase: "NotReporting", totalDrops: 0 },
      { node: "n1", phase: "Completed", totalDrops: 12 },
    ]);
    expect(done.status?.nodeSummaryOmitted).toBe(0);
    expect(done.status?.totalDrops).toBe(12);
    await until("the DaemonSet to be deleted", async () => (await getDaemonSet(cluster, "partial")) === undefined);
    const completion = (await eventsAbout(cluster, "partial")).find((e) => e.reason === "DeadlinePassed");
    expect(completion?.type).toBe("Warning");
  });

  it("takes in a final report that arrives after the trace ended: its phase and completion time stay", async () => {
    const clock = new TestClock();
    await startController(cluster, { clock: clock.now });
    const trace = await createTrace(cluster, "slow-final", { duration: "10s" });
    await until("the DaemonSet", () => getDaemonSet(cluster, "slow-final"));
    await setDesiredNodes(cluster, "slow-final", 2);
    const [n1, n2] = agents(cluster, trace, "n1", "n2");
    if (n1 === undefined || n2 === undefined) throw new Error("two agents");
    await n1.report(reportStatus("Completed", [{ ...udp, count: 12 }]));
    await n2.report(reportStatus("Running", [{ ...udp, count: 5 }]));
    await until("both reports merged", async () => (await getTrace(cluster, "slow-final"))?.status?.totalDrops === 17);

    clock.advance(60_000);
    const ended = await untilPhase(cluster, "slow-final", "Completed");
    expect(condition(ended, "Ready")).toMatchObject({ status: "True", reason: "DeadlinePassed" });
    expect(condition(ended, "Degraded")?.message).toBe("1 node had not sent a final report by the deadline: n2");

    // n2's final report, held up past the deadline (say, by API errors), still arrives.
    await n2.report(reportStatus("Completed", [{ ...udp, count: 30 }]));
    const merged = await until("the late report merged", async () => {
      const t = await getTrace(cluster, "slow-final");
      return t?.status?.totalDrops === 42 ? t : undefined;
    });
    expect(merged.status?.phase).toBe("Completed");
    expect(merged.status?.completionTime).toBe(ended.status?.completionTime);
    expect(merged.status?.nodes).toEqual({ desired: 2, pending: 0, running: 0, completed: 2, failed: 0 });
    expect(merged.status?.drops).toMatchObject([{ ...udp, count: 42, nodes: 2 }]);
    expect(condition(merged, "Ready")).toMatchObject({ status: "True", reason: "AllNodesDone" });
    expect(condition(merged, "Degraded")?.status).toBe("False");
  });

  it("fails the trace when every node failed, saying why per reason", async () => {
    await startController(cluster);
    const trace = await createTrace(cluster, "doomed");
    await until("the DaemonSet", () => getDaemonSet(cluster, "doomed"));
    await setDesiredNodes(cluster, "doomed", 3);
    const [a, b, c] = agents(cluster, trace, "a", "b", "c");
    await a?.report(reportStatus("Failed", [], { reason: "HeadersMissing", message: "no headers" }));
    await b?.report(reportStatus("Failed", [], { reason: "CompileFailed", message: "stap -p4 failed" }));
    await c?.report(reportStatus("Failed", [], { reason: "HeadersMissing", message: "no headers" }));
    const failed = await untilPhase(cluster, "doomed", "Failed");
    expect(condition(failed, "Ready")).toMatchObject({
      status: "False",
      reason: "AllNodesFailed",
      message: "no node could trace: HeadersMissing on 2 (a, c); CompileFailed on 1 (b)",
    });
    expect(condition(failed, "Degraded")).toMatchObject({ status: "True", reason: "NodesFailing" });
    expect(failed.status?.nodes).toEqual({ desired: 3, pending: 0, running: 0, completed: 0, failed: 3 });
    await until("the DaemonSet to be deleted", async () => (await getDaemonSet(cluster, "doomed")) === undefined);
    const events = await until("3 node Events and the phase Event", async () => {
      const list = await eventsAbout(cluster, "doomed");
      return list.filter((e) => e.reason === "NodesFailing").length === 3 && list.some((e) => e.reason === "AllNodesFailed") ? list : undefined;
    });
    expect(events.find((e) => e.reason === "AllNodesFailed")?.type).toBe("Warning");
  });

  it("fails a trace that no node reports on by the deadline, and one whose selector matches no node", async () => {
    const clock = new TestClock();
    await startController(cluster, { clock: clock.now });
    await createTrace(cluster, "silent");
    await createTrace(cluster, "nowhere", { nodeSelector: { "example.com/pool": "gpu" } });
    await until("both DaemonSets", async () => (await getDaemonSet(cluster, "silent")) !== undefined && (await getDaemonSet(cluster, "nowhere")) !== undefined);
    await setDesiredNodes(cluster, "silent", 2);
    // The DaemonSet controller counted and found no node: observedGeneration makes the 0 believable.
    await cluster.apps.patchNamespacedDaemonSetStatus(
      { name: "droptrace-nowhere", namespace: "droptrace-system", body: { status: { desiredNumberScheduled: 0, observedGeneration: 1 } } },
      mergePatch,
    );
    await untilPhase(cluster, "silent", "Pending");
    clock.advance(120_000);
    const silent = await untilPhase(cluster, "silent", "Failed");
    expect(condition(silent, "Ready")?.reason).toBe("NoNodesReported");
    expect(condition(silent, "Ready")?.message).toContain("DaemonSet droptrace-system/droptrace-silent");
    expect(condition(silent, "Degraded")).toMatchObject({ status: "True", reason: "NodesNotReporting", message: "2 of 2 nodes never reported" });
    const nowhere = await untilPhase(cluster, "nowhere", "Failed");
    expect(condition(nowhere, "Ready")?.reason).toBe("NoNodesSelected");
  });
});

describe("a spec the controller refuses", () => {
  it("marks a trace with a bad nodeSelector key Failed with the field's error and creates nothing", async () => {
    await startController(cluster);
    // The CRD checks values only (keys would cost too much CEL); the controller checks keys.
    await createTrace(cluster, "bad-key", { nodeSelector: { "not a label key!": "x" } });
    const failed = await untilPhase(cluster, "bad-key", "Failed");
    expect(condition(failed, "Ready")).toMatchObject({ status: "False", reason: "InvalidSpec" });
    expect(condition(failed, "Ready")?.message).toBe(
      "the spec is invalid, nothing was started: spec.nodeSelector: nodeSelector keys must be label keys such as 'kubernetes.io/hostname'; delete this DropTrace and apply a corrected one",
    );
    expect(failed.status?.completionTime).toBeDefined();
    // Creating nothing is an absence no wait can show: watch through two resyncs, each of which
    // reconciles the refused trace again.
    await holdsFor("no DaemonSet written", 2 * FAST.resyncMs, () => !cluster.server.writes().some((w) => w.path.includes("daemonsets")));
    expect(await getDaemonSet(cluster, "bad-key")).toBeUndefined();
    expect(cluster.server.writes().filter((w) => w.path.includes("daemonsets"))).toEqual([]);
    const events = await until("the Event", async () => (await eventsAbout(cluster, "bad-key")).find((e) => e.reason === "InvalidSpec"));
    expect(events.type).toBe("Warning");
  });
});

describe("a DropTrace deleted while it runs", () => {
  it("takes its DaemonSet and reports with it, and the controller creates nothing again", async () => {
    await startController(cluster);
    const trace = await createTrace(cluster, "short-lived");
    await until("the DaemonSet", () => getDaemonSet(cluster, "short-lived"));
    await setDesiredNodes(cluster, "short-lived", 1);
    const [a] = agents(cluster, trace, "a");
    await a?.report(reportStatus("Running", [{ ...udp, count: 3 }]));
    await untilPhase(cluster, "short-lived", "Running");

    await deleteTrace(cluster, "short-lived");
    await until("the DaemonSet to go", async () => (await getDaemonSet(cluster, "short-lived")) === undefined);
    const writesAfter = cluster.server.writes().length;
    // Creating nothing again is an absence no wait can show: watch through four resyncs.
    await holdsFor("no write after the delete", 4 * FAST.resyncMs, () => cluster.server.writes().length === writesAfter);
    expect(await getDaemonSet(cluster, "short-lived")).toBeUndefined();
    expect(await getTrace(cluster, "short-lived")).toBeUndefined();
    const reports = (await cluster.custom.listClusterCustomObject({ group: "droptrace.io", version: "v1alpha1", plural: "droptracereports" })) as {
      items: unknown[];
    };
    expect(reports.items).toEqual([]);
    // Nothing written by the controller after the delete (resyncs included).
    expect(cluster.server.writes().slice(writesAfter)).toEqual([]);
  });
});
