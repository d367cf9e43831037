// The agent's view of its node's pods, over HTTP against the test API server: only its own
// node's pods, names kept after a pod is deleted, and a list that fails said as the reason.
import { CoreV1Api, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NodePods } from "../../src/agent/node-pods.js";
import { silentLogger } from "../../src/cli/log.js";
import { model } from "../support/apiserver-test-helpers.js";
import { startTestApiServer, type TestApiServer } from "../support/apiserver.js";
import { until } from "../support/until.js";

const FAST = { initialMs: 20, maxMs: 200, resetAfterMs: 60_000 };

let server: TestApiServer;
let core: CoreV1Api;
let pods: NodePods | undefined;

beforeEach(async () => {
  server = await startTestApiServer();
  core = server.kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: model<V1Namespace>({ metadata: { name: "shop" } }) });
});

afterEach(async () => {
  await pods?.stop();
  pods = undefined;
  await server.close();
});

/** A bare pod: workloadOf's owner chains are unit-tested (workload.test.ts); the test API server collects pods whose owners do not exist. */
async function createPod(name: string, node: string, labels?: Record<string, string>): Promise<string> {
  const pod = await core.createNamespacedPod({
    namespace: "shop",
    body: model<V1Pod>({
      metadata: { name, ...(labels === undefined ? {} : { labels }) },
      spec: { nodeName: node, containers: [{ name: "c", image: "registry.example.com/c:1" }] },
    }),
  });
  return pod.metadata?.uid ?? "";
}

describe("NodePods", () => {
  it("names this node's pods by UID, with their workload and labels, and not other nodes' pods", async () => {
    const uidA = await createPod("cart-5c8f9d7b6-q4w8z", "node-a", { app: "cart", tier: "web" });
    const uidB = await createPod("web-1", "node-b");
    pods = new NodePods(server.kubeConfig, "node-a", silentLogger, FAST);
    pods.start();
    await until("the pods to be listed", () => pods?.problem() === undefined);
    expect(pods.lookup(uidA)).toEqual({
      pod: { namespace: "shop", name: "cart-5c8f9d7b6-q4w8z", uid: uidA },
      workload: { kind: "Pod", name: "cart-5c8f9d7b6-q4w8z" },
      labels: { app: "cart", tier: "web" },
    });
    expect(pods.labels(uidA)).toEqual({ app: "cart", tier: "web" });
    expect(pods.lookup(uidB)).toBeUndefined();
    expect(pods.labels(uidB)).toBeUndefined();
    // It asked for its node's pods only.
    const listed = server.requests.filter((r) => r.path === "/api/v1/pods");
    expect(listed.length).toBeGreaterThan(0);
    for (const r of listed) expect(decodeURIComponent(r.query)).toContain("fieldSelector=spec.nodeName=node-a");
  });

  it("learns pods started later from the watch, and keeps the name of a pod that was deleted", async () => {
    pods = new NodePods(server.kubeConfig, "node-a", silentLogger, FAST);
    pods.start();
    await until("the pods to be listed", () => pods?.problem() === undefined);
    const uid = await createPod("db-0", "node-a");
    const named = await until("the new pod to be seen", () => pods?.lookup(uid));
    expect(named.pod.name).toBe("db-0");
    await core.deleteNamespacedPod({ namespace: "shop", name: "db-0", gracePeriodSeconds: 0 });
    await until("the pod to be gone", async () => (await core.listNamespacedPod({ namespace: "shop" })).items.length === 0);
    expect(pods.lookup(uid)?.pod.name).toBe("db-0");
  });

  it("says why pods are missing while the list fails, and names them once it recovers", async () => {
    const uid = await createPod("cart-5c8f9d7b6-q4w8z", "node-a");
    server.faults.failNext({
      method: "GET",
      pathPrefix: "/api/v1/pods",
      status: 403,
      count: 3,
      message: 'pods is forbidden: User "system:serviceaccount:droptrace-system:droptrace-agent" cannot list resource "pods"',
    });
    pods = new NodePods(server.kubeConfig, "node-a", silentLogger, FAST);
    pods.start();
    const problem = await until("the failure to be reported", () => pods?.problem()?.includes("failed") && pods.problem());
    expect(problem).toMatch(/^listing the pods on node node-a failed \(.*403.*\), retrying$/s);
    expect(pods.lookup(uid)).toBeUndefined();
    await until("the pods to be listed after all, and the failure over", () => pods?.lookup(uid) !== undefined && pods.problem() === undefined);
  });
});
