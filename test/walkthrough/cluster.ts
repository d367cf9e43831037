// The walkthrough's cluster, for the README's walkthrough and its kubectl droptrace section: the
// test API server with RBAC enforced and no CRDs yet (`helm install` creates them, as on a new
// cluster), a cluster admin's kubeconfig, a token per service account of the chart, and the
// played kubelets (kubelet.ts) with three nodes: node-a the kernel suite's guest, node-b the boot
// of ../shared/fixtures, node-c without kernel headers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Namespace, type V1Pod, type V1PodStatus, type V1ReplicaSet } from "@kubernetes/client-node";
import { model } from "../support/apiserver-test-helpers.js";
import { FakeProc } from "../trace/fake-proc.js";
import { NETNS } from "../trace/stand-ins.js";
import { startTestApiServer, type TestApiServer } from "../support/apiserver.js";
import { freePort } from "../support/free-port.js";
import { fixtureIntervals, GUEST_FLOWS_DIR, replayCapture } from "../trace/stand-ins.js";
import { Kubelet, type WalkthroughNode } from "./kubelet.js";

export const NAMESPACE = "droptrace-system";
export const SERVICE_ACCOUNTS = [`${NAMESPACE}/droptrace-controller`, `${NAMESPACE}/droptrace-agent`] as const;
/** The chart's image values: registry.example.com, never pulled (the kubelets are played). */
export const IMAGES = [
  "--set",
  "controller.image.repository=registry.example.com/droptrace-controller",
  "--set",
  "agent.image.repository=registry.example.com/droptrace-agent",
];

/**
 * The kernel suite's guest: stap/droptrace.stp on 7.2 (lo, an iptables DROP, veths, two pods'
 * eth0), with the flows behind each row (test/fixtures/kernel-guest-flows).
 */
export const guestRecording = () => replayCapture("all.tsv", 1_000, 4, GUEST_FLOWS_DIR);

/**
 * The recording's network (test/kernel/guest-common.sh): namespaces c and d, each with an eth0,
 * are the two cart pods' (their addresses are the pods' IPs), reached from the node's own
 * namespace over hc and hd (its addresses). Inodes as that boot recorded them.
 */
function recordedNetwork(): { root: number; pods: { netns: number; ip: string }[]; nodeAddresses: string[] } {
  const inums = new Map(
    readFileSync(path.join(GUEST_FLOWS_DIR, "netns-inums.txt"), "utf8")
      .trim()
      .split("\n")
      .map((line) => line.split(" ") as [string, string]),
  );
  const inum = (name: string) => {
    const value = inums.get(name);
    if (value === undefined) throw new Error(`${GUEST_FLOWS_DIR}/netns-inums.txt has no ${name}`);
    return Number(value);
  };
  return {
    root: inum("root"),
    pods: [
      { netns: inum("c"), ip: "10.9.1.2" },
      { netns: inum("d"), ip: "10.9.2.2" },
    ],
    nodeAddresses: ["10.9.1.1", "10.9.2.1"],
  };
}

export interface WalkthroughCluster {
  dir: string;
  server: TestApiServer;
  kubelet: Kubelet;
  /** the cluster admin's kubeconfig file */
  kubeconfig: string;
  admin: KubeConfig;
  custom: CustomObjectsApi;
  /** what helm and kubectl run with: the admin's kubeconfig, a scratch HOME and helm directories */
  env: Record<string, string>;
  close(): Promise<void>;
}

function kubeconfigFile(server: TestApiServer, dir: string, name: string, token: string): string {
  const file = path.join(dir, `${name}.kubeconfig`);
  writeFileSync(file, server.kubeconfig(token));
  return file;
}

/**
 * Starts the cluster; `name` tells its tokens and scratch directory apart from another test
 * file's. `nodeA` replaces node-a's recording (per trace: by its DaemonSet's name).
 */
export async function startWalkthroughCluster(name: string, options: { nodeA?: WalkthroughNode["probe"] } = {}): Promise<WalkthroughCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), `droptrace-${name}-`));
  const tokenOf = (sa: string) => `${name}-${sa.replace("/", "-")}`;
  const adminToken = `${name}-admin`;
  const tokens: Record<string, { user: string; groups: string[] }> = {
    [adminToken]: { user: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] },
  };
  for (const sa of SERVICE_ACCOUNTS) {
    const [ns, account] = sa.split("/");
    tokens[tokenOf(sa)] = {
      user: `system:serviceaccount:${ns ?? ""}:${account ?? ""}`,
      groups: ["system:serviceaccounts", `system:serviceaccounts:${ns ?? ""}`, "system:authenticated"],
    };
  }
  const server = await startTestApiServer({ crdDirs: [], authorization: { tokens } });
  const kubeconfig = kubeconfigFile(server, dir, "admin", adminToken);
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfig);
  const { first, second, last } = fixtureIntervals();
  const kubelet = new Kubelet({
    admin,
    kubeconfigFor: (sa) => kubeconfigFile(server, dir, sa.replace("/", "-"), tokenOf(sa)),
    dir,
    freePort,
    nodes: [
      { name: "node-a", machine: "guest", addresses: recordedNetwork().nodeAddresses, probe: options.nodeA ?? guestRecording() },
      // The boot of ../shared/fixtures: UDP to closed ports and failed neighbour resolution.
      { name: "node-b", machine: "fixture", probe: { steps: [{ out: first }, { sleepMs: 1_000 }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] } },
      // A node where nobody installed the kernel headers.
      { name: "node-c", machine: "fixture", headers: false, probe: { steps: [] } },
    ],
  });
  await kubelet.start();
  await placeWorkload(admin, dir);
  return {
    dir,
    server,
    kubelet,
    kubeconfig,
    admin,
    custom: admin.makeApiClient(CustomObjectsApi),
    env: {
      KUBECONFIG: kubeconfig,
      HOME: dir,
      HELM_CACHE_HOME: path.join(dir, "helm-cache"),
      HELM_CONFIG_HOME: path.join(dir, "helm-config"),
      HELM_DATA_HOME: path.join(dir, "helm-data"),
    },
    close: async () => {
      await kubelet.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CART_HASH = "5c8f9d7b6";

/**
 * A workload on node-a whose pods own the recording's two pod namespaces: two pods of
 * Deployment `cart` in namespace `shop`, created as its ReplicaSet would have (the
 * Deployment's name is read from the ReplicaSet's, as the agent reads it), and each node's
 * /proc: pid 1 in the node's own namespace, and on node-a each pod's pause process in its
 * namespace, in the cgroup kubelet's systemd driver makes for it.
 */
async function placeWorkload(admin: KubeConfig, dir: string): Promise<void> {
  const network = recordedNetwork();
  const core = admin.makeApiClient(CoreV1Api);
  const apps = admin.makeApiClient(AppsV1Api);
  await core.createNamespace({ body: model<V1Namespace>({ metadata: { name: "shop" } }) });
  const labels = { app: "cart", "pod-template-hash": CART_HASH };
  const template = { metadata: { labels }, spec: { containers: [{ name: "cart", image: "registry.example.com/cart:1.4" }] } };
  const rs = await apps.createNamespacedReplicaSet({
    namespace: "shop",
    body: model<V1ReplicaSet>({ metadata: { name: `cart-${CART_HASH}`, labels }, spec: { replicas: 2, selector: { matchLabels: labels }, template } }),
  });
  const owner = {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    name: rs.metadata?.name ?? "",
    uid: rs.metadata?.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
  const uids: string[] = [];
  for (const name of [`cart-${CART_HASH}-q4w8z`, `cart-${CART_HASH}-m2n7p`]) {
    const pod = await core.createNamespacedPod({
      namespace: "shop",
      body: model<V1Pod>({ metadata: { name, labels, ownerReferences: [owner] }, spec: { ...template.spec, nodeName: "node-a" } }),
    });
    uids.push(pod.metadata?.uid ?? "");
    // Running, with the IP of the recording's namespace it owns, as kubelet would report it.
    const ip = network.pods[uids.length - 1]?.ip ?? "";
    await core.replaceNamespacedPodStatus({
      namespace: "shop",
      name,
      body: Object.assign(pod, { status: model<V1PodStatus>({ phase: "Running", podIP: ip, podIPs: [{ ip }] }) }),
    });
  }
  const pause = (i: number) => String(i).repeat(64);
  const slice = (uid: string) => `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice`;
  await FakeProc.create(
    [
      { pid: 1, netns: network.root, cgroup: "/init.scope" },
      ...network.pods.map(({ netns }, i) => ({ pid: 4100 + i * 100, netns, cgroup: `${slice(uids[i] ?? "")}/cri-containerd-${pause(i + 1)}.scope` })),
    ],
    path.join(dir, "nodes", "node-a", "proc"),
  );
  for (const node of ["node-b", "node-c"]) await FakeProc.create([{ pid: 1, netns: NETNS.root, cgroup: "/init.scope" }], path.join(dir, "nodes", node, "proc"));
}
