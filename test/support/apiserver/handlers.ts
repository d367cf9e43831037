// HTTP request → API verb: URL routing for /api/v1 and /apis/<group>/<version>, query options,
// and the answer (status, body, Warning headers). Watches are handed to the WatchHub.
import type { ServerResponse } from "node:http";
import { accessReview } from "./access-review.js";
import type { Cluster, WriteOptions } from "./cluster.js";
import type { DeleteOptions, Deleter } from "./deletion.js";
import { discovery } from "./discovery.js";
import type { Propagation } from "./gc.js";
import { negotiate, type Negotiated } from "./negotiation.js";
import { OpenApi } from "./openapi.js";
import type { Admission } from "./owner-admission.js";
import type { Decision } from "./rbac.js";
import type { ResourceRegistry } from "./registry.js";
import type { RequestAttributes } from "./request-info.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { statusErrors } from "./status.js";
import { includeObjectParam } from "./table.js";
import { transformed, watchEncoder } from "./transform.js";
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
  /** the Accept header: JSON, or a Table / PartialObjectMetadata transformation */
  accept?: string | undefined;
  /** admission checks that need the requesting user (with authorization only) */
  admit?: Admission | undefined;
  /** the authorizer's answer for the requesting user (SelfSubjectAccessReview); absent: everything is allowed */
  authorize?: ((a: RequestAttributes) => Decision) | undefined;
}

function route(registry: ResourceRegistry, path: string): ResourceRoute | undefined {
  const segs = path
    .split("/")
    .filter((s) => s !== "")
    .map(decodeURIComponent);
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

/** sendInitialEvents=true, checked as the real ListOptions validation does. */
function sendInitialEvents(q: URLSearchParams): boolean {
  if (q.get("sendInitialEvents") !== "true") return false;
  if (q.get("resourceVersionMatch") !== "NotOlderThan") {
    throw statusErrors.invalidListOptions("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
  }
  if (q.get("allowWatchBookmarks") !== "true")
    throw statusErrors.invalidListOptions("allowWatchBookmarks", "allowWatchBookmarks must be set to true when sendInitialEvents is set");
  return true;
}

export class Handlers {
  constructor(
    private readonly registry: ResourceRegistry,
    private readonly cluster: Cluster,
    private readonly deleter: Deleter,
    private readonly watches: WatchHub,
    private readonly serverAddress: () => string,
  ) {
    this.openApi = new OpenApi(registry);
  }

  private readonly openApi: OpenApi;

  /** Answers the call, or returns undefined after starting a watch stream on `res`. */
  handle(call: IncomingCall, res: ServerResponse): HttpAnswer | undefined {
    const path = call.url.pathname.replace(/\/+$/, "") || "/";
    if (path === "/healthz" || path === "/livez" || path === "/readyz") return { status: 200, body: "ok" };
    if (call.method === "GET") {
      const doc = discovery(this.registry, path, this.serverAddress());
      if (doc !== undefined) return { status: 200, body: doc };
      const openapi = this.openapi(path, call.url.searchParams);
      if (openapi !== undefined) return openapi;
    }
    const r = route(this.registry, path);
    if (r === undefined) throw statusErrors.pathNotFound();
    const how = negotiate(call.accept);
    if (how.transform === "Table") includeObjectParam(call.url.searchParams);
    const answer = r.name === undefined ? this.collection(call, r, res, how) : this.item(call, r, r.name);
    if (answer === undefined) return undefined;
    return { ...answer, body: transformed(r.rt, answer.body, how, call.url.searchParams) };
  }

  /** /openapi/v3 and its group-version documents; a stale `hash` is redirected to the current one, as the real server does. */
  private openapi(path: string, q: URLSearchParams): HttpAnswer | undefined {
    if (path === "/openapi/v3") return { status: 200, body: this.openApi.index() };
    if (!path.startsWith("/openapi/v3/")) return undefined;
    const gv = path.slice("/openapi/v3/".length);
    const doc = this.openApi.document(gv);
    if (doc === undefined) return undefined;
    const hash = OpenApi.hash(doc);
    const asked = q.get("hash");
    if (asked !== null && asked !== hash) return { status: 301, body: "", headers: { Location: `/openapi/v3/${gv}?hash=${hash}` } };
    return { status: 200, body: doc, headers: { Etag: `"${hash}"`, ...(asked === null ? {} : { "Cache-Control": "public, immutable" }) } };
  }

  private collection(call: IncomingCall, r: ResourceRoute, res: ServerResponse, how: Negotiated): HttpAnswer | undefined {
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
            sendInitialEvents: sendInitialEvents(q),
            encode: watchEncoder(rt, how, q),
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
        if (rt.review === true) return accessReview(rt, call.body, call.authorize);
        if (rt.namespaced && namespace === undefined) throw statusErrors.methodNotAllowed();
        const created = this.cluster.create(rt, namespace ?? "", call.body, this.writeOptions(q, call.admit));
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
        const updated = this.cluster.update(rt, namespace, name, call.body, subresource, this.writeOptions(q, call.admit));
        return { status: 200, body: updated.object, headers: warningHeaders(q, updated.warnings) };
      }
      case "PATCH": {
        const contentType = call.contentType.split(";")[0]?.trim() ?? "";
        const patched = this.cluster.patch(rt, namespace, name, contentType, call.body, subresource, this.writeOptions(q, call.admit));
        return { status: 200, body: patched.object, headers: warningHeaders(q, patched.warnings) };
      }
      case "DELETE":
        if (subresource !== undefined) throw statusErrors.methodNotAllowed();
        return { status: 200, body: this.deleter.delete(rt, namespace, name, this.deleteOptions(q, call.body)) };
      default:
        throw statusErrors.methodNotAllowed();
    }
  }

  private writeOptions(q: URLSearchParams, admit: Admission | undefined): WriteOptions {
    const validation = q.get("fieldValidation");
    if (validation !== null && !["Strict", "Warn", "Ignore"].includes(validation)) {
      throw statusErrors.badRequest(`fieldValidation: Unsupported value: "${validation}": supported values: "Ignore", "Strict", "Warn"`);
    }
    return { dryRun: q.getAll("dryRun").includes("All"), strict: validation === "Strict", ...(admit === undefined ? {} : { admit }) };
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
