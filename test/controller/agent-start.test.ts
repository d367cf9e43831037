// A DropTrace whose agents the cluster refuses, or whose agents never start, says so and ends:
// seen as a user sees it (`kubectl get dt`, `kubectl describe dt`, the conditions and Events),
// against the test API server with refusals on cue (its admission policies) and the DaemonSet
// controller played by the test.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { V1PodStatus } from "@kubernetes/client-node";
import { privilegedDisallowed, webhookDenies } from "../support/apiserver.js";
import { model } from "../support/apiserver-test-helpers.js";
import { Cli } from "../support/apiserver-cli-helpers.js";
import { until } from "../support/until.js";
import {
  condition,
  createTrace,
  eventsAbout,
  FAST,
  getDaemonSet,
  getTrace,
  NAMESPACE,
  refusePods,
  scheduleAgentPod,
  setDesiredNodes,
  startCluster,
  startController,
  stopController,
  TestClock,
  untilPhase,
  type Cluster,
} from "./harness.js";

let cluster: Cluster;
let cli: Cli;
beforeEach(async () => {
  cluster = await startCluster();
  cli = new Cli(cluster.server);
});
afterEach(async () => {
  cli.cleanup();
  await cluster.close();
});

const PRIVILEGED_FORBIDDEN =
  'DaemonSet.apps "droptrace-policy" is invalid: spec.template.spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy';

describe("a DaemonSet the API server refuses", () => {
  it("(--allow-privileged=false) ends the trace Failed at once, in kubectl's words and with a Warning Event", async () => {
    cluster.server.admission.add(privilegedDisallowed());
    await startController(cluster);
    const started = Date.now();
    await createTrace(cluster, "policy", { duration: "5s" });
    const failed = await untilPhase(cluster, "policy", "Failed");
    // Seconds, not the duration and its grace: there is nothing to wait for.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(condition(failed, "Ready")).toMatchObject({ status: "False", reason: "AgentsRefused" });
    expect(condition(failed, "Ready")?.message).toContain(PRIVILEGED_FORBIDDEN);
    expect(condition(failed, "Ready")?.message).toContain(`allow that for DaemonSets in namespace ${NAMESPACE}`);
    expect(failed.status?.startTime).toBeDefined();
    expect(await getDaemonSet(cluster, "policy")).toBeUndefined();
    const event = await until("the Warning Event", async () => (await eventsAbout(cluster, "policy")).find((e) => e.reason === "AgentsRefused"));
    expect(event.type).toBe("Warning");

    const get = await cli.kubectl(["get", "dt", "policy"]);
    expect(get.stdout.split("\n")[1]).toMatch(/^policy\s+Failed\s+0\/0\s+0\s+/);
    const describe = await cli.kubectl(["describe", "dt", "policy"]);
    expect(describe.stdout).toContain("Reason:                AgentsRefused");
    expect(describe.stdout).toMatch(/Warning\s+AgentsRefused\s+.*droptrace-controller/);
  });

  it("(a policy engine's webhook) says which webhook and why", async () => {
    cluster.server.admission.add(webhookDenies("daemonsets", "validate.kyverno.svc-fail", "validation error: privileged containers are not allowed"));
    await startController(cluster);
    await createTrace(cluster, "kyverno", { duration: "5s" });
    const failed = await untilPhase(cluster, "kyverno", "Failed");
    expect(condition(failed, "Ready")?.message).toContain(
      'admission webhook "validate.kyverno.svc-fail" denied the request: validation error: privileged containers are not allowed',
    );
  });

  it("answered 503 says the trace waits on the API server, retries, and recovers", async () => {
    cluster.server.faults.failNext({ method: "POST", pathPrefix: `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets`, status: 503, count: 3 });
    await startController(cluster);
    await createTrace(cluster, "flaky", { duration: "60s" });
    const waiting = await until("Ready to say it waits on the API server", async () => {
      const t = await getTrace(cluster, "flaky");
      return condition(t, "Ready")?.reason === "WaitingForAPIServer" ? t : undefined;
    });
    expect(waiting.status?.phase).toBe("Pending");
    expect(condition(waiting, "Ready")?.message).toMatch(/HTTP 503/);
    await until("the DaemonSet, created once the server recovered", () => getDaemonSet(cluster, "flaky"));
    const recovered = await until("Ready back to waiting for agents", async () => {
      const t = await getTrace(cluster, "flaky");
      return condition(t, "Ready")?.reason === "WaitingForAgents" ? t : undefined;
    });
    expect(recovered.status?.startTime).toBe(waiting.status?.startTime);
  });

  it("keeps its deadline across a restarted controller while the server keeps failing, and then ends", async () => {
    const clock = new TestClock();
    cluster.server.faults.failNext({ method: "POST", pathPrefix: `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets`, status: 500, count: 1_000_000 });
    const first = await startController(cluster, { clock: clock.now });
    await createTrace(cluster, "stuck", { duration: "10s" });
    const waiting = await until("the recorded start", async () => {
      const t = await getTrace(cluster, "stuck");
      return condition(t, "Ready")?.reason === "WaitingForAPIServer" ? t : undefined;
    });
    await stopController(cluster, first);
    clock.advance(8_000);
    await startController(cluster, { clock: clock.now });
    // The new controller computes the same deadline: start + 10s + grace, not now + 10s + grace.
    clock.advance(3_000 + FAST.deadlineGraceMs);
    const failed = await untilPhase(cluster, "stuck", "Failed");
    expect(failed.status?.startTime).toBe(waiting.status?.startTime);
  });
});

describe("agents the cluster does not start", () => {
  it("refused by Pod Security: Degraded with the label command at once, Failed after the start wait", async () => {
    const clock = new TestClock();
    await startController(cluster, { clock: clock.now });
    await createTrace(cluster, "psa", { duration: "60s" });
    await until("the DaemonSet", () => getDaemonSet(cluster, "psa"));
    await refusePods(
      cluster,
      "psa",
      2,
      'pods "droptrace-psa-x2k9q" is forbidden: violates PodSecurity "baseline:latest": privileged (container "agent" must not set securityContext.privileged=true), hostPath volumes (volumes "lib-modules", "usr-src")',
    );
    const degraded = await until("Degraded AgentPodsRefused", async () => {
      const t = await getTrace(cluster, "psa");
      return condition(t, "Degraded")?.reason === "AgentPodsRefused" ? t : undefined;
    });
    expect(degraded.status?.phase).toBe("Pending");
    expect(condition(degraded, "Degraded")?.message).toContain(
      `kubectl label namespace ${NAMESPACE} pod-security.kubernetes.io/enforce=privileged --overwrite`,
    );
    expect(condition(degraded, "Degraded")?.message).toContain("AgentPodsRefused on 2 nodes: Error creating: pods");
    await until("its Warning Event", async () => (await eventsAbout(cluster, "psa")).find((e) => e.reason === "AgentPodsRefused" && e.type === "Warning"));

    clock.advance(FAST.agentStartWaitMs);
    const failed = await untilPhase(cluster, "psa", "Failed");
    expect(condition(failed, "Ready")).toMatchObject({ reason: "AgentPodsRefused" });
    expect(condition(failed, "Ready")?.message).toMatch(/^no agent could start: AgentPodsRefused on 2 nodes/);
    await until("the DaemonSet deleted", async () => (await getDaemonSet(cluster, "psa")) === undefined);
  });

  it("an image that cannot be pulled: named per node, Failed after the start wait", async () => {
    const clock = new TestClock();
    await startController(cluster, { clock: clock.now });
    await createTrace(cluster, "pull", { duration: "60s" });
    await until("the DaemonSet", () => getDaemonSet(cluster, "pull"));
    await setDesiredNodes(cluster, "pull", 2);
    const backOff = { state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "ghcr.io/example/droptrace:0.1.0"' } } };
    for (const node of ["node-a", "node-b"]) {
      await scheduleAgentPod(
        cluster,
        "pull",
        node,
        model<V1PodStatus>({
          phase: "Pending",
          containerStatuses: [{ name: "agent", image: "ghcr.io/example/droptrace:0.1.0", imageID: "", ready: false, restartCount: 0, ...backOff }],
        }),
      );
    }
    const degraded = await until("Degraded AgentImagePullFailed on both nodes", async () => {
      const t = await getTrace(cluster, "pull");
      return condition(t, "Degraded")?.message.startsWith("AgentImagePullFailed on 2 nodes") === true ? t : undefined;
    });
    expect(condition(degraded, "Degraded")?.message).toContain("AgentImagePullFailed on 2 nodes (node-a, node-b): ImagePullBackOff");
    expect(degraded.status?.nodeSummary?.map((n) => [n.node, n.phase, n.reason])).toEqual([
      ["node-a", "NotReporting", "AgentImagePullFailed"],
      ["node-b", "NotReporting", "AgentImagePullFailed"],
    ]);
    clock.advance(FAST.agentStartWaitMs);
    const failed = await untilPhase(cluster, "pull", "Failed");
    expect(condition(failed, "Ready")?.reason).toBe("AgentImagePullFailed");
  });
});
