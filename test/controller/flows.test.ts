// Flows end to end: agents' rows with flows, the controller's status naming their addresses from
// the cluster's pods and Services, and the status still written when it may not list pods.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { V1Pod, V1PodStatus, V1Service } from "@kubernetes/client-node";
import {
  agents,
  createTrace,
  eventsAbout,
  getDaemonSet,
  getTrace,
  reportStatus,
  setDesiredNodes,
  startCluster,
  startController,
  type Cluster,
} from "./harness.js";
import { model } from "../support/apiserver-test-helpers.js";
import { until } from "../support/until.js";

let cluster: Cluster;
beforeEach(async () => {
  cluster = await startCluster({ namespaces: ["default", "shop", "kube-system", "droptrace-system"] });
});
afterEach(async () => {
  await cluster.close();
});

const udp = { symbol: "udp_rcv+0x452", module: "kernel", reason: "NO_SOCKET", interface: "eth0", netns: 7 };
const flow = (source: string, destination: string, count: number) => ({
  protocol: "UDP",
  source: { address: source, port: 40000 },
  destination: { address: destination, port: 53 },
  count,
});

async function cartPodAndDns(): Promise<void> {
  const pod = await cluster.core.createNamespacedPod({
    namespace: "shop",
    body: model<V1Pod>({
      metadata: { name: "cart-1", namespace: "shop" },
      spec: { nodeName: "node-a", containers: [{ name: "app", image: "example/app:1" }] },
    }),
  });
  await cluster.core.replaceNamespacedPodStatus({
    namespace: "shop",
    name: "cart-1",
    body: Object.assign(pod, { status: model<V1PodStatus>({ phase: "Running", podIP: "10.1.0.5", podIPs: [{ ip: "10.1.0.5" }] }) }),
  });
  await cluster.core.createNamespacedService({
    namespace: "kube-system",
    body: model<V1Service>({
      metadata: { name: "kube-dns", namespace: "kube-system" },
      spec: { clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10"], ports: [{ port: 53, protocol: "UDP" }] },
    }),
  });
}

async function traceWithFlows(name: string): Promise<void> {
  const trace = await createTrace(cluster, name, { duration: "60s", reportInterval: "5s" });
  await until("the DaemonSet", () => getDaemonSet(cluster, name));
  await setDesiredNodes(cluster, name, 1);
  const [a] = agents(cluster, trace, "node-a");
  await a?.report(
    reportStatus("Running", [
      { ...udp, count: 12, flows: [flow("10.1.0.5", "10.96.0.10", 9), flow("10.1.0.9", "10.96.0.10", 2)], unparsedFlows: 1, otherFlows: 0 },
    ]),
  );
}

describe("a DropTrace's flows", () => {
  it("names a flow's pod and Service in status, and leaves an address nothing in the cluster has unnamed", async () => {
    await cartPodAndDns();
    await startController(cluster);
    await traceWithFlows("flows");
    const named = await until("the flows named", async () => {
      const t = await getTrace(cluster, "flows");
      return t?.status?.drops?.[0]?.flows?.[0]?.source.name === undefined ? undefined : t;
    });
    expect(named.status?.drops?.[0]).toMatchObject({
      count: 12,
      flows: [
        {
          protocol: "UDP",
          source: { address: "10.1.0.5", port: 40000, name: "shop/cart-1" },
          destination: { address: "10.96.0.10", port: 53, name: "svc/kube-system/kube-dns" },
          count: 9,
        },
        {
          protocol: "UDP",
          source: { address: "10.1.0.9", port: 40000 },
          destination: { address: "10.96.0.10", port: 53, name: "svc/kube-system/kube-dns" },
          count: 2,
        },
      ],
      unparsedFlows: 1,
      otherFlows: 0,
    });
    // Every watch of the address index is up: no Event says addresses are unnamed.
    expect((await eventsAbout(cluster, "flows")).map((e) => e.reason)).not.toContain("FlowAddressesUnnamed");
    // The reports keep the addresses as the node saw them.
    const reports = (await cluster.custom.listClusterCustomObject({ group: "droptrace.io", version: "v1alpha1", plural: "droptracereports" })) as {
      items: { status?: { rows?: { flows?: { source: { name?: string } }[] }[] } }[];
    };
    expect(reports.items[0]?.status?.rows?.[0]?.flows?.[0]?.source.name).toBeUndefined();
  });

  it("writes the status with the addresses unnamed while listing pods is refused", async () => {
    await cartPodAndDns();
    cluster.server.faults.failNext({ method: "GET", pathPrefix: "/api/v1/pods", status: 403, count: 1_000_000 });
    await startController(cluster);
    await traceWithFlows("refused");
    const merged = await until("the flows merged", async () => {
      const t = await getTrace(cluster, "refused");
      return t?.status?.drops?.[0]?.flows === undefined ? undefined : t;
    });
    expect(merged.status?.drops?.[0]?.flows?.[0]).toEqual({
      protocol: "UDP",
      source: { address: "10.1.0.5", port: 40000 },
      // Services could be listed: their addresses are named.
      destination: { address: "10.96.0.10", port: 53, name: "svc/kube-system/kube-dns" },
      count: 9,
    });
    // And says why, once: a Warning Event on the trace quoting the failing watch.
    const warned = await until("the Event about unnamed addresses", async () => {
      const events = (await eventsAbout(cluster, "refused")).filter((e) => e.reason === "FlowAddressesUnnamed");
      return events.length > 0 ? events : undefined;
    });
    expect(warned).toHaveLength(1);
    expect(warned[0]?.type).toBe("Warning");
    expect(warned[0]?.message).toMatch(/^flow addresses are shown unnamed: the address-pods watch fails: .*403.*list and watch on pods, services and nodes$/s);
  });
});
