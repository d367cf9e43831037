// An emulation of the garbage collector controller. On a real cluster it runs in
// kube-controller-manager and acts asynchronously, some time after the owner is gone; here
// dependents of a deleted owner are collected synchronously, before the DELETE returns (or after
// `delayMs` when set), and objects whose owners never existed are collected on the next tick.
import type { Store } from "./store.js";
import { isRecord, metaOf, type JsonObject, type OwnerReference } from "./types.js";

export type Propagation = "Background" | "Foreground" | "Orphan";

export interface DependentDeleter {
  deleteByKey(key: string, namespace: string, name: string, propagation: Propagation): void;
}

const refsOf = (obj: JsonObject): OwnerReference[] => {
  const refs = metaOf(obj).ownerReferences;
  return Array.isArray(refs) ? refs.filter(isRecord) : [];
};

export class GarbageCollector {
  private readonly timers = new Set<NodeJS.Timeout>();
  deleter: DependentDeleter | undefined;

  constructor(
    private readonly store: Store,
    private readonly delayMs: number,
  ) {}

  /** Objects whose ownerReferences name this uid. */
  dependentsOf(uid: string): [string, JsonObject][] {
    return [...this.store.entries()].filter(([, obj]) => refsOf(obj).some((r) => r.uid === uid));
  }

  /** The owner is gone: delete its dependents (or drop the reference where another owner remains). */
  ownerDeleted(uid: string, propagation: Propagation): void {
    if (this.delayMs > 0) {
      this.later(() => {
        this.collect(uid, propagation);
      }, this.delayMs);
    } else this.collect(uid, propagation);
  }

  /** DELETE with propagationPolicy=Orphan: dependents lose the reference and stay. */
  orphan(uid: string): void {
    for (const [key, dep] of this.dependentsOf(uid)) {
      this.dropReference(key, dep, uid);
    }
  }

  /** An object written with owners none of which exists is collected, as the real GC would. */
  checkOwners(key: string, obj: JsonObject): void {
    if (refsOf(obj).length === 0) return;
    const meta = metaOf(obj);
    this.later(() => {
      const current = this.store.get(key, meta.namespace ?? "", meta.name ?? "");
      if (current === undefined || metaOf(current).uid !== meta.uid) return;
      const refs = refsOf(current);
      if (refs.length > 0 && !refs.some((r) => this.ownerExists(current, r))) {
        this.deleter?.deleteByKey(key, meta.namespace ?? "", meta.name ?? "", "Background");
      }
    }, this.delayMs);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private collect(uid: string, propagation: Propagation): void {
    for (const [key, dep] of this.dependentsOf(uid)) {
      const current = this.store.get(key, metaOf(dep).namespace ?? "", metaOf(dep).name ?? "");
      if (current === undefined) continue;
      const otherOwners = refsOf(current).filter((r) => r.uid !== uid && this.ownerExists(current, r));
      if (otherOwners.length > 0) this.dropReference(key, current, uid);
      else
        this.deleter?.deleteByKey(key, metaOf(current).namespace ?? "", metaOf(current).name ?? "", propagation === "Foreground" ? "Foreground" : "Background");
    }
  }

  private ownerExists(dependent: JsonObject, ref: OwnerReference): boolean {
    const loc = this.store.locateUid(ref.uid);
    if (loc === undefined) return false;
    const owner = this.store.get(loc.key, loc.namespace, loc.name);
    if (owner === undefined || owner["kind"] !== ref.kind || metaOf(owner).name !== ref.name) return false;
    // A namespaced owner must live in the dependent's namespace; else the GC treats it as absent.
    return loc.namespace === "" || loc.namespace === (metaOf(dependent).namespace ?? "");
  }

  private dropReference(key: string, dep: JsonObject, uid: string): void {
    const updated = structuredClone(dep);
    const meta = metaOf(updated);
    const remaining = refsOf(updated).filter((r) => r.uid !== uid);
    if (remaining.length > 0) meta.ownerReferences = remaining;
    else delete meta.ownerReferences;
    this.store.commit("MODIFIED", key, updated, dep);
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}
