// What apiextensions-apiserver's controllers do with a CustomResourceDefinition written through
// the API, emulated: right after it is created, its names are accepted and it is Established
// (a MODIFIED event, the moment helm's and kubectl's waits look for) and its kind is served;
// an update re-serves it; a delete marks it Terminating, deletes every instance, then drops the
// cleanup finalizer so the CRD goes away and its kind stops being served.
import { parseCrd } from "../crd/load.js";
import { nowTimestamp } from "./cluster.js";
import { cleanupFinalizer, crdKey } from "./builtin-crd.js";
import type { Deleter } from "./deletion.js";
import type { ResourceRegistry } from "./registry.js";
import type { Store, StoredEvent } from "./store.js";
import { isRecord, metaOf, resourceKey, type JsonObject } from "./types.js";

interface Condition {
  type: string;
  status: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

const conditionsOf = (crd: JsonObject): Condition[] => {
  const status = isRecord(crd["status"]) ? crd["status"] : {};
  return Array.isArray(status["conditions"]) ? (status["conditions"] as Condition[]) : [];
};

/** SetCRDCondition: replaces the condition of that type, keeping its transition time if the status is unchanged. */
function withCondition(crd: JsonObject, c: Omit<Condition, "lastTransitionTime">): JsonObject {
  const updated = structuredClone(crd);
  const status = isRecord(updated["status"]) ? updated["status"] : {};
  updated["status"] = status;
  const existing = conditionsOf(updated);
  const old = existing.find((e) => e.type === c.type);
  const cond: Condition = {
    type: c.type,
    status: c.status,
    lastTransitionTime: old?.status === c.status ? old.lastTransitionTime : nowTimestamp(),
    reason: c.reason,
    message: c.message,
  };
  status["conditions"] = old === undefined ? [...existing, cond] : existing.map((e) => (e.type === c.type ? cond : e));
  return updated;
}

export class CrdController {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: Store,
    private readonly registry: ResourceRegistry,
    private readonly deleter: Deleter,
  ) {
    store.watchers.add({
      key: crdKey,
      deliver: (ev) => {
        this.observe(ev);
      },
    });
  }

  /** Accepts the names, marks the CRD Established and serves its kind now (CRDs present at start). */
  establish(name: string): void {
    const crd = this.store.get(crdKey, "", name);
    if (crd === undefined || conditionsOf(crd).some((c) => c.type === "Established" && c.status === "True")) return;
    const spec = isRecord(crd["spec"]) ? crd["spec"] : {};
    let updated = structuredClone(crd);
    const status = isRecord(updated["status"]) ? updated["status"] : {};
    status["acceptedNames"] = structuredClone(spec["names"] ?? {});
    updated["status"] = status;
    updated = withCondition(updated, { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found" });
    updated = withCondition(updated, { type: "Established", status: "True", reason: "InitialNamesAccepted", message: "the initial names have been accepted" });
    this.serve(updated);
    this.store.commit("MODIFIED", crdKey, updated, crd);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private observe(ev: StoredEvent): void {
    const name = metaOf(ev.object).name ?? "";
    if (ev.type === "DELETED") {
      this.registry.forgetCrd(name);
      return;
    }
    const meta = metaOf(ev.object);
    if (meta.deletionTimestamp !== undefined) {
      if ((meta.finalizers ?? []).includes(cleanupFinalizer)) {
        this.later(() => {
          this.cleanUp(name);
        }, 0);
      }
      return;
    }
    if (ev.type === "ADDED") {
      this.later(() => {
        this.establish(name);
      }, 0);
    } else if (conditionsOf(ev.object).some((c) => c.type === "Established" && c.status === "True")) this.serve(ev.object);
  }

  private serve(crd: JsonObject): void {
    try {
      this.registry.serveCrd(parseCrd(crd, `customresourcedefinitions/${metaOf(crd).name ?? ""}`));
    } catch {
      // Validation refused anything parseCrd refuses; an object that still fails is not served.
    }
  }

  /** The finalizer's work: delete every instance, then let the CRD go. */
  private cleanUp(name: string): void {
    const crd = this.store.get(crdKey, "", name);
    if (crd === undefined || !(metaOf(crd).finalizers ?? []).includes(cleanupFinalizer)) return;
    const keys = [...new Set(this.registry.typesOf(name).map(resourceKey))];
    for (const key of keys) {
      for (const obj of this.store.list(key)) this.deleter.deleteByKey(key, metaOf(obj).namespace ?? "", metaOf(obj).name ?? "", "Background");
    }
    const remaining = keys.reduce((n, key) => n + this.store.list(key).length, 0);
    if (remaining > 0) {
      // Instances with finalizers of their own: look again, as the real controller requeues.
      const waiting = withCondition(crd, {
        type: "Terminating",
        status: "True",
        reason: "InstanceDeletionCheck",
        message: `could not confirm zero CustomResources remaining: ${remaining} remaining`,
      });
      if (JSON.stringify(waiting) !== JSON.stringify(crd)) this.store.commit("MODIFIED", crdKey, waiting, crd);
      this.later(() => {
        this.cleanUp(name);
      }, 100);
      return;
    }
    const done = withCondition(crd, { type: "Terminating", status: "False", reason: "InstancesDeleted", message: "removed all instances" });
    const meta = metaOf(done);
    meta.finalizers = (meta.finalizers ?? []).filter((f) => f !== cleanupFinalizer);
    if (meta.finalizers.length > 0) {
      this.store.commit("MODIFIED", crdKey, done, crd);
      return;
    }
    delete meta.finalizers;
    const rt = this.registry.all.find((r) => resourceKey(r) === crdKey);
    if (rt !== undefined) this.deleter.remove(rt, done, crd, "Background");
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}
