// The object store: one global, monotonically increasing resourceVersion (as etcd's revision), a
// bounded window of past events for watches to resume from, and the open watchers.
import { statusErrors } from "./status.js";
import { isRecord, metaOf, type JsonObject } from "./types.js";

/** etcd's default --max-request-bytes; objects are measured as JSON here */
export const maxObjectBytes = 1.5 * 1024 * 1024;

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoredEvent {
  type: EventType;
  rv: number;
  /** resourceKey of the kind: `apps/daemonsets` */
  key: string;
  object: JsonObject;
  /** the object before a MODIFIED or DELETED, for selector transitions */
  prev?: JsonObject;
}

export interface StoreWatcher {
  key: string;
  deliver(event: StoredEvent): void;
}

interface Located {
  key: string;
  namespace: string;
  name: string;
}

const objectKey = (namespace: string, name: string) => `${namespace}/${name}`;

export class Store {
  private rv: number;
  private readonly objects = new Map<string, Map<string, JsonObject>>();
  private readonly byUid = new Map<string, Located>();
  private history: StoredEvent[] = [];
  /** events at or below this revision are gone: watches from older revisions get 410 */
  private compacted: number;
  readonly watchers = new Set<StoreWatcher>();

  constructor(
    private readonly historyLimit: number,
    initialResourceVersion = 1000,
  ) {
    this.rv = initialResourceVersion;
    this.compacted = initialResourceVersion;
  }

  currentResourceVersion(): number {
    return this.rv;
  }

  compactedResourceVersion(): number {
    return this.compacted;
  }

  /** Forgets every past event: a watch from any revision before now gets 410 Gone. */
  compact(): void {
    this.compacted = this.rv;
    this.history = [];
  }

  /** A copy of the stored object, or undefined. */
  get(key: string, namespace: string, name: string): JsonObject | undefined {
    const obj = this.objects.get(key)?.get(objectKey(namespace, name));
    return obj === undefined ? undefined : structuredClone(obj);
  }

  /** Where the object with this uid lives, if it exists. */
  locateUid(uid: string): Located | undefined {
    return this.byUid.get(uid);
  }

  /** Copies of the objects of a kind (in one namespace, or all), sorted by namespace and name as etcd does. */
  list(key: string, namespace?: string): JsonObject[] {
    const all = [...(this.objects.get(key)?.entries() ?? [])]
      .filter(([k]) => namespace === undefined || k.startsWith(`${namespace}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return all.map(([, obj]) => structuredClone(obj));
  }

  /** Every stored object of every kind, with its key. */
  *entries(): Generator<[string, JsonObject]> {
    for (const [key, objs] of this.objects) for (const obj of objs.values()) yield [key, structuredClone(obj)];
  }

  /** Past events of a kind after `rv`, or undefined when some were compacted away. */
  eventsSince(key: string, rv: number): StoredEvent[] | undefined {
    if (rv < this.compacted) return undefined;
    return this.history.filter((e) => e.key === key && e.rv > rv).map((e) => structuredClone(e));
  }

  /** Stores (or removes, for DELETED) an object under a new resourceVersion and tells the watchers. */
  commit(type: EventType, key: string, obj: JsonObject, prev?: JsonObject): JsonObject {
    if (type !== "DELETED" && Buffer.byteLength(JSON.stringify(obj)) > maxObjectBytes) throw statusErrors.etcdTooLarge();
    const stored = structuredClone(obj);
    const meta = metaOf(stored);
    const namespace = meta.namespace ?? "";
    const name = meta.name ?? "";
    this.rv += 1;
    meta.resourceVersion = String(this.rv);
    let objs = this.objects.get(key);
    if (objs === undefined) {
      objs = new Map();
      this.objects.set(key, objs);
    }
    if (type === "DELETED") {
      objs.delete(objectKey(namespace, name));
      if (meta.uid !== undefined) this.byUid.delete(meta.uid);
    } else {
      objs.set(objectKey(namespace, name), stored);
      if (meta.uid !== undefined) this.byUid.set(meta.uid, { key, namespace, name });
    }
    const event: StoredEvent = { type, rv: this.rv, key, object: stored };
    if (prev !== undefined) event.prev = structuredClone(prev);
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped !== undefined) this.compacted = dropped.rv;
    }
    for (const w of [...this.watchers]) if (w.key === key) w.deliver(structuredClone(event));
    return structuredClone(stored);
  }
}

export const nameOf = (obj: JsonObject): string => (isRecord(obj["metadata"]) && typeof obj["metadata"]["name"] === "string" ? obj["metadata"]["name"] : "");
