// Watch streams: newline-delimited JSON events ({"type","object"}), from a resourceVersion (the
// retained history is replayed; older than the window: one ERROR event carrying a 410 Expired
// Status, then the stream ends, as the real watch cache does) or from now (an ADDED event per
// existing object first). Selector transitions follow the watch cache: an object that stops
// matching is sent as DELETED, one that starts matching as ADDED.
import type { ServerResponse } from "node:http";
import { matchesFields, matchesLabels, type FieldRequirement, type LabelSelector } from "./selectors.js";
import { statusErrors } from "./status.js";
import type { Store, StoredEvent, StoreWatcher } from "./store.js";
import { apiVersionOf, metaOf, resourceKey, type JsonObject, type ResourceType } from "./types.js";

export interface WatchRequest {
  rt: ResourceType;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldRequirement[];
  resourceVersion: string | null;
  timeoutSeconds: number | undefined;
  allowBookmarks: boolean;
  /** watch-list (sendInitialEvents=true): the current objects as ADDED, then a BOOKMARK marking their end */
  sendInitialEvents?: boolean;
  /** the event object as the client asked for it (a Table, say); default as stored */
  encode?: ((object: JsonObject) => unknown) | undefined;
}

export class WatchHub {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly store: Store,
    private readonly bookmarkIntervalMs: number,
    private readonly defaultTimeoutSeconds: number | undefined,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  /** Validates the request; throws an ApiError before any byte is written. */
  static parseResourceVersion(rv: string | null): number | undefined {
    if (rv === null || rv === "" || rv === "0") return undefined;
    if (!/^\d+$/.test(rv)) throw statusErrors.badRequest(`resourceVersion: Invalid value: "${rv}": strconv.ParseUint: parsing "${rv}": invalid syntax`);
    return Number(rv);
  }

  serve(res: ServerResponse, w: WatchRequest): void {
    const from = WatchHub.parseResourceVersion(w.resourceVersion);
    const key = resourceKey(w.rt);
    const passes = (obj: JsonObject) =>
      (w.namespace === undefined || metaOf(obj).namespace === w.namespace) && matchesLabels(w.labels, metaOf(obj).labels) && matchesFields(w.fields, obj);
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
    res.flushHeaders();
    const send = (type: string, object: JsonObject) => {
      const encoded = w.encode === undefined ? object : w.encode(object);
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object: encoded })}\n`);
    };
    const forward = (ev: StoredEvent) => {
      const now = passes(ev.object);
      const before = ev.prev === undefined ? false : passes(ev.prev);
      if (ev.type === "ADDED" && now) send("ADDED", ev.object);
      else if (ev.type === "DELETED" && (ev.prev === undefined ? now : before)) send("DELETED", ev.object);
      else if (ev.type === "MODIFIED") {
        if (now && before) send("MODIFIED", ev.object);
        else if (now) send("ADDED", ev.object);
        else if (before && ev.prev !== undefined) {
          const gone = structuredClone(ev.prev);
          metaOf(gone).resourceVersion = String(ev.rv);
          send("DELETED", gone);
        }
      }
    };
    if (w.sendInitialEvents === true) {
      // Watch-list (client-go 1.35 informers ask for it): the state now, then the bookmark that ends it.
      for (const obj of this.store.list(key, w.rt.namespaced ? w.namespace : undefined)) if (passes(obj)) send("ADDED", obj);
      send("BOOKMARK", {
        kind: w.rt.kind,
        apiVersion: apiVersionOf(w.rt),
        metadata: { resourceVersion: String(this.store.currentResourceVersion()), annotations: { "k8s.io/initial-events-end": "true" } },
      });
    } else if (from !== undefined) {
      const past = this.store.eventsSince(key, from);
      if (past === undefined) {
        send("ERROR", statusErrors.expired(`too old resource version: ${from} (${this.store.compactedResourceVersion()})`).status as unknown as JsonObject);
        res.end();
        return;
      }
      past.forEach(forward);
    } else {
      for (const obj of this.store.list(key, w.rt.namespaced ? w.namespace : undefined)) if (passes(obj)) send("ADDED", obj);
    }
    const watcher: StoreWatcher = { key, deliver: forward };
    this.store.watchers.add(watcher);
    this.open.add(res);
    const timers: NodeJS.Timeout[] = [];
    const timeout = w.timeoutSeconds ?? this.defaultTimeoutSeconds;
    if (timeout !== undefined && timeout > 0) timers.push(setTimeout(() => res.end(), timeout * 1000));
    if (w.allowBookmarks) {
      const bookmark = () => {
        send("BOOKMARK", { kind: w.rt.kind, apiVersion: apiVersionOf(w.rt), metadata: { resourceVersion: String(this.store.currentResourceVersion()) } });
      };
      timers.push(setInterval(bookmark, this.bookmarkIntervalMs));
    }
    res.on("close", () => {
      this.store.watchers.delete(watcher);
      this.open.delete(res);
      for (const t of timers) clearTimeout(t);
    });
  }

  /** Cuts every open watch: the socket is destroyed without ending the chunked body. */
  dropAll(): number {
    const n = this.open.size;
    for (const res of [...this.open]) res.destroy();
    return n;
  }

  /** Ends every open watch cleanly, as a server-side timeout would. */
  endAll(): void {
    for (const res of [...this.open]) res.end();
  }
}
