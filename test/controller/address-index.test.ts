// The address index against the test API server: pods, Services and nodes named by their
// addresses as they come, change and go, with only the names and addresses kept; and a denied
// list leaves addresses unnamed and says why.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { V1Node, V1Pod, V1PodStatus, V1Service } from "@kubernetes/client-node";
import { clusterAddressIndex, type AddressIndex } from "../../src/controller/address-index.js";
import { FAST, startCluster, testLog, type Cluster } from "./harness.js";
import { model } from "../support/apiserver-test-helpers.js";
import { until } from "../support/until.js";

let cluster: Cluster;
let index: AddressIndex | undefined;
beforeEach(async () => {
  cluster = await startCluster({ namespaces: ["default", "shop", "kube-system"] });
});
afterEach(async () => {
  await index?.stop();
  index = undefined;
  await cluster.close();
});

function startIndex(): AddressIndex {
  index = clusterAddressIndex(cluster.server.kubeConfig, { backoff: FAST.watchBackoff, log: testLog });
  index.start();
  return index;
}

async function createPod(namespace: string, name: string, ips: string[], extra: { hostNetwork?: boolean; phase?: string } = {}): Promise<V1Pod> {
  const pod = await cluster.core.createNamespacedPod({
    namespace,
    body: model<V1Pod>({
      metadata: { name, namespace, labels: { app: name } },
      spec: { nodeName: "node-a", ...(extra.hostNetwork === true ? { hostNetwork: true } : {}), containers: [{ name: "app", image: "example/app:1" }] },
    }),
  });
  return cluster.core.replaceNamespacedPodStatus({
    namespace,
    name,
    body: Object.assign(pod, {
      status: model<V1PodStatus>({ phase: extra.phase ?? "Running", ...(ips[0] === undefined ? {} : { podIP: ips[0] }), podIPs: ips.map((ip) => ({ ip })) }),
    }),
  });
}

describe("the address index", () => {
  it("names pods in any namespace, Services by their cluster IPs and nodes by their addresses; a host-network pod's address names its node", async () => {
    await createPod("shop", "cart-1", ["10.1.0.5", "fd00:1::5"]);
    await createPod("kube-system", "kube-proxy-x", ["192.168.0.10"], { hostNetwork: true });
    await cluster.core.createNamespacedService({
      namespace: "kube-system",
      body: model<V1Service>({
        metadata: { name: "kube-dns", namespace: "kube-system" },
        spec: { clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10", "fd00:96::a"], ports: [{ port: 53, protocol: "UDP" }] },
      }),
    });
    await cluster.core.createNamespacedService({
      namespace: "shop",
      body: model<V1Service>({
        metadata: { name: "cart-headless", namespace: "shop" },
        spec: { clusterIP: "None", clusterIPs: ["None"], ports: [{ port: 8080 }] },
      }),
    });
    await cluster.core.createNode({
      body: model<V1Node>({
        metadata: { name: "node-a" },
        status: {
          addresses: [
            { type: "InternalIP", address: "192.168.0.10" },
            { type: "ExternalIP", address: "203.0.113.7" },
            { type: "Hostname", address: "node-a" },
          ],
        },
      }),
    });
    const addresses = startIndex();
    await until("the index listed", () => addresses.problem() === undefined);
    expect(addresses.name("10.1.0.5")).toBe("shop/cart-1");
    expect(addresses.name("fd00:1::5")).toBe("shop/cart-1");
    expect(addresses.name("10.96.0.10")).toBe("svc/kube-system/kube-dns");
    expect(addresses.name("fd00:96::a")).toBe("svc/kube-system/kube-dns");
    expect(addresses.name("192.168.0.10")).toBe("node-a");
    expect(addresses.name("203.0.113.7")).toBe("node-a");
    expect(addresses.name("None")).toBeUndefined();
    expect(addresses.name("node-a")).toBeUndefined();
    expect(addresses.name("10.9.9.9")).toBeUndefined();
  });

  it("follows pods as they get an IP, finish and are deleted, and keeps an IP a new pod took over", async () => {
    const addresses = startIndex();
    await until("the index listed", () => addresses.problem() === undefined);
    await createPod("shop", "cart-1", ["10.1.0.5"]);
    await until("cart-1 named", () => addresses.name("10.1.0.5") === "shop/cart-1");

    // A finished pod keeps its IP in its status, but the IP may already be another pod's.
    await createPod("shop", "job-1", ["10.1.0.6"], { phase: "Succeeded" });
    await createPod("shop", "cart-2", ["10.1.0.7"]);
    await until("cart-2 named", () => addresses.name("10.1.0.7") === "shop/cart-2");
    expect(addresses.name("10.1.0.6")).toBeUndefined();

    await cluster.core.deleteNamespacedPod({ namespace: "shop", name: "cart-1", gracePeriodSeconds: 0 });
    await until("cart-1 gone from the index", () => addresses.name("10.1.0.5") === undefined);

    // cart-2's IP handed to cart-3 before cart-2's deletion is seen: the IP stays cart-3's.
    await createPod("shop", "cart-3", ["10.1.0.7"]);
    await until("cart-3 named", () => addresses.name("10.1.0.7") === "shop/cart-3");
    await cluster.core.deleteNamespacedPod({ namespace: "shop", name: "cart-2", gracePeriodSeconds: 0 });
    await createPod("shop", "marker", ["10.1.0.8"]);
    await until("the deletion seen", () => addresses.name("10.1.0.8") === "shop/marker");
    expect(addresses.name("10.1.0.7")).toBe("shop/cart-3");
  });

  it("relists after 410 Gone, dropping pods deleted while its watch was down", async () => {
    const addresses = startIndex();
    await createPod("shop", "cart-1", ["10.1.0.5"]);
    await until("cart-1 named", () => addresses.name("10.1.0.5") === "shop/cart-1");
    cluster.server.faults.dropWatches();
    await cluster.core.deleteNamespacedPod({ namespace: "shop", name: "cart-1", gracePeriodSeconds: 0 });
    await createPod("shop", "cart-2", ["10.1.0.6"]);
    cluster.server.faults.expireHistory();
    await until("cart-2 named after the relist", () => addresses.name("10.1.0.6") === "shop/cart-2");
    await until("cart-1 gone", () => addresses.name("10.1.0.5") === undefined);
  });

  it("leaves addresses unnamed while listing pods is refused, says why, and names them once it is allowed", async () => {
    await createPod("shop", "cart-1", ["10.1.0.5"]);
    cluster.server.faults.failNext({
      method: "GET",
      pathPrefix: "/api/v1/pods",
      status: 403,
      count: 3,
      message: 'pods is forbidden: User "system:serviceaccount:droptrace-system:droptrace-controller" cannot list resource "pods"',
    });
    const addresses = startIndex();
    const problem = await until("the refusal reported", () => addresses.problem()?.includes("address-pods watch fails") && addresses.problem());
    expect(problem).toMatch(/403/);
    expect(addresses.name("10.1.0.5")).toBeUndefined();
    cluster.server.faults.clear();
    await until("cart-1 named once allowed", () => addresses.name("10.1.0.5") === "shop/cart-1");
    await until("the problem cleared", () => addresses.problem() === undefined);
  });
});
