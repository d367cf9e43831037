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

  it("completes a node whose probe stopped itself for its CPU cost with its counts, says so in Degraded and an Event, and merges stacks and cost", async () => {
    await startController(cluster);
    const trace = await createTrace(cluster, "hot", { duration: "10s", stacks: true, maxProbeCPUPercent: 5 });
    const daemonSet = await until("the DaemonSet", () => getDaemonSet(cluster, "hot"));
    // The agents are told the trace's settings.
    expect(daemonSet.spec?.template.spec?.containers[0]?.env).toEqual(
      expect.arrayContaining([
        { name: "DROPTRACE_STACKS", value: "true" },
        { name: "DROPTRACE_MAX_PROBE_CPU_PERCENT", value: "5" },
      ]),
    );
    await setDesiredNodes(cluster, "hot", 2);
    const [n1, n2] = agents(cluster, trace, "n1", "n2");
    if (n1 === undefined || n2 === undefined) throw new Error("two agents");
    const viaLo = ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0xab", "__netif_receive_skb_one_core+0x8d"];
    const cost = (hits: number, cpuPercent: number) => ({
      hits,
      handlerNanoseconds: hits * 300,
      elapsedNanoseconds: 10e9,
      cpus: 4,
      nanosecondsPerHit: 300,
      cpuPercent,
      peakIntervalCPUPercent: cpuPercent,
      notCounted: { mapFull: 0, skipped: 0, stackTableFull: 1 },
    });
    const stopped = "the probe used 7.3% of the node's CPU (limit 5%, spec.maxProbeCPUPercent): stopped after 4 s; counts so far are kept";
    await n1.report(
      reportStatus("Completed", [{ ...udp, count: 300, stacks: [{ count: 300, frames: viaLo }] }], {
        reason: "ProbeOverload",
        message: stopped,
        probeCost: cost(900_000, 7.3),
      }),
    );
    await n2.report(reportStatus("Completed", [{ ...udp, count: 20, stacks: [{ count: 20, frames: viaLo }] }], { probeCost: cost(1000, 0.01) }));

    const done = await untilPhase(cluster, "hot", "Completed");
    expect(done.status?.totalDrops).toBe(320);
    expect(done.status?.drops?.[0]).toMatchObject({ count: 320, nodes: 2, stacks: [{ count: 320, frames: viaLo }] });
    expect(condition(done, "Degraded")).toMatchObject({ status: "True", reason: "ProbeOverload" });
    expect(condition(done, "Degraded")?.message).toContain(`n1: ${stopped}`);
    expect(done.status?.nodeSummary?.[0]).toEqual({ node: "n1", phase: "Completed", reason: "ProbeOverload", message: stopped, totalDrops: 300 });
    expect(done.status?.probeCost).toEqual({
      nodes: 2,
      hits: 901_000,
      handlerNanoseconds: 270_300_000,
      nanosecondsPerHit: 300,
      cpuPercent: 7.3,
      busiestNode: "n1",
      notCounted: { mapFull: 0, skipped: 0, stackTableFull: 2 },
    });
    const event = await until("the early stop's Event", async () => (await eventsAbout(cluster, "hot")).find((e) => e.reason === "ProbeOverload"));
    expect(event).toMatchObject({ type: "Warning", message: `node n1 stopped tracing early: ${stopped}` });
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
