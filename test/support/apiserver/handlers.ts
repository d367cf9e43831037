// HTTP request → API verb: URL routing for /api/v1 and /apis/<group>/<version>, query options,
// and the answer (status, body, Warning headers). Watches are handed to the WatchHub.
import type { ServerResponse } from "node:http";
import type { Cluster, WriteOptions } from "./cluster.js";
import type { DeleteOptions, Deleter } from "./deletion.js";
import { discovery } from "./discovery.js";
import type { Propagation } from "./gc.js";
import type { ResourceRegistry } from "./registry.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { statusErrors } from "./status.js";
import { isRecord, metaOf, resourceKey, type ResourceType } from "./types.js";
import { WatchHub } from "./watch.js";

export interface HttpAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string | string[]>;
}

interface ResourceRoute {
  rt: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

export interface IncomingCall {
  method: string;
  url: URL;
  body: unknown;
  contentType: string;
}

function route(registry: ResourceRegistry, path: string): ResourceRoute | undefined {
  const segs = path.split("/").filter((s) => s !== "").map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === "api" && segs.length >= 3) {
    group = "";
    version = segs[1] ?? "";
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs.length >= 4) {
    group = segs[1] ?? "";
    version = segs[2] ?? "";
    rest = segs.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3 && !(rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize"))) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (plural === undefined || extra.length > 0) return undefined;
  const rt = registry.find(group, version, plural);
  if (rt === undefined) return undefined;
  if (namespace !== undefined && !rt.namespaced) return undefined;
  if (name !== undefined && rt.namespaced && namespace === undefined) return undefined;
  if (subresource !== undefined && !(subresource === "status" && rt.statusSubresource)) return undefined;
  return { rt, namespace, name, subresource };
}

/** Dropped unknown fields, as `Warning` headers (fieldValidation=Warn, the default; Ignore sends none). */
const warningHeaders = (q: URLSearchParams, warnings: string[]): Record<string, string[]> =>
  warnings.length === 0 || q.get("fieldValidation") === "Ignore" ? {} : { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) };

function propagationFrom(q: URLSearchParams, body: unknown): Propagation | undefined {
  const fromBody = isRecord(body) ? body["propagationPolicy"] : undefined;
  const value = q.get("propagationPolicy") ?? (typeof fromBody === "string" ? fromBody : undefined);
  const orphan = q.get("orphanDependents") ?? (isRecord(body) && typeof body["orphanDependents"] === "boolean" ? String(body["orphanDependents"]) : null);
  if (value === undefined) return orphan === "true" ? "Orphan" : undefined;
  if (value !== "Background" && value !== "Foreground" && value !== "Orphan") {
    throw statusErrors.badRequest(`propagationPolicy: Unsupported value: "${value}": supported values: "Foreground", "Background", "Orphan"`);
  }
  return value;
}

function isDryRun(q: URLSearchParams, body: unknown): boolean {
  const fromBody = isRecord(body) && Array.isArray(body["dryRun"]) ? body["dryRun"] : [];
  return q.getAll("dryRun").includes("All") || fromBody.includes("All");
}

export class Handlers {
  constructor(
    private readonly registry: ResourceRegistry,
    private readonly cluster: Cluster,
    private readonly deleter: Deleter,
    private readonly watches: WatchHub,
    private readonly serverAddress: () => string,
  ) {}

  /** Answers the call, or returns undefined after starting a watch stream on `res`. */
  handle(call: IncomingCall, res: ServerResponse): HttpAnswer | undefined {
    const path = call.url.pathname.replace(/\/+$/, "") || "/";
    if (path === "/healthz" || path === "/livez" || path === "/readyz") return { status: 200, body: "ok" };
    if (call.method === "GET") {
      const doc = discovery(this.registry, path, this.serverAddress());
      if (doc !== undefined) return { status: 200, body: doc };
    }
    const r = route(this.registry, path);
    if (r === undefined) throw statusErrors.pathNotFound();
    return r.name === undefined ? this.collection(call, r, res) : this.item(call, r, r.name);
  }

  private collection(call: IncomingCall, r: ResourceRoute, res: ServerResponse): HttpAnswer | undefined {
    const q = call.url.searchParams;
    const { rt, namespace } = r;
    switch (call.method) {
      case "GET": {
        const watch = q.get("watch");
        if (watch === "true" || watch === "1") {
          const timeout = q.get("timeoutSeconds");
          WatchHub.parseResourceVersion(q.get("resourceVersion"));
          this.watches.serve(res, {
            rt,
            namespace,
            labels: parseLabelSelector(q.get("labelSelector")),
            fields: parseFieldSelector(q.get("fieldSelector"), rt),
            resourceVersion: q.get("resourceVersion"),
            timeoutSeconds: timeout === null ? undefined : Number(timeout),
            allowBookmarks: q.get("allowWatchBookmarks") === "true",
          });
          return undefined;
        }
        const limit = q.get("limit");
        return {
          status: 200,
          body: this.cluster.list(rt, namespace, {
            labelSelector: q.get("labelSelector"),
            fieldSelector: q.get("fieldSelector"),
            limit: limit === null ? undefined : Number(limit),
            continueToken: q.get("continue"),
          }),
        };
      }
      case "POST": {
        if (rt.namespaced && namespace === undefined) throw statusErrors.methodNotAllowed();
        const created = this.cluster.create(rt, namespace ?? "", call.body, this.writeOptions(q));
        return { status: 201, body: created.object, headers: warningHeaders(q, created.warnings) };
      }
      case "DELETE": {
        if (rt.namespaced && namespace === undefined) throw statusErrors.methodNotAllowed();
        const opts = this.deleteOptions(q, call.body);
        const items = this.cluster.select(rt, namespace, q.get("labelSelector"), q.get("fieldSelector"));
        const deleted = items.flatMap((item) => {
          const meta = metaOf(item);
          if (this.cluster.store.get(resourceKey(rt), meta.namespace ?? "", meta.name ?? "") === undefined) return [];
          const result = this.deleter.delete(rt, meta.namespace ?? "", meta.name ?? "", { ...opts, preconditions: undefined });
          return [result.kind === "Status" ? item : result];
        });
        return { status: 200, body: { kind: rt.listKind, apiVersion: items[0]?.["apiVersion"] ?? "", metadata: {}, items: deleted } };
      }
      default:
        throw statusErrors.methodNotAllowed();
    }
  }

  private item(call: IncomingCall, r: ResourceRoute, name: string): HttpAnswer {
    const q = call.url.searchParams;
    const { rt, subresource } = r;
    const namespace = r.namespace ?? "";
    switch (call.method) {
      case "GET":
        return { status: 200, body: this.cluster.get(rt, namespace, name) };
      case "PUT": {
        const updated = this.cluster.update(rt, namespace, name, call.body, subresource, this.writeOptions(q));
        return { status: 200, body: updated.object, headers: warningHeaders(q, updated.warnings) };
      }
      case "PATCH": {
        const contentType = call.contentType.split(";")[0]?.trim() ?? "";
        const patched = this.cluster.patch(rt, namespace, name, contentType, call.body, subresource, this.writeOptions(q));
        return { status: 200, body: patched.object, headers: warningHeaders(q, patched.warnings) };
      }
      case "DELETE":
        if (subresource !== undefined) throw statusErrors.methodNotAllowed();
        return { status: 200, body: this.deleter.delete(rt, namespace, name, this.deleteOptions(q, call.body)) };
      default:
        throw statusErrors.methodNotAllowed();
    }
  }

  private writeOptions(q: URLSearchParams): WriteOptions {
    const validation = q.get("fieldValidation");
    if (validation !== null && !["Strict", "Warn", "Ignore"].includes(validation)) {
      throw statusErrors.badRequest(`fieldValidation: Unsupported value: "${validation}": supported values: "Ignore", "Strict", "Warn"`);
    }
    return { dryRun: q.getAll("dryRun").includes("All"), strict: validation === "Strict" };
  }

  private deleteOptions(q: URLSearchParams, body: unknown): DeleteOptions {
    const pre = isRecord(body) && isRecord(body["preconditions"]) ? body["preconditions"] : undefined;
    const preconditions: DeleteOptions["preconditions"] =
      pre === undefined
        ? undefined
        : {
            ...(typeof pre["uid"] === "string" ? { uid: pre["uid"] } : {}),
            ...(typeof pre["resourceVersion"] === "string" ? { resourceVersion: pre["resourceVersion"] } : {}),
          };
    return { propagationPolicy: propagationFrom(q, body), preconditions, dryRun: isDryRun(q, body) };
  }
}
