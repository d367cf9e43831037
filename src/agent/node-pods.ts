// The pods on this agent's node, by UID, from a list and watch restricted to the node
// (fieldSelector spec.nodeName, as kubelet itself watches): the agent's only read of anything
// but its own report. Every pod seen is remembered for the rest of the trace, so a pod that
// ended mid-trace keeps the name it had in every later report.
import { ListWatch, Watch, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { PodRef, WorkloadRef } from "../api/attribution.js";
import { listPods } from "./api-requests.js";
import { RestartingInformer } from "../kube/restarting-informer.js";
import type { Backoff } from "../kube/backoff.js";
import { workloadOf } from "./workload.js";

export interface NamedPod {
  pod: PodRef;
  workload: WorkloadRef;
  /** For filter.podSelector (pod-filter.ts). */
  labels: Readonly<Record<string, string>>;
}

/** Pods by UID, and why a UID may not be found. */
export interface PodSource {
  lookup(uid: string): NamedPod | undefined;
  /** Why pods may be missing (the list failed, or has not arrived); undefined while the source is healthy. */
  problem(): string | undefined;
}

/** Pods remembered at most: a node runs at most a few hundred at a time; this bounds a day of churn. */
const MAX_REMEMBERED = 20_000;

export function namedPod(pod: V1Pod): NamedPod | undefined {
  const metadata = pod.metadata;
  const uid = metadata?.uid;
  const name = metadata?.name;
  const namespace = metadata?.namespace;
  if (uid === undefined || name === undefined || namespace === undefined) return undefined;
  return {
    pod: { namespace, name, uid },
    workload: workloadOf({ name, labels: metadata?.labels, ownerReferences: metadata?.ownerReferences }),
    labels: metadata?.labels ?? {},
  };
}

export class NodePods implements PodSource {
  readonly #informer: RestartingInformer<V1Pod>;
  readonly #seen = new Map<string, NamedPod>();
  readonly #node: string;

  constructor(kubeConfig: KubeConfig, node: string, log: Logger, backoff: Backoff & { resetAfterMs: number }) {
    this.#node = node;
    const fieldSelector = `spec.nodeName=${node}`;
    const list = () => listPods(kubeConfig, fieldSelector);
    const informer = new ListWatch<V1Pod>("/api/v1/pods", new Watch(kubeConfig), list, false, undefined, fieldSelector);
    const remember = (pod: V1Pod) => {
      const named = namedPod(pod);
      if (named === undefined) return;
      if (!this.#seen.has(named.pod.uid) && this.#seen.size >= MAX_REMEMBERED) {
        const oldest = this.#seen.keys().next().value;
        if (oldest !== undefined) this.#seen.delete(oldest);
      }
      this.#seen.set(named.pod.uid, named);
    };
    informer.on("add", remember);
    informer.on("update", remember);
    // "delete" is not handled: a pod that ended keeps its name (remembered above).
    this.#informer = new RestartingInformer(informer, { resource: "pods", backoff, log });
  }

  start(): void {
    this.#informer.start();
  }

  /** Resolves once the first list arrived, or when `timeoutMs` passed (rows are then named later). */
  async waitForSync(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#informer.waitForSync(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
  }

  async stop(): Promise<void> {
    await this.#informer.stop();
  }

  lookup(uid: string): NamedPod | undefined {
    return this.#seen.get(uid);
  }

  /** A pod's labels as last seen, for filter.podSelector. */
  labels(uid: string): Readonly<Record<string, string>> | undefined {
    return this.#seen.get(uid)?.labels;
  }

  problem(): string | undefined {
    const failing = this.#informer.failing;
    if (failing !== undefined) {
      const why = failing.error instanceof Error ? failing.error.message : String(failing.error);
      return `listing the pods on node ${this.#node} failed (${why.slice(0, 300)}), retrying`;
    }
    if (!this.#informer.synced) return `the pods on node ${this.#node} have not been listed yet`;
    return undefined;
  }
}
