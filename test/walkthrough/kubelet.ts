// The parts of a cluster the test API server does not run, played for the walkthrough: the
// Deployment and DaemonSet controllers and the kubelets. They start the pods' processes from
// what the objects in the API say, so what runs is what the chart and the controller asked for:
//
// - the controller Deployment's container: `node dist/src/cli/main.js <args>` with the container's
//   environment (downward-API fields resolved) and a kubeconfig holding its service account's
//   token, so the chart's RBAC decides what it may do;
// - each DaemonSet: one pod per node its nodeSelector picks, the process test/walkthrough/
//   node-agent.ts (the agent with the stand-in SystemTap), with the pod's environment and the
//   agent service account's token; SIGTERM when the DaemonSet goes, as a kubelet does.
//
// Pod objects and the workloads' status counters are written as the real controllers would,
// so `kubectl get pods` and the controller see them. Differences from a real cluster: pods are
// Running as soon as their process starts (no image pull, no readiness probes), a container port
// is a free port on this machine (pods here share one network namespace), and an exited pod is
// not restarted.
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from "node:fs";
import path from "node:path";
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Container,
  type V1DaemonSet,
  type V1Deployment,
  type V1Node,
  type V1Pod,
  V1PodSpec,
} from "@kubernetes/client-node";
import { execa } from "execa";
import { mergePatch, model } from "../support/apiserver-test-helpers.js";
import { FAKE_STAP } from "../trace/stand-ins.js";
import type { StaprunScenario } from "../trace/stand-ins.js";
import type { NodeHost } from "./node-agent.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(repoRoot, "dist", "src", "cli", "main.js");
const NODE_AGENT = path.join(import.meta.dirname, "node-agent.ts");

export interface WalkthroughNode {
  name: string;
  labels?: Record<string, string>;
  /** false: no kernel headers on this node */
  headers?: boolean;
  /** the real machine it is (see NodeHost) */
  machine: NodeHost["machine"];
  /** the node's own addresses (status.addresses, as InternalIP), as kubelet reports them */
  addresses?: string[];
  /**
   * what the stand-in staprun prints on this node (output the real probe printed on 7.2), or
   * what it prints for each trace's DaemonSet, by its name
   */
  probe: StaprunScenario | ((daemonSet: string) => StaprunScenario);
}

export interface KubeletOptions {
  admin: KubeConfig;
  /** a kubeconfig file per service account, "<namespace>/<name>" */
  kubeconfigFor: (serviceAccount: string) => string;
  nodes: WalkthroughNode[];
  /** logs, module caches and the stand-ins' files */
  dir: string;
  /** a free TCP port, for a pod's container port */
  freePort: () => Promise<number>;
}

interface PodProcess {
  pod: string;
  node?: string;
  child: ReturnType<typeof spawnPod>;
  metricsPort: number;
  log: WriteStream;
  exited: boolean;
}

/** The value a downward-API fieldRef gives. */
function fieldValue(pod: V1Pod, fieldPath: string): string {
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata?.name ?? "";
    case "metadata.namespace":
      return pod.metadata?.namespace ?? "";
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? "";
    default:
      throw new Error(`the walkthrough's kubelet does not resolve fieldRef ${fieldPath}`);
  }
}

/** The container's environment as a kubelet sets it: values, and downward-API fields of the pod. */
export function containerEnv(container: V1Container, pod: V1Pod): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef !== undefined) env[e.name] = fieldValue(pod, e.valueFrom.fieldRef.fieldPath);
    else if (e.valueFrom !== undefined) throw new Error(`the walkthrough's kubelet does not resolve env ${e.name}: ${JSON.stringify(e.valueFrom)}`);
    // No value and no source: "" stored without its omitempty value, which a kubelet sets as "".
    else env[e.name] = "";
  }
  return env;
}

function matchesSelector(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

interface HostMount {
  host: string;
  container: string;
}

/**
 * `node args` in its own mount namespace when a host directory is mounted into the pod (as root,
 * or in a user namespace otherwise): a tmpfs over the mount point's parent (so nothing of this
 * machine's changes), the directory bound at the mount point, as a container runtime would.
 */
const MOUNT_SCRIPT = 'mount -t tmpfs walkthrough "$(dirname "$2")" && mkdir -p "$2" && mount --bind "$1" "$2" && shift 2 && exec "$@"';

function spawnPod(args: string[], env: Record<string, string>, mount: HostMount | undefined) {
  const asRoot = process.getuid?.() === 0;
  const [file, argv] =
    mount === undefined
      ? [process.execPath, args]
      : [
          "unshare",
          [
            ...(asRoot ? [] : ["--user", "--map-root-user"]),
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            MOUNT_SCRIPT,
            "sh",
            mount.host,
            mount.container,
            process.execPath,
            ...args,
          ],
        ];
  return execa(file, argv, {
    cwd: repoRoot,
    env: { PATH: `${path.dirname(FAKE_STAP)}:${process.env["PATH"] ?? ""}`, ...env },
    extendEnv: false,
    reject: false,
  });
}

export class Kubelet {
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #opts: KubeletOptions;
  /** by owner uid: the pods of one Deployment or DaemonSet */
  readonly #running = new Map<string, PodProcess[]>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  #stopped = false;
  readonly errors: unknown[] = [];

  constructor(opts: KubeletOptions) {
    this.#opts = opts;
    this.#apps = opts.admin.makeApiClient(AppsV1Api);
    this.#core = opts.admin.makeApiClient(CoreV1Api);
  }

  async start(): Promise<void> {
    for (const node of this.#opts.nodes) {
      await this.#core.createNode({
        body: model<V1Node>({
          metadata: { name: node.name, labels: { "kubernetes.io/os": "linux", "kubernetes.io/hostname": node.name, ...(node.labels ?? {}) } },
          ...(node.addresses === undefined ? {} : { status: { addresses: node.addresses.map((address) => ({ type: "InternalIP", address })) } }),
        }),
      });
    }
    this.#timer = setInterval(() => {
      if (this.#busy || this.#stopped) return;
      this.#busy = true;
      this.#sync()
        .catch((err: unknown) => this.errors.push(err))
        .finally(() => {
          this.#busy = false;
        });
    }, 250);
  }

  /** The metrics port of a running pod (controller: its pod name's prefix; agent: its node). */
  metricsPort(match: { node?: string; podPrefix?: string }): number {
    for (const pods of this.#running.values()) {
      for (const p of pods) {
        if (match.node !== undefined && p.node === match.node) return p.metricsPort;
        if (match.podPrefix !== undefined && p.pod.startsWith(match.podPrefix)) return p.metricsPort;
      }
    }
    throw new Error(`no running pod matches ${JSON.stringify(match)}`);
  }

  /** Pods whose process is running. */
  runningPods(): string[] {
    return [...this.#running.values()]
      .flat()
      .filter((p) => !p.exited)
      .map((p) => p.pod);
  }

  async #sync(): Promise<void> {
    const deployments = await this.#apps.listDeploymentForAllNamespaces();
    const daemonSets = await this.#apps.listDaemonSetForAllNamespaces();
    const live = new Set<string>();
    for (const d of deployments.items) {
      const uid = d.metadata?.uid ?? "";
      live.add(uid);
      if (!this.#running.has(uid)) await this.#startDeployment(d);
    }
    for (const ds of daemonSets.items) {
      const uid = ds.metadata?.uid ?? "";
      live.add(uid);
      if (!this.#running.has(uid)) await this.#startDaemonSet(ds);
    }
    for (const [uid, pods] of this.#running) {
      if (live.has(uid)) continue;
      this.#running.delete(uid);
      await Promise.all(pods.map((p) => this.#terminate(p)));
    }
  }

  async #startDeployment(d: V1Deployment): Promise<void> {
    const uid = d.metadata?.uid ?? "";
    const namespace = d.metadata?.namespace ?? "";
    const template = d.spec?.template;
    const container = template?.spec?.containers[0];
    if (template?.spec === undefined || container === undefined) throw new Error(`Deployment ${d.metadata?.name ?? ""} has no container`);
    const pod = await this.#createPod(
      namespace,
      `${d.metadata?.name ?? ""}-7d9c5b6f4-x2k9q`,
      template.metadata?.labels ?? {},
      template.spec,
      { apiVersion: "apps/v1", kind: "Deployment", name: d.metadata?.name ?? "", uid },
      undefined,
    );
    const metricsPort = await this.#opts.freePort();
    const env = {
      ...containerEnv(container, pod),
      // The pod's own network namespace would let it listen on the chart's port; here pods share one.
      DROPTRACE_METRICS_PORT: String(metricsPort),
      KUBECONFIG: this.#opts.kubeconfigFor(`${namespace}/${template.spec.serviceAccountName ?? "default"}`),
    };
    const p = this.#spawn(pod.metadata?.name ?? "", undefined, [CLI, ...(container.args ?? [])], env, metricsPort);
    this.#running.set(uid, [p]);
    await this.#apps.patchNamespacedDeploymentStatus(
      {
        name: d.metadata?.name ?? "",
        namespace,
        body: { status: { observedGeneration: d.metadata?.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } },
      },
      mergePatch,
    );
  }

  async #startDaemonSet(ds: V1DaemonSet): Promise<void> {
    const uid = ds.metadata?.uid ?? "";
    const name = ds.metadata?.name ?? "";
    const namespace = ds.metadata?.namespace ?? "";
    const template = ds.spec?.template;
    const container = template?.spec?.containers[0];
    if (template?.spec === undefined || container === undefined) throw new Error(`DaemonSet ${name} has no container`);
    const selector = template.spec.nodeSelector;
    const nodes = this.#opts.nodes.filter((n) =>
      matchesSelector({ "kubernetes.io/os": "linux", "kubernetes.io/hostname": n.name, ...(n.labels ?? {}) }, selector),
    );
    const pods: PodProcess[] = [];
    this.#running.set(uid, pods);
    for (const [i, node] of nodes.entries()) {
      const pod = await this.#createPod(
        namespace,
        `${name}-${["4xk2p", "9mzq7", "b7t5w", "h2c8r"][i] ?? String(i)}`,
        template.metadata?.labels ?? {},
        template.spec,
        { apiVersion: "apps/v1", kind: "DaemonSet", name, uid },
        node.name,
      );
      const dir = path.join(this.#opts.dir, "nodes", node.name);
      mkdirSync(path.join(dir, "cache"), { recursive: true });
      const scenario = path.join(dir, `staprun-${name}.json`);
      writeFileSync(scenario, JSON.stringify(typeof node.probe === "function" ? node.probe(name) : node.probe));
      const metricsPort = await this.#opts.freePort();
      const host: NodeHost = { headers: node.headers ?? true, machine: node.machine, metricsPort };
      // The module cache is a hostPath volume: the node's directory, mounted where the pod's spec says.
      const cacheMount = container.volumeMounts?.find((m) => m.name === "module-cache")?.mountPath;
      if (cacheMount === undefined) throw new Error(`DaemonSet ${name} mounts no module-cache volume`);
      const env = {
        ...containerEnv(container, pod),
        KUBECONFIG: this.#opts.kubeconfigFor(`${namespace}/${template.spec.serviceAccountName ?? "default"}`),
        WALKTHROUGH_NODE: JSON.stringify(host),
        FAKE_MODULES_FILE: path.join(dir, "modules"),
        FAKE_SYSTEMTAP_LOG: path.join(dir, "systemtap.log"),
        FAKE_STAPRUN_SCENARIO: scenario,
        // The node's /proc as its agent would see the host's: written by cluster.ts.
        WALKTHROUGH_PROC: path.join(dir, "proc"),
      };
      pods.push(
        this.#spawn(pod.metadata?.name ?? "", node.name, ["--import", "tsx", NODE_AGENT], env, metricsPort, {
          host: path.join(dir, "cache"),
          container: cacheMount,
        }),
      );
    }
    await this.#apps.patchNamespacedDaemonSetStatus(
      {
        name,
        namespace,
        body: {
          status: {
            observedGeneration: ds.metadata?.generation,
            desiredNumberScheduled: nodes.length,
            currentNumberScheduled: nodes.length,
            updatedNumberScheduled: nodes.length,
            numberReady: nodes.length,
            numberAvailable: nodes.length,
            numberMisscheduled: 0,
          },
        },
      },
      mergePatch,
    );
  }

  async #createPod(
    namespace: string,
    name: string,
    labels: Record<string, string>,
    spec: V1PodSpec,
    owner: { apiVersion: string; kind: string; name: string; uid: string },
    nodeName: string | undefined,
  ): Promise<V1Pod> {
    await this.#core.createNamespacedPod({
      namespace,
      body: model<V1Pod>({
        metadata: {
          name,
          namespace,
          labels,
          ownerReferences: [{ ...owner, controller: true, blockOwnerDeletion: true }],
        },
        // The controller's pod lands on node-a: there is no scheduler to pick.
        spec: Object.assign(new V1PodSpec(), spec, { nodeName: nodeName ?? "node-a" }),
      }),
    });
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    return this.#core.patchNamespacedPodStatus(
      {
        name,
        namespace,
        body: {
          status: {
            phase: "Running",
            startTime: now,
            conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }],
            containerStatuses: spec.containers.map((c) => ({
              name: c.name,
              image: c.image,
              imageID: "",
              ready: true,
              restartCount: 0,
              started: true,
              state: { running: { startedAt: now } },
            })),
          },
        },
      },
      mergePatch,
    );
  }

  #spawn(pod: string, node: string | undefined, args: string[], env: Record<string, string>, metricsPort: number, mount?: HostMount): PodProcess {
    const log = createWriteStream(path.join(this.#opts.dir, `${pod}.log`));
    const child = spawnPod(args, env, mount);
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const p: PodProcess = { pod, ...(node === undefined ? {} : { node }), child, metricsPort, log, exited: false };
    void child.then(() => {
      p.exited = true;
    });
    return p;
  }

  async #terminate(p: PodProcess): Promise<void> {
    if (!p.exited) p.child.kill("SIGTERM");
    const killer = setTimeout(() => p.child.kill("SIGKILL"), 30_000);
    await p.child;
    clearTimeout(killer);
    p.log.end();
  }

  /** Deletes what it created and stops every pod process. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 20));
    const all = [...this.#running.values()].flat();
    this.#running.clear();
    await Promise.all(all.map((p) => this.#terminate(p)));
  }
}
