// The whole life of a DropTrace through the real client-node against the test API server:
// Pending, Running, rows merged across nodes, Completed, DaemonSet gone, reports kept, TTL.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DROP_EXPLANATIONS } from "../../src/api/drop-explanations.js";
import { AGENT_ENV } from "../../src/api/agent-env.js";
import { LABELS } from "../../src/api/constants.js";
import { reportName } from "../../src/api/names.js";
import {
  agents,
  condition,
  createTrace,
  eventsAbout,
  FAST,
  getDaemonSet,
  getTrace,
  IMAGE,
  NAMESPACE,
  reportStatus,
  setDesiredNodes,
  startCluster,
  startController,
  TestClock,
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

const reports = { group: "droptrace.io", version: "v1alpha1", plural: "droptracereports" } as const;
const reportNames = async () =>
  ((await cluster.custom.listClusterCustomObject(reports)) as { items: { metadata: { name: string } }[] }).items.map((r) => r.metadata.name).sort();

describe("a DropTrace's life", () => {
  it("goes Pending, Running, Completed with rows merged exactly, then loses its DaemonSet, keeps its reports, and goes after its TTL", async () => {
    // The TTL passes when the test moves the clock, not while it reads what the completed trace left.
    const clock = new TestClock();
    await startController(cluster, { clock: clock.now });
    const trace = await createTrace(cluster, "web", {
      duration: "30s",
      reportInterval: "5s",
      topN: 3,
      ttlSecondsAfterFinished: 3600,
      filter: { interfaces: ["eth0", "cali*"], reasons: ["NO_SOCKET", "NETFILTER_DROP"] },
    });

    // Pending: a DaemonSet owned by the trace, running the agent with the trace's settings.
    const pending = await untilPhase(cluster, "web", "Pending");
    expect(pending.status?.observedGeneration).toBe(1);
    expect(pending.status?.nodeProgress).toBe("0/0");
    expect(condition(pending, "Ready")).toMatchObject({ status: "False", reason: "WaitingForAgents", observedGeneration: 1 });
    expect(condition(pending, "Progressing")).toMatchObject({ status: "True", reason: "WaitingForAgents" });
    const ds = await until("the DaemonSet", () => getDaemonSet(cluster, "web"));
    expect(ds.metadata?.namespace).toBe(NAMESPACE);
    expect(ds.metadata?.ownerReferences).toEqual([
      { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "web", uid: trace.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    const container = ds.spec?.template.spec?.containers[0];
    expect(container?.image).toBe(IMAGE);
    // An empty value is left out of the stored object, as client-node serializes it: the agent reads it as unset, which means the same.
    const env = Object.fromEntries(
      (container?.env ?? []).map((e) => [e.name, e.value ?? (e.valueFrom === undefined ? "" : `fieldRef:${e.valueFrom.fieldRef?.fieldPath ?? ""}`)]),
    );
    expect(env).toEqual({
      [AGENT_ENV.trace]: "web",
      [AGENT_ENV.traceUid]: trace.metadata.uid,
      [AGENT_ENV.node]: "fieldRef:spec.nodeName",
      [AGENT_ENV.duration]: "30s",
      [AGENT_ENV.reportInterval]: "5s",
      [AGENT_ENV.interfaces]: "eth0,cali*",
      [AGENT_ENV.reasons]: "NO_SOCKET,NETFILTER_DROP",
      [AGENT_ENV.stacks]: "false",
      [AGENT_ENV.maxProbeCPUPercent]: "5",
      [AGENT_ENV.namespaces]: "",
      [AGENT_ENV.podSelector]: "",
      [AGENT_ENV.cacheDir]: "/var/cache/droptrace",
      [AGENT_ENV.metricsPort]: "9102",
      [AGENT_ENV.rowCap]: "1000",
      [AGENT_ENV.hostProc]: "/host/proc",
      [AGENT_ENV.hostCgroup]: "/host/sys/fs/cgroup",
    });

    // Running: three nodes wanted, the first reports arrive.
    await setDesiredNodes(cluster, "web", 3);
    const [a, b, c] = agents(cluster, trace, "node-a", "node-b", "node-c");
    if (a === undefined || b === undefined || c === undefined) throw new Error("three agents");
    await a.report(reportStatus("Pending"));
    const running = await untilPhase(cluster, "web", "Running");
    expect(running.status?.nodes).toEqual({ desired: 3, pending: 3, running: 0, completed: 0, failed: 0 });

    await a.report(
      reportStatus("Running", [
        { symbol: "udp_rcv+0x452", interface: "eth0", netns: 4026531840, module: "kernel", reason: "NO_SOCKET", count: 10 },
        // Same row in another network namespace of the same node: one row, one node.
        { symbol: "udp_rcv+0x452", interface: "eth0", netns: 4026532000, module: "kernel", reason: "NO_SOCKET", count: 5 },
        { symbol: "nft_do_chain+0x2d1", interface: "cali1234", module: "nf_tables", reason: "NETFILTER_DROP", count: 7 },
      ]),
    );
    await b.report(
      reportStatus("Running", [
        { symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 20 },
        { symbol: "nft_do_chain+0x2d1", interface: "cali1234", module: "nf_tables", reason: "NETFILTER_DROP", count: 7 },
        { symbol: "ip_rcv_finish+0x1a", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 2 },
      ]),
    );
    await c.report(
      reportStatus("Running", [
        { symbol: "neigh_resolve_output+0x120", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 3 },
        { symbol: "ip_rcv_finish+0x1a", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 1 },
      ]),
    );
    const merged = await until("all three nodes merged", async () => {
      const t = await getTrace(cluster, "web");
      return t?.status?.totalDrops === 55 ? t : undefined;
    });
    // Top 3 by count; 7+7 ties with nothing; ip_rcv_finish (3) and neigh (3) tie on count: symbol order decides.
    expect(merged.status?.drops).toEqual([
      { symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", class: "depends", count: 35, nodes: 2 },
      { symbol: "nft_do_chain+0x2d1", interface: "cali1234", module: "nf_tables", reason: "NETFILTER_DROP", class: "depends", count: 14, nodes: 2 },
      { symbol: "ip_rcv_finish+0x1a", interface: "eth0", module: "kernel", reason: "NO_SOCKET", class: "depends", count: 3, nodes: 2 },
    ]);
    // What the reasons of those rows mean, for kubectl describe: each reason once, in the rows' order.
    expect(merged.status?.explanations?.map((e) => [e.reason, e.class, e.nextStep])).toEqual([
      ["NO_SOCKET", "depends", DROP_EXPLANATIONS.NO_SOCKET.nextStep],
      ["NETFILTER_DROP", "depends", DROP_EXPLANATIONS.NETFILTER_DROP.nextStep],
    ]);
    expect(merged.status?.topSymbol).toBe("udp_rcv+0x452");
    expect(merged.status?.nodes).toEqual({ desired: 3, pending: 0, running: 3, completed: 0, failed: 0 });
    expect(merged.status?.nodeProgress).toBe("0/3");
    expect(merged.status?.nodeSummary?.map((n) => [n.node, n.phase, n.totalDrops])).toEqual(
      [
        ["node-a", "Running", 22],
        ["node-b", "Running", 29],
        ["node-c", "Running", 4],
      ].sort((x, y) => Number(y[2]) - Number(x[2])),
    );

    // Final reports: Completed, the DaemonSet goes, the reports stay.
    await a.report(
      reportStatus("Completed", [
        { symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 16 },
        { symbol: "nft_do_chain+0x2d1", interface: "cali1234", module: "nf_tables", reason: "NETFILTER_DROP", count: 7 },
      ]),
    );
    await b.report(reportStatus("Completed", [{ symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 21 }]));
    await c.report(reportStatus("Completed", [{ symbol: "neigh_resolve_output+0x120", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 4 }]));
    const done = await untilPhase(cluster, "web", "Completed");
    expect(done.status?.totalDrops).toBe(48);
    expect(done.status?.drops?.map((d) => [d.symbol, d.count, d.nodes])).toEqual([
      ["udp_rcv+0x452", 37, 2],
      ["nft_do_chain+0x2d1", 7, 1],
      ["neigh_resolve_output+0x120", 4, 1],
    ]);
    expect(done.status?.nodeProgress).toBe("3/3");
    expect(done.status?.completionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(condition(done, "Ready")).toMatchObject({ status: "True", reason: "AllNodesDone" });
    expect(condition(done, "Ready")?.message).toBe(
      "48 drops counted on 3 nodes, every node finished; look first at NO_SOCKET at udp_rcv+0x452 on eth0 (37 drops): " +
        "check that the process is up and listens on the port the Service's targetPort names (ss -ltnup in the pod); " +
        "a trickle from port scans or late replies to closed connections is routine.",
    );
    expect(condition(done, "Progressing")).toMatchObject({ status: "False", reason: "AllNodesDone" });
    expect(condition(done, "Degraded")).toMatchObject({ status: "False", reason: "NodesHealthy" });
    await until("the DaemonSet to be deleted", async () => (await getDaemonSet(cluster, "web")) === undefined);
    expect(await reportNames()).toEqual([reportName("web", "node-a"), reportName("web", "node-b"), reportName("web", "node-c")]);

    // An Event per phase, with the condition's reason.
    const events = await eventsAbout(cluster, "web");
    expect(events.map((e) => [e.reason, e.type]).sort()).toEqual([
      ["AllNodesDone", "Normal"],
      ["Tracing", "Normal"],
      ["WaitingForAgents", "Normal"],
    ]);
    expect(events.every((e) => e.involvedObject.uid === trace.metadata.uid && e.metadata.namespace === "default")).toBe(true);

    // An hour later (the TTL): the trace goes, and its reports with it (owner references).
    clock.advance(3_600_000);
    await until("the TTL to delete the trace", async () => (await getTrace(cluster, "web")) === undefined, { timeoutMs: 5_000 });
    expect(await reportNames()).toEqual([]);
  });

  it("labels the DaemonSet so the controller's informer (by label) sees it", async () => {
    await startController(cluster);
    await createTrace(cluster, "labels");
    const ds = await until("the DaemonSet", () => getDaemonSet(cluster, "labels"));
    expect(ds.metadata?.labels).toEqual({
      [LABELS.trace]: "labels",
      [LABELS.component]: "agent",
      [LABELS.name]: "droptrace",
      [LABELS.managedBy]: "droptrace",
    });
    // The controller reconciled it and wrote no second version of it: the template hash settles.
    await untilPhase(cluster, "labels", "Pending");
    // A second write is an absence no wait can show: watch for one through three resyncs, each
    // of which compares the DaemonSet with the one the controller wants.
    const dsWrites = () => cluster.server.writes().filter((w) => w.path.includes("/daemonsets"));
    await holdsFor("no second DaemonSet write", 3 * FAST.resyncMs, () => dsWrites().length === 1);
    expect(dsWrites().map((w) => w.method)).toEqual(["POST"]);
  });
});
