// The address index at scale: 150,000 pods (and 5,000 nodes, 10,000 Services) listed through the
// index's own transform and client-node informers, in pages of 500 as the API server sends them.
// Prints the heap and RSS the index keeps; asserts nothing.
//
//   npx tsx bench/controller/pod-index.ts
//
// The pods look like a real cluster's: Deployment pods with a ReplicaSet owner, labels, a
// container with ports, env, probes, resources and volume mounts, a status with conditions and
// container statuses, one or two pod IPs. Only the watch is a stub (it never sends an event):
// the list is what fills the index.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { Watch } from "@kubernetes/client-node";
import { AddressIndex, toNodeAddresses, toPodAddresses, toServiceAddresses, type AddressSource, type PageLister } from "../../src/controller/address-index.js";
import { ADDRESS_LIST_PAGE } from "../../src/controller/defaults.js";
import { silentLogger } from "../../src/cli/log.js";

const PODS = 150_000;
const NODES = 5_000;
const SERVICES = 10_000;
const NAMESPACES = 150;
const LIMIT_MIB = 200;

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;
function memory(): { heapMiB: number; rssMiB: number } {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return { heapMiB: usage.heapUsed / 2 ** 20, rssMiB: usage.rss / 2 ** 20 };
}
const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

const ip4 = (i: number, base: number) => `10.${base + ((i >> 16) & 0x3f)}.${(i >> 8) & 0xff}.${i & 0xff}`;

function pod(i: number): unknown {
  const namespace = `team-${String(i % NAMESPACES).padStart(3, "0")}`;
  const app = `service-${String(i % 3_000).padStart(4, "0")}`;
  const name = `${app}-7d9c5b6f4-${i.toString(36).padStart(5, "0")}`;
  const node = `node-${String(i % NODES).padStart(5, "0")}`;
  const dualStack = i % 4 === 0;
  const ips = dualStack ? [ip4(i, 1), `fd00:10:1::${i.toString(16)}`] : [ip4(i, 1)];
  const time = "2026-12-01T10:00:00Z";
  return {
    metadata: {
      name,
      generateName: `${app}-7d9c5b6f4-`,
      namespace,
      uid: `${String(i).padStart(8, "0")}-1111-4111-8111-111111111111`,
      resourceVersion: String(1_000_000 + i),
      creationTimestamp: time,
      labels: { app, "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop", "pod-template-hash": "7d9c5b6f4", tier: "backend" },
      annotations: { "kubectl.kubernetes.io/restartedAt": time, "prometheus.io/scrape": "true", "prometheus.io/port": "9090" },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: `${app}-7d9c5b6f4`,
          uid: "22222222-2222-4222-8222-222222222222",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      nodeName: node,
      serviceAccountName: app,
      containers: [
        {
          name: "app",
          image: `registry.example.com/shop/${app}:1.42.${i % 10}`,
          ports: [
            { name: "http", containerPort: 8080, protocol: "TCP" },
            { name: "metrics", containerPort: 9090, protocol: "TCP" },
          ],
          env: [
            { name: "LOG_LEVEL", value: "info" },
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            { name: "DB_URL", valueFrom: { secretKeyRef: { name: `${app}-db`, key: "url" } } },
          ],
          resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "512Mi" } },
          readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 10 },
          livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 10 },
          volumeMounts: [{ name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true }],
        },
      ],
      volumes: [{ name: "kube-api-access", projected: { sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 3607 } }] } }],
      tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }],
    },
    status: {
      phase: "Running",
      hostIP: `192.168.${(i % NODES) >> 8}.${(i % NODES) & 0xff}`,
      podIP: ips[0],
      podIPs: ips.map((ip) => ({ ip })),
      startTime: time,
      qosClass: "Burstable",
      conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({ type, status: "True", lastTransitionTime: time })),
      containerStatuses: [
        {
          name: "app",
          ready: true,
          restartCount: 0,
          image: `registry.example.com/shop/${app}:1.42.${i % 10}`,
          imageID: `registry.example.com/shop/${app}@sha256:${"ab".repeat(32)}`,
          containerID: `containerd://${"cd".repeat(32)}`,
          started: true,
          state: { running: { startedAt: time } },
        },
      ],
    },
  };
}

function node(i: number): unknown {
  const name = `node-${String(i).padStart(5, "0")}`;
  return {
    metadata: { name, resourceVersion: String(i + 1), labels: { "kubernetes.io/hostname": name } },
    status: {
      addresses: [
        { type: "InternalIP", address: `192.168.${i >> 8}.${i & 0xff}` },
        { type: "Hostname", address: name },
      ],
    },
  };
}

function service(i: number): unknown {
  return {
    metadata: { name: `service-${String(i).padStart(5, "0")}`, namespace: `team-${String(i % NAMESPACES).padStart(3, "0")}`, resourceVersion: String(i + 1) },
    spec: { clusterIP: ip4(i, 96), clusterIPs: [ip4(i, 96)], ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }] },
  };
}

/** Pages as the API server sends them: JSON text parsed page by page, the continue token the next index. */
function pages(total: number, make: (i: number) => unknown): PageLister {
  return async (cont) => {
    const start = cont === undefined ? 0 : Number(cont);
    const end = Math.min(total, start + ADDRESS_LIST_PAGE);
    const items = Array.from({ length: end - start }, (_, k) => make(start + k));
    const page = JSON.parse(JSON.stringify({ metadata: { resourceVersion: "999", ...(end < total ? { continue: String(end) } : {}) }, items })) as Awaited<
      ReturnType<PageLister>
    >;
    return Promise.resolve(page);
  };
}

/** A watch that stays open and sends nothing. */
const quietWatch = { watch: () => Promise.resolve(new AbortController()) } as unknown as Watch;
const source = (resource: string, total: number, make: (i: number) => unknown, view: AddressSource["view"]): AddressSource => ({
  resource,
  path: `/bench/${resource}`,
  watch: quietWatch,
  listPage: pages(total, make),
  view,
});

const before = memory();
const index = new AddressIndex({
  pods: source("address-pods", PODS, pod, toPodAddresses),
  services: source("services", SERVICES, service, toServiceAddresses),
  nodes: source("nodes", NODES, node, toNodeAddresses),
  backoff: { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 },
  log: silentLogger,
});
const started = performance.now();
index.start();
while (index.problem() !== undefined) await new Promise((resolve) => setTimeout(resolve, 50));
const listMs = performance.now() - started;
const after = memory();

const lookups = [ip4(7, 1), `fd00:10:1::${(8).toString(16)}`, ip4(3, 96), "192.168.0.3", "10.200.0.1"].map((ip) => `${ip} -> ${index.name(ip) ?? "(unnamed)"}`);
const used = after.heapMiB - before.heapMiB;
console.log(`node ${process.version}; ${fmt(PODS)} pods, ${fmt(SERVICES)} Services, ${fmt(NODES)} nodes, lists in pages of ${ADDRESS_LIST_PAGE}`);
console.log(`listed into the index in ${fmt(listMs)} ms`);
console.log(
  `memory: heap ${fmt(before.heapMiB)} -> ${fmt(after.heapMiB)} MiB (+${fmt(used)}), rss ${fmt(before.rssMiB)} -> ${fmt(after.rssMiB)} MiB (+${fmt(after.rssMiB - before.rssMiB)})`,
);
console.log(`goal: the index under ${LIMIT_MIB} MB of heap: ${used * 1.048576 < LIMIT_MIB ? "met" : "NOT met"} (${fmt(used * 1.048576)} MB)`);
console.log(`lookups: ${lookups.join("; ")}`);
await index.stop();
