// Why agents do not start, read from pods and Events as the API server serves them (shapes of
// kubelet's and the scheduler's real statuses, and the DaemonSet controller's real messages).
import { describe, expect, it } from "vitest";
import { REASON } from "../../../src/api/conditions.js";
import {
  agentStartProblems,
  describeAgentStartProblem,
  toAgentPodView,
  toDaemonSetEventView,
  type AgentPodView,
} from "../../../src/controller/status/agent-start.js";

const where = { namespace: "droptrace-system", daemonSet: "droptrace-t", image: "registry.example.com/droptrace-agent:0.1.0", traceLabel: "t" };

function pod(name: string, spec: Record<string, unknown>, status: Record<string, unknown>) {
  return {
    metadata: {
      name,
      namespace: "droptrace-system",
      resourceVersion: "7",
      labels: { "droptrace.io/trace": "t", "app.kubernetes.io/component": "agent" },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "droptrace-t", uid: "ds-1", controller: true }],
    },
    spec,
    status,
  };
}

// How the DaemonSet controller pins a pod to its node before the scheduler binds it.
const affinity = (node: string) => ({
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }] },
    },
  },
});

describe("an agent pod", () => {
  it("that cannot pull its image", () => {
    const view = toAgentPodView(
      pod(
        "droptrace-t-abcde",
        { nodeName: "node-a" },
        {
          phase: "Pending",
          containerStatuses: [
            {
              name: "agent",
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: "ImagePullBackOff", message: 'Back-off pulling image "registry.example.com/droptrace-agent:0.1.0"' } },
            },
          ],
        },
      ),
    );
    expect(view).toEqual({
      metadata: { name: "droptrace-t-abcde", namespace: "droptrace-system", resourceVersion: "7" },
      traceLabel: "t",
      daemonSetUid: "ds-1",
      node: "node-a",
      problem: { cause: REASON.agentImagePullFailed, message: 'ImagePullBackOff: Back-off pulling image "registry.example.com/droptrace-agent:0.1.0"' },
    });
  });

  it("that the scheduler cannot place, named by the node its affinity pins it to", () => {
    const view = toAgentPodView(
      pod("droptrace-t-fghij", affinity("node-b"), {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.",
          },
        ],
      }),
    );
    expect(view?.node).toBe("node-b");
    expect(view?.problem).toEqual({
      cause: REASON.agentsUnschedulable,
      message: "0/3 nodes are available: 1 Insufficient memory, 2 node(s) didn't match Pod's node affinity/selector.",
    });
  });

  it("that keeps crashing, with its last exit", () => {
    const view = toAgentPodView(
      pod(
        "droptrace-t-klmno",
        { nodeName: "node-c" },
        {
          phase: "Running",
          containerStatuses: [
            {
              name: "agent",
              restartCount: 4,
              state: {
                waiting: {
                  reason: "CrashLoopBackOff",
                  message: "back-off 1m20s restarting failed container=agent pod=droptrace-t-klmno_droptrace-system(uid)",
                },
              },
              lastState: { terminated: { exitCode: 2, reason: "Error" } },
            },
          ],
        },
      ),
    );
    expect(view?.problem?.cause).toBe(REASON.agentsCrashing);
    expect(view?.problem?.message).toMatch(/^CrashLoopBackOff: back-off 1m20s .*; last exit 2 \(Error\)$/);
  });

  it("that is starting (ContainerCreating, pulling) or running has no problem", () => {
    const creating = pod(
      "p",
      { nodeName: "n" },
      { phase: "Pending", containerStatuses: [{ name: "agent", state: { waiting: { reason: "ContainerCreating" } } }] },
    );
    const running = pod(
      "q",
      { nodeName: "n" },
      { phase: "Running", containerStatuses: [{ name: "agent", state: { running: { startedAt: "2026-03-01T10:00:00Z" } } }] },
    );
    expect(toAgentPodView(creating)?.problem).toBeUndefined();
    expect(toAgentPodView(running)?.problem).toBeUndefined();
  });
});

describe("the DaemonSet controller's Events", () => {
  const event = (reason: string, type = "Warning") => ({
    metadata: { name: "droptrace-t.17f0a", namespace: "droptrace-system" },
    involvedObject: { kind: "DaemonSet", namespace: "droptrace-system", name: "droptrace-t", uid: "ds-1", apiVersion: "apps/v1" },
    reason,
    type,
    message:
      'Error creating: pods "droptrace-t-x2k9q" is forbidden: violates PodSecurity "baseline:latest": privileged (container "agent" must not set securityContext.privileged=true)',
    count: 12,
  });

  it("keeps FailedCreate warnings, and nothing else", () => {
    expect(toDaemonSetEventView(event("FailedCreate"))).toMatchObject({ daemonSet: "droptrace-t", daemonSetUid: "ds-1" });
    expect(toDaemonSetEventView(event("SuccessfulCreate", "Normal"))).toBeUndefined();
  });

  it("count the nodes without a pod, and give the label command for Pod Security", () => {
    const refused = toDaemonSetEventView(event("FailedCreate"));
    if (refused === undefined) throw new Error("no view");
    const [problem] = agentStartProblems({ pods: [], events: [refused], reported: new Set(), desired: 5, current: 0 });
    expect(problem).toMatchObject({ cause: REASON.agentPodsRefused, count: 5, nodes: [] });
    expect(problem && describeAgentStartProblem(problem, where)).toBe(
      `AgentPodsRefused on 5 nodes: ${refused.message}; the namespace's Pod Security level refuses privileged pods: kubectl label namespace droptrace-system pod-security.kubernetes.io/enforce=privileged --overwrite`,
    );
  });

  it("are old news once every node has its pod", () => {
    const refused = toDaemonSetEventView(event("FailedCreate"));
    expect(agentStartProblems({ pods: [], events: refused === undefined ? [] : [refused], reported: new Set(), desired: 5, current: 5 })).toEqual([]);
  });
});

describe("problems across nodes", () => {
  const failing = (node: string, cause: AgentPodView["problem"]): AgentPodView => ({
    metadata: { name: node, namespace: "ns" },
    traceLabel: "t",
    daemonSetUid: "ds-1",
    node,
    problem: cause,
  });

  it("are grouped by cause, most nodes first, and forget nodes that reported", () => {
    const image = { cause: REASON.agentImagePullFailed, message: "ErrImagePull" } as const;
    const crash = { cause: REASON.agentsCrashing, message: "CrashLoopBackOff" } as const;
    const problems = agentStartProblems({
      pods: [failing("c", image), failing("a", image), failing("b", crash), failing("d", image)],
      events: [],
      reported: new Set(["d"]),
      desired: 4,
      current: 4,
    });
    expect(problems.map((p) => [p.cause, p.count, p.nodes])).toEqual([
      [REASON.agentImagePullFailed, 2, ["a", "c"]],
      [REASON.agentsCrashing, 1, ["b"]],
    ]);
  });
});
