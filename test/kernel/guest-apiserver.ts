// The Kubernetes API of the real-kernel guest's "pods" case (guest-droptrace-cases.sh): the test
// API server (test/support/apiserver), bundled by run-droptrace-cases.sh with esbuild and started
// in the guest, holding the three pods whose processes the guest then places in kubelet-shaped
// cgroups, and the DropTrace the agent reports for.
//
//   A  shop/web-5c8d7f9b64-q7x2z  of ReplicaSet web-5c8d7f9b64, of Deployment web (both exist)
//   B  shop/db-0                  of StatefulSet db
//   H  kube-system/node-agent-8k2lp, hostNetwork, of DaemonSet node-agent
//
// The server assigns every UID, as a real one does: the guest makes each pod's cgroup after
// this has written them.
//
// usage: node guest-apiserver.mjs DIR
//   env: NODE_NAME, NODE_IP, POD_A_IP, POD_B_IP, TRACE, TRACE_DURATION, CRD_DIR
// Writes DIR/kubeconfig, DIR/objects.json (every object as created) and, last, DIR/pods.env
// (shell assignments: TRACE_UID, POD_{A,B,H}_{UID,NAMESPACE,NAME}); its presence means ready.
// On SIGTERM: DIR/reports.json (the DropTraceReports as the server holds them), then exits.
import { renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1DaemonSet,
  type V1Deployment,
  type V1ObjectMeta,
  type V1OwnerReference,
  type V1Pod,
  type V1ReplicaSet,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import { API_VERSION, DROPTRACE, DROPTRACE_REPORT, GROUP, VERSION } from "../../src/api/constants.js";
import { startTestApiServer } from "../support/apiserver.js";
import { model, type Plain } from "../../src/kube/api.js";

const need = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
};
const dir = process.argv[2];
if (dir === undefined) throw new Error("usage: guest-apiserver.mjs DIR");
const node = need("NODE_NAME");
const nodeIp = need("NODE_IP");
const trace = need("TRACE");

const server = await startTestApiServer({ crdDirs: [need("CRD_DIR")], namespaces: ["default", "kube-system", "shop"] });
const core = server.kubeConfig.makeApiClient(CoreV1Api);
const apps = server.kubeConfig.makeApiClient(AppsV1Api);
const custom = server.kubeConfig.makeApiClient(CustomObjectsApi);
const created: unknown[] = [];
const keep = <T>(object: T): T => {
  created.push(object);
  return object;
};

type Meta = Plain<V1ObjectMeta>;
const template = (labels: Record<string, string>, image: string) => ({
  selector: { matchLabels: labels },
  template: { metadata: { labels }, spec: { containers: [{ name: "main", image }] } },
});
const ownedBy = (kind: string, metadata: V1ObjectMeta | undefined): Plain<V1OwnerReference> => ({
  apiVersion: "apps/v1",
  kind,
  name: metadata?.name ?? "",
  uid: metadata?.uid ?? "",
  controller: true,
  blockOwnerDeletion: true,
});

/** A pod on this node, as kubelet would have reported it running with `ip`. */
async function runningPod(metadata: Meta & { namespace: string; name: string }, ip: string, hostNetwork: boolean): Promise<V1Pod> {
  const spec = { nodeName: node, hostNetwork, containers: [{ name: "main", image: `${metadata.labels?.["app"] ?? "app"}:1` }] };
  await core.createNamespacedPod({ namespace: metadata.namespace, body: model<V1Pod>({ metadata, spec }) });
  const status = { phase: "Running", hostIP: nodeIp, hostIPs: [{ ip: nodeIp }], podIP: ip, podIPs: [{ ip }] };
  // Unconditional (no resourceVersion): nothing else writes it.
  return keep(await core.replaceNamespacedPodStatus({ namespace: metadata.namespace, name: metadata.name, body: model<V1Pod>({ metadata, spec, status }) }));
}

// A: a Deployment's pod, through its ReplicaSet (named as the Deployment controller names it).
const web = keep(
  await apps.createNamespacedDeployment({
    namespace: "shop",
    body: model<V1Deployment>({ metadata: { name: "web" }, spec: template({ app: "web" }, "web:1") }),
  }),
);
const hash = "5c8d7f9b64";
const webRs = keep(
  await apps.createNamespacedReplicaSet({
    namespace: "shop",
    body: model<V1ReplicaSet>({
      metadata: { name: `web-${hash}`, ownerReferences: [ownedBy("Deployment", web.metadata)] },
      spec: template({ app: "web", "pod-template-hash": hash }, "web:1"),
    }),
  }),
);
const podA = await runningPod(
  {
    namespace: "shop",
    name: `web-${hash}-q7x2z`,
    labels: { app: "web", "pod-template-hash": hash },
    ownerReferences: [ownedBy("ReplicaSet", webRs.metadata)],
  },
  need("POD_A_IP"),
  false,
);
// B: a StatefulSet's pod.
const db = keep(
  await apps.createNamespacedStatefulSet({
    namespace: "shop",
    body: model<V1StatefulSet>({ metadata: { name: "db" }, spec: { serviceName: "db", ...template({ app: "db" }, "db:1") } }),
  }),
);
const podB = await runningPod(
  {
    namespace: "shop",
    name: "db-0",
    labels: { app: "db", "statefulset.kubernetes.io/pod-name": "db-0" },
    ownerReferences: [ownedBy("StatefulSet", db.metadata)],
  },
  need("POD_B_IP"),
  false,
);
// H: a DaemonSet's host-network pod: its IP is the node's.
const agentDs = keep(
  await apps.createNamespacedDaemonSet({
    namespace: "kube-system",
    body: model<V1DaemonSet>({ metadata: { name: "node-agent" }, spec: template({ app: "node-agent" }, "node-agent:1") }),
  }),
);
const podH = await runningPod(
  { namespace: "kube-system", name: "node-agent-8k2lp", labels: { app: "node-agent" }, ownerReferences: [ownedBy("DaemonSet", agentDs.metadata)] },
  nodeIp,
  true,
);

const dropTrace = keep(
  (await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: DROPTRACE.plural,
    body: { apiVersion: API_VERSION, kind: DROPTRACE.kind, metadata: { name: trace }, spec: { duration: need("TRACE_DURATION"), reportInterval: "5s" } },
  })) as { metadata: { uid: string } },
);

// Before pods.env: whoever reads it may stop this at once.
process.on("SIGTERM", () => {
  void (async () => {
    const reports: unknown = await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE_REPORT.plural });
    writeFileSync(path.join(dir, "reports.json"), `${JSON.stringify(reports, null, 1)}\n`);
    await server.close();
    process.exit(0);
  })();
});

// server.kubeconfig() is for kubectl; client-node refuses plain HTTP unless told to skip TLS verification.
writeFileSync(
  path.join(dir, "kubeconfig"),
  [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: guest, cluster: {server: "${server.url}", insecure-skip-tls-verify: true}}]`,
    "users: [{name: agent, user: {token: agent}}]",
    "contexts: [{name: guest, context: {cluster: guest, user: agent}}]",
    "current-context: guest",
    "",
  ].join("\n"),
);
writeFileSync(path.join(dir, "objects.json"), `${JSON.stringify(created, null, 1)}\n`);
const env = [
  `TRACE_UID=${dropTrace.metadata.uid}`,
  ...(
    [
      ["A", podA],
      ["B", podB],
      ["H", podH],
    ] as const
  ).flatMap(([key, pod]) => [
    `POD_${key}_UID=${pod.metadata?.uid ?? ""}`,
    `POD_${key}_NAMESPACE=${pod.metadata?.namespace ?? ""}`,
    `POD_${key}_NAME=${pod.metadata?.name ?? ""}`,
  ]),
];
writeFileSync(path.join(dir, "pods.env.tmp"), `${env.join("\n")}\n`);
renameSync(path.join(dir, "pods.env.tmp"), path.join(dir, "pods.env"));
console.log(`guest-apiserver: serving ${server.url}; pods ${podA.metadata?.uid ?? ""} ${podB.metadata?.uid ?? ""} ${podH.metadata?.uid ?? ""}`);
