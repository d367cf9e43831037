// The reconciler's decisions, one reconcile at a time, over a recording fake of its cluster
// access (fake-cluster.ts): each case sets up the world, reconciles, and asserts exactly the
// writes that reconcile made, as cert-manager's controller tests do. End to end, against the
// test API server, the same behaviour is covered in lifecycle, node-failures and agent-start tests.
import { describe, expect, it } from "vitest";
import { REASON } from "../../src/api/conditions.js";
import type { DropTraceStatus } from "../../src/api/droptrace.js";
import { controllerMetrics } from "../../src/api/metrics.js";
import { silentLogger } from "../../src/cli/log.js";
import { Reconciler } from "../../src/controller/reconciler.js";
import { controllerSettings } from "../../src/controller/settings.js";
import type { ReportView } from "../../src/controller/status/report-view.js";
import { apiError, FakeCluster, type Write } from "./fake-cluster.js";

const T0 = Date.parse("2026-03-01T10:00:00Z");
const NS = "droptrace-system";
const settings = controllerSettings({ POD_NAMESPACE: NS, DROPTRACE_AGENT_IMAGE: "registry.example.com/droptrace-agent:0.1.0" });
const TIMINGS = { deadlineGraceMs: 60_000, statusIntervalMs: 10_000, agentStartWaitMs: 120_000 };

/** One trace, a fake cluster around it, a reconciler and a clock the test moves. */
function world(spec: Record<string, unknown> = { duration: "60s", topN: 20, tolerations: [{ operator: "Exists" }] }) {
  let now = T0;
  const cluster = new FakeCluster("t", spec, settings, undefined, () => now);
  const reconciler = () =>
    new Reconciler({
      source: cluster,
      writer: cluster,
      settings: { ...settings, identity: "test" },
      timings: TIMINGS,
      clock: () => now,
      log: silentLogger,
      metrics: controllerMetrics(),
    });
  let current = reconciler();
  return {
    cluster,
    advance: (ms: number) => {
      now += ms;
    },
    /** A new controller process: nothing remembered. */
    restart: () => {
      current = reconciler();
    },
    reconcile: async () => {
      const result = await current.reconcile("t");
      return { result, writes: cluster.takeWrites() };
    },
  };
}

const ready = (status: DropTraceStatus | undefined) => status?.conditions?.find((c) => c.type === "Ready");
const degraded = (status: DropTraceStatus | undefined) => status?.conditions?.find((c) => c.type === "Degraded");
const statuses = (writes: Write[]) => writes.flatMap((w) => (w.verb === "writeStatus" ? [w.status] : []));
const verbs = (writes: Write[]) => writes.map((w) => (w.verb === "recordEvent" ? `recordEvent ${w.type} ${w.reason}` : w.verb));

function report(node: string, phase: ReportView["phase"], totalDrops = 0): ReportView {
  return { metadata: { name: `t-${node}` }, trace: "t", traceUid: "uid-t", node, phase, totalDrops, uncountedDrops: 0, rows: [] };
}

describe("a new trace", () => {
  it("writes its start first, then creates the DaemonSet, and announces Pending", async () => {
    const w = world();
    const { writes, result } = await w.reconcile();
    expect(verbs(writes)).toEqual(["writeStatus", "createDaemonSet", "recordEvent Normal WaitingForAgents"]);
    expect(statuses(writes)[0]).toMatchObject({ phase: "Pending", startTime: "2026-03-01T10:00:00Z" });
    expect(result.requeueAfterMs).toBeGreaterThan(0);
  });

  it("writes nothing when nothing changed", async () => {
    const w = world();
    await w.reconcile();
    w.advance(1_000);
    expect((await w.reconcile()).writes).toEqual([]);
  });

  it("is refused before anything runs when its spec is invalid", async () => {
    const w = world({ duration: "60s", topN: 20, tolerations: [], nodeSelector: { "bad key!": "x" } });
    const { writes } = await w.reconcile();
    expect(verbs(writes)).toEqual(["writeStatus", "recordEvent Warning InvalidSpec"]);
    expect(statuses(writes)[0]?.phase).toBe("Failed");
  });
});

describe("a DaemonSet the API server refuses", () => {
  it.each([
    [
      422,
      'DaemonSet.apps "droptrace-t" is invalid: spec.template.spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy',
      /--allow-privileged/,
    ],
    [403, 'admission webhook "validate.kyverno.svc-fail" denied the request: privileged containers are not allowed', /exception in the policy/],
    [
      403,
      'daemonsets.apps is forbidden: User "system:serviceaccount:droptrace-system:droptrace-controller" cannot create resource "daemonsets"',
      /helm upgrade/,
    ],
  ])("answered %i ends the trace Failed at once, with the server's words and a Warning", async (code, words, advice) => {
    const w = world();
    w.cluster.failNext("createDaemonSet", apiError(code, words, "creating DaemonSet"));
    const { writes, result } = await w.reconcile();
    expect(verbs(writes)).toEqual(["writeStatus", "writeStatus", "recordEvent Warning AgentsRefused"]);
    const failed = statuses(writes)[1];
    expect(failed).toMatchObject({ phase: "Failed", startTime: "2026-03-01T10:00:00Z" });
    expect(ready(failed)).toMatchObject({ status: "False", reason: REASON.agentsRefused });
    expect(ready(failed)?.message).toContain(words);
    expect(ready(failed)?.message).toMatch(advice);
    expect(w.cluster.daemonSetObject).toBeUndefined();
    expect(result).toEqual({});
    // Final: the next reconcile writes nothing and creates nothing.
    expect((await w.reconcile()).writes).toEqual([]);
  });

  it("answered 503 says it waits on the API server, retries, and recovers", async () => {
    const w = world();
    w.cluster.failNext("createDaemonSet", apiError(503, "etcdserver: leader changed", "creating DaemonSet"));
    const failing = w.reconcile();
    await expect(failing).rejects.toThrow(/could not be written: HTTP 503: etcdserver: leader changed/);
    const waiting = w.cluster.status;
    expect(waiting?.phase).toBe("Pending");
    expect(ready(waiting)).toMatchObject({ reason: REASON.waitingForApiServer });
    w.cluster.takeWrites();
    w.advance(1_000);
    const { writes } = await w.reconcile();
    expect(verbs(writes)).toEqual(["createDaemonSet", "writeStatus", "recordEvent Normal WaitingForAgents"]);
    expect(ready(w.cluster.status)?.reason).toBe(REASON.waitingForAgents);
  });

  it("keeps the first deadline across retries and a restarted controller", async () => {
    const w = world();
    for (let i = 0; i < 3; i += 1) {
      w.cluster.failNext("createDaemonSet", apiError(500, "Internal error", "creating DaemonSet"));
      await expect(w.reconcile()).rejects.toThrow();
      w.advance(30_000);
      w.restart();
    }
    expect(w.cluster.status?.startTime).toBe("2026-03-01T10:00:00Z");
    // start + 60s + 60s grace: past it, with no agent ever created, the trace ends.
    w.advance(31_000);
    w.cluster.failNext("createDaemonSet", apiError(500, "Internal error", "creating DaemonSet"));
    const { writes } = await w.reconcile();
    expect(statuses(writes).at(-1)?.phase).toBe("Failed");
  });
});

describe("agents that do not start", () => {
  async function running(nodes: number, duration = "60s") {
    const w = world({ duration, topN: 20, tolerations: [{ operator: "Exists" }] });
    await w.reconcile();
    w.cluster.setDaemonSetStatus({ desired: nodes, current: 0 });
    return w;
  }

  it("refused by Pod Security: Degraded at once with the label command, Failed after the start wait", async () => {
    const w = await running(3);
    w.cluster.addFailedCreate(
      'Error creating: pods "droptrace-t-x2k9q" is forbidden: violates PodSecurity "baseline:latest": privileged (container "agent" must not set securityContext.privileged=true)',
    );
    w.advance(10_000);
    const first = await w.reconcile();
    expect(verbs(first.writes)).toEqual(["writeStatus", "recordEvent Warning AgentPodsRefused"]);
    const status = w.cluster.status;
    expect(status?.phase).toBe("Pending");
    expect(degraded(status)).toMatchObject({ status: "True", reason: REASON.agentPodsRefused });
    expect(degraded(status)?.message).toContain(`kubectl label namespace ${NS} pod-security.kubernetes.io/enforce=privileged --overwrite`);
    expect(degraded(status)?.message).toContain("violates PodSecurity");
    expect(first.result.requeueAfterMs).toBe(110_000);

    w.advance(110_000);
    const { writes } = await w.reconcile();
    expect(verbs(writes)).toEqual(["writeStatus", "recordEvent Warning AgentPodsRefused", "deleteDaemonSet"]);
    expect(w.cluster.status?.phase).toBe("Failed");
    expect(ready(w.cluster.status)?.message).toMatch(/^no agent could start: AgentPodsRefused on 3 nodes: Error creating/);
  });

  it("an image that cannot be pulled names the nodes, the image and the fix", async () => {
    const w = await running(2);
    w.cluster.setDaemonSetStatus({ desired: 2, current: 2 });
    w.cluster.setPod("node-a", {
      cause: REASON.agentImagePullFailed,
      message: 'ImagePullBackOff: Back-off pulling image "registry.example.com/droptrace-agent:0.1.0"',
    });
    w.cluster.setPod("node-b", { cause: REASON.agentImagePullFailed, message: "ErrImagePull: not found" });
    w.advance(10_000);
    await w.reconcile();
    const status = w.cluster.status;
    expect(degraded(status)?.reason).toBe(REASON.agentImagePullFailed);
    expect(degraded(status)?.message).toContain("AgentImagePullFailed on 2 nodes (node-a, node-b)");
    expect(degraded(status)?.message).toContain("registry.example.com/droptrace-agent:0.1.0");
    expect(status?.nodeSummary?.map((n) => [n.node, n.phase, n.reason])).toEqual([
      ["node-a", "NotReporting", REASON.agentImagePullFailed],
      ["node-b", "NotReporting", REASON.agentImagePullFailed],
    ]);
    w.advance(110_000);
    await w.reconcile();
    expect(w.cluster.status).toMatchObject({ phase: "Failed" });
    expect(ready(w.cluster.status)?.reason).toBe(REASON.agentImagePullFailed);
  });

  it("one node that cannot schedule its agent does not end a trace the others run", async () => {
    const w = await running(3, "10m");
    w.cluster.setDaemonSetStatus({ desired: 3, current: 3 });
    w.cluster.setPod("node-c", { cause: REASON.agentsUnschedulable, message: "0/3 nodes are available: 1 Insufficient memory." });
    w.cluster.setReport(report("node-a", "Running", 5));
    w.cluster.setReport(report("node-b", "Running", 7));
    w.advance(130_000);
    await w.reconcile();
    const status = w.cluster.status;
    expect(status?.phase).toBe("Running");
    expect(degraded(status)).toMatchObject({ status: "True", reason: REASON.agentsUnschedulable });
    expect(degraded(status)?.message).toContain("agent.resources");
  });

  it("a node selector that matches no node ends after the start wait, not at the deadline", async () => {
    const w = await running(0);
    w.advance(119_000);
    expect((await w.reconcile()).writes.map((x) => x.verb)).toEqual([]);
    w.advance(1_000);
    await w.reconcile();
    expect(w.cluster.status?.phase).toBe("Failed");
    expect(ready(w.cluster.status)?.reason).toBe(REASON.noNodesSelected);
  });

  it("a crash loop before the first report says how to read the agent's log", async () => {
    const w = await running(1);
    w.cluster.setDaemonSetStatus({ desired: 1, current: 1 });
    w.cluster.setPod("node-a", { cause: REASON.agentsCrashing, message: "CrashLoopBackOff: back-off 40s; last exit 2 (Error)" });
    w.advance(10_000);
    await w.reconcile();
    expect(degraded(w.cluster.status)?.message).toContain(`kubectl -n ${NS} logs -p -l droptrace.io/trace=t`);
  });
});

describe("a trace whose nodes report", () => {
  it("is Running with the first report and Completed when every node is done, then its DaemonSet goes", async () => {
    const w = world();
    await w.reconcile();
    w.cluster.setDaemonSetStatus({ desired: 2, current: 2 });
    w.cluster.setReport(report("node-a", "Running", 3));
    w.advance(5_000);
    let step = await w.reconcile();
    expect(verbs(step.writes)).toEqual(["writeStatus", "recordEvent Normal Tracing"]);
    expect(w.cluster.status?.phase).toBe("Running");
    w.cluster.setReport(report("node-a", "Completed", 3));
    w.cluster.setReport(report("node-b", "Completed", 4));
    w.advance(5_000);
    step = await w.reconcile();
    expect(verbs(step.writes)).toEqual(["writeStatus", "recordEvent Normal AllNodesDone", "deleteDaemonSet"]);
    expect(w.cluster.status).toMatchObject({ phase: "Completed", nodeProgress: "2/2" });
  });

  it("holds a count change back until the status interval, then writes it once", async () => {
    const w = world();
    await w.reconcile();
    w.cluster.setDaemonSetStatus({ desired: 1, current: 1 });
    w.cluster.setReport(report("node-a", "Running", 3));
    w.advance(1_000);
    await w.reconcile();
    w.cluster.setReport(report("node-a", "Running", 9));
    w.advance(1_000);
    const held = await w.reconcile();
    expect(held.writes).toEqual([]);
    expect(held.result.requeueAfterMs).toBe(9_000);
    w.advance(9_000);
    expect(statuses((await w.reconcile()).writes).map((s) => s.totalDrops)).toEqual([9]);
  });
});
