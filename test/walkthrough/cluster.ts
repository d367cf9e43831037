// The walkthrough's cluster, for the README's walkthrough and its kubectl droptrace section: the
// test API server with RBAC enforced and no CRDs yet (`helm install` creates them, as on a new
// cluster), a cluster admin's kubeconfig, a token per service account of the chart, and the
// played kubelets (kubelet.ts) with three nodes: node-a the kernel suite's guest, node-b the boot
// of ../shared/fixtures, node-c without kernel headers.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { startTestApiServer, type TestApiServer } from "../support/apiserver.js";
import { freePort } from "../support/free-port.js";
import { fixtureIntervals, replayCapture } from "../trace/stand-ins.js";
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

/** The kernel suite's guest: stap/droptrace.stp on 7.2 (lo, an iptables DROP, veths, two pods' eth0). */
export const guestRecording = () => replayCapture("all.tsv", 1_000, 4);

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
      { name: "node-a", machine: "guest", probe: options.nodeA ?? guestRecording() },
      // The boot of ../shared/fixtures: UDP to closed ports and failed neighbour resolution.
      { name: "node-b", machine: "fixture", probe: { steps: [{ out: first }, { sleepMs: 1_000 }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] } },
      // A node where nobody installed the kernel headers.
      { name: "node-c", machine: "fixture", headers: false, probe: { steps: [] } },
    ],
  });
  await kubelet.start();
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
