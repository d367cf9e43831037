// Every write the reconciler makes, behind one interface: the real one talks to the API
// server through client-node; the benchmark counts calls on a fake. Errors are wrapped with
// what was being done; "already so" answers (404 on delete, 409 on an Event that exists) are
// results, not errors.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type CoreV1Event, type KubeConfig, type KubernetesObject, type V1DaemonSet } from "@kubernetes/client-node";
import { DROPTRACE, FIELD_MANAGER, GROUP, VERSION } from "../api/constants.js";
import type { DropTraceStatus } from "../api/droptrace.js";
import { isConflict, isNotFound, model } from "../kube/api.js";
import type { V1DeleteOptions } from "@kubernetes/client-node";

export interface ClusterWriter {
  /** "exists" when a DaemonSet of that name is already there. */
  createDaemonSet(daemonSet: V1DaemonSet): Promise<"created" | "exists">;
  /** Replaces spec, labels and annotations of the DaemonSet at this resourceVersion. */
  replaceDaemonSet(daemonSet: V1DaemonSet): Promise<void>;
  /** Deletes it if it is still the one with this uid; gone already is fine. */
  deleteDaemonSet(name: string, uid: string | undefined): Promise<void>;
  /** Writes status through the status subresource, conditional on `resourceVersion`. Returns the new resourceVersion. */
  writeStatus(trace: KubernetesObject, resourceVersion: string | undefined, status: DropTraceStatus): Promise<string | undefined>;
  /** Deletes the DropTrace if it is still the one with this uid (its dependents go by owner references). */
  deleteTrace(name: string, uid: string): Promise<void>;
  /** "exists" when an Event of that name was recorded before. */
  recordEvent(event: CoreV1Event): Promise<"ok" | "exists">;
}

/** A status write refused because the DropTrace changed since it was read: retry after the cache catches up. */
export class StatusConflictError extends Error {
  override readonly name = "StatusConflictError";
}

const BACKGROUND: V1DeleteOptions = model<V1DeleteOptions>({ propagationPolicy: "Background" });

export class KubeClusterWriter implements ClusterWriter {
  readonly #custom: CustomObjectsApi;
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.#custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#apps = kubeConfig.makeApiClient(AppsV1Api);
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    this.#namespace = namespace;
  }

  async createDaemonSet(daemonSet: V1DaemonSet): Promise<"created" | "exists"> {
    try {
      await this.#apps.createNamespacedDaemonSet({ namespace: this.#namespace, body: daemonSet, fieldManager: FIELD_MANAGER });
      return "created";
    } catch (err) {
      if (isConflict(err)) return "exists";
      throw new Error(`creating DaemonSet ${this.#namespace}/${daemonSet.metadata?.name ?? ""} failed`, { cause: err });
    }
  }

  async replaceDaemonSet(daemonSet: V1DaemonSet): Promise<void> {
    const name = daemonSet.metadata?.name ?? "";
    try {
      await this.#apps.replaceNamespacedDaemonSet({ name, namespace: this.#namespace, body: daemonSet, fieldManager: FIELD_MANAGER });
    } catch (err) {
      throw new Error(`replacing DaemonSet ${this.#namespace}/${name} failed`, { cause: err });
    }
  }

  async deleteDaemonSet(name: string, uid: string | undefined): Promise<void> {
    try {
      await this.#apps.deleteNamespacedDaemonSet({
        name,
        namespace: this.#namespace,
        body: uid === undefined ? BACKGROUND : model<V1DeleteOptions>({ propagationPolicy: "Background", preconditions: { uid } }),
      });
    } catch (err) {
      // 409: a different DaemonSet of that name now, not ours to delete.
      if (isNotFound(err) || isConflict(err)) return;
      throw new Error(`deleting DaemonSet ${this.#namespace}/${name} failed`, { cause: err });
    }
  }

  async writeStatus(trace: KubernetesObject, resourceVersion: string | undefined, status: DropTraceStatus): Promise<string | undefined> {
    const name = trace.metadata?.name ?? "";
    try {
      // A copy of the cached object: the cache's own stays as the API server sent it.
      const written: unknown = await this.#custom.replaceClusterCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: DROPTRACE.plural,
        name,
        body: { ...trace, metadata: { ...(trace.metadata as Record<string, unknown>), resourceVersion }, status },
        fieldManager: FIELD_MANAGER,
      });
      const rv = (written as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
      return typeof rv === "string" ? rv : undefined;
    } catch (err) {
      if (isConflict(err)) throw new StatusConflictError(`DropTrace ${name} changed before its status was written`, { cause: err });
      throw new Error(`writing the status of DropTrace ${name} failed`, { cause: err });
    }
  }

  async deleteTrace(name: string, uid: string): Promise<void> {
    try {
      await this.#custom.deleteClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: DROPTRACE.plural,
        name,
        propagationPolicy: "Background",
        body: model<V1DeleteOptions>({ preconditions: { uid } }),
      });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      throw new Error(`deleting DropTrace ${name} after its TTL failed`, { cause: err });
    }
  }

  async recordEvent(event: CoreV1Event): Promise<"ok" | "exists"> {
    try {
      await this.#core.createNamespacedEvent({ namespace: event.metadata.namespace ?? "default", body: event });
      return "ok";
    } catch (err) {
      if (isConflict(err)) return "exists";
      throw new Error(`recording Event ${event.reason ?? ""} about ${event.involvedObject.name ?? ""} failed`, { cause: err });
    }
  }
}
