// DELETE: preconditions, finalizers (deletionTimestamp until they are gone), propagation
// (Background, Foreground, Orphan) through the emulated garbage collector, and namespace
// deletion (its content is deleted, then the namespace once nothing is left).
import { cleanupFinalizer, crdKey } from "./builtin-crd.js";
import { nowTimestamp } from "./cluster.js";
import type { GarbageCollector, Propagation } from "./gc.js";
import type { ResourceRegistry } from "./registry.js";
import { statusErrors, successStatus, type StatusBody } from "./status.js";
import type { Store } from "./store.js";
import { isRecord, metaOf, resourceKey, type JsonObject, type ResourceType } from "./types.js";

export interface DeleteOptions {
  propagationPolicy: Propagation | undefined;
  preconditions: { uid?: string; resourceVersion?: string } | undefined;
  dryRun: boolean;
}

const foregroundFinalizer = "foregroundDeletion";

export class Deleter {
  constructor(
    private readonly store: Store,
    private readonly registry: ResourceRegistry,
    private readonly gc: GarbageCollector,
  ) {
    gc.deleter = this;
  }

  delete(rt: ResourceType, namespace: string, name: string, opts: DeleteOptions): JsonObject | StatusBody {
    const obj = this.store.get(resourceKey(rt), rt.namespaced ? namespace : "", name);
    if (obj === undefined) throw statusErrors.notFound(rt, name);
    const meta = metaOf(obj);
    const pre = opts.preconditions;
    if (pre?.uid !== undefined && pre.uid !== meta.uid) {
      throw statusErrors.conflict(rt, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid ?? ""}`);
    }
    if (pre?.resourceVersion !== undefined && pre.resourceVersion !== meta.resourceVersion) {
      throw statusErrors.conflict(
        rt,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion ?? ""}`,
      );
    }
    const pending = (meta.finalizers ?? []).length > 0;
    if (opts.dryRun) return pending || rt.returnDeletedObject ? obj : successStatus(rt, name, meta.uid);
    if (rt.plural === "namespaces" && rt.group === "") return this.deleteNamespace(rt, obj);
    if (resourceKey(rt) === crdKey && meta.deletionTimestamp === undefined) return this.markCrdDeleting(rt, obj);
    const result = this.begin(rt, obj, opts.propagationPolicy ?? "Background");
    const gone = this.store.get(resourceKey(rt), meta.namespace ?? "", name) === undefined;
    return gone && !rt.returnDeletedObject ? successStatus(rt, name, meta.uid) : result;
  }

  deleteByKey(key: string, namespace: string, name: string, propagation: Propagation): void {
    const rt = this.registry.all.find((r) => resourceKey(r) === key);
    const obj = this.store.get(key, namespace, name);
    if (rt === undefined || obj === undefined) return;
    this.begin(rt, obj, propagation);
  }

  /** Removes the object for good (its finalizers are gone) and lets the GC collect its dependents. */
  remove(rt: ResourceType, obj: JsonObject, prev: JsonObject, propagation: Propagation): JsonObject {
    const deleted = this.store.commit("DELETED", resourceKey(rt), obj, prev);
    const meta = metaOf(deleted);
    if (meta.uid !== undefined) this.gc.ownerDeleted(meta.uid, propagation);
    if (rt.namespaced && meta.namespace !== undefined) this.finalizeNamespace(meta.namespace);
    return deleted;
  }

  private begin(rt: ResourceType, obj: JsonObject, propagation: Propagation): JsonObject {
    const key = resourceKey(rt);
    const meta = metaOf(obj);
    const uid = meta.uid ?? "";
    if (propagation === "Orphan") this.gc.orphan(uid);
    if (propagation === "Foreground" && meta.deletionTimestamp === undefined && this.gc.dependentsOf(uid).length > 0) {
      // Visible while the dependents go: deletionTimestamp and the foregroundDeletion finalizer.
      const marked = this.markDeleting(rt, obj, [foregroundFinalizer]);
      this.gc.ownerDeleted(uid, "Foreground");
      const current = this.store.get(key, meta.namespace ?? "", meta.name ?? "") ?? marked;
      const cm = metaOf(current);
      const rest = (cm.finalizers ?? []).filter((f) => f !== foregroundFinalizer);
      const updated = structuredClone(current);
      if (rest.length > 0) {
        metaOf(updated).finalizers = rest;
        return this.store.commit("MODIFIED", key, updated, current);
      }
      delete metaOf(updated).finalizers;
      return this.remove(rt, updated, current, "Foreground");
    }
    if ((meta.finalizers ?? []).length > 0) {
      if (meta.deletionTimestamp !== undefined) return obj;
      return this.markDeleting(rt, obj, []);
    }
    return this.remove(rt, obj, obj, propagation);
  }

  private markDeleting(rt: ResourceType, obj: JsonObject, extraFinalizers: string[]): JsonObject {
    const updated = structuredClone(obj);
    const meta = metaOf(updated);
    meta.deletionTimestamp = nowTimestamp();
    meta.deletionGracePeriodSeconds = 0;
    if (extraFinalizers.length > 0) meta.finalizers = [...(meta.finalizers ?? []), ...extraFinalizers];
    if (rt.generation !== "none") meta.generation = (meta.generation ?? 0) + 1;
    return this.store.commit("MODIFIED", resourceKey(rt), updated, obj);
  }

  /**
   * The CRD registry's own Delete: deletionTimestamp, the cleanup finalizer and a Terminating
   * condition; crd-controller.ts then deletes the instances and removes the finalizer.
   */
  private markCrdDeleting(rt: ResourceType, crd: JsonObject): JsonObject {
    const updated = structuredClone(crd);
    const meta = metaOf(updated);
    meta.deletionTimestamp = nowTimestamp();
    meta.deletionGracePeriodSeconds = 0;
    if (!(meta.finalizers ?? []).includes(cleanupFinalizer)) meta.finalizers = [...(meta.finalizers ?? []), cleanupFinalizer];
    const status = isRecord(updated["status"]) ? updated["status"] : {};
    const conditions = (Array.isArray(status["conditions"]) ? status["conditions"] : []).filter((c) => !(isRecord(c) && c["type"] === "Terminating"));
    conditions.push({
      type: "Terminating",
      status: "True",
      lastTransitionTime: nowTimestamp(),
      reason: "InstanceDeletionPending",
      message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
    });
    updated["status"] = { ...status, conditions };
    return this.store.commit("MODIFIED", resourceKey(rt), updated, crd);
  }

  private deleteNamespace(rt: ResourceType, ns: JsonObject): JsonObject {
    const meta = metaOf(ns);
    const name = meta.name ?? "";
    let current = ns;
    if (meta.deletionTimestamp === undefined) {
      const updated = structuredClone(ns);
      metaOf(updated).deletionTimestamp = nowTimestamp();
      metaOf(updated).deletionGracePeriodSeconds = 0;
      updated["status"] = { ...(isRecord(ns["status"]) ? ns["status"] : {}), phase: "Terminating" };
      current = this.store.commit("MODIFIED", resourceKey(rt), updated, ns);
    }
    for (const r of this.namespacedKinds()) {
      for (const obj of this.store.list(resourceKey(r), name)) this.begin(r, obj, "Background");
    }
    this.finalizeNamespace(name);
    return this.store.get(resourceKey(rt), "", name) ?? current;
  }

  /** A terminating namespace goes away once nothing is left in it. */
  private finalizeNamespace(name: string): void {
    const ns = this.store.get("/namespaces", "", name);
    if (ns === undefined || metaOf(ns).deletionTimestamp === undefined) return;
    if (this.namespacedKinds().some((r) => this.store.list(resourceKey(r), name).length > 0)) return;
    this.store.commit("DELETED", "/namespaces", ns, ns);
  }

  /** One entry per namespaced kind (a CRD serving several versions is listed once). */
  private namespacedKinds(): ResourceType[] {
    const byKey = new Map<string, ResourceType>();
    for (const r of this.registry.all) if (r.namespaced && !byKey.has(resourceKey(r))) byKey.set(resourceKey(r), r);
    return [...byKey.values()];
  }
}
