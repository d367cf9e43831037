// The verbs of the API (get, list, create, update, patch) over the store, independent of HTTP.
import { randomUUID } from "node:crypto";
import { fieldErrors, FieldPath } from "../crd/field-error.js";
import type { Deleter } from "./deletion.js";
import type { GarbageCollector } from "./gc.js";
import { goJson } from "./jsonpath.js";
import type { Admission } from "./owner-admission.js";
import { jsonPatch, mergePatch, PatchApplyError, PatchDecodeError } from "./patch.js";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { statusErrors } from "./status.js";
import type { Store } from "./store.js";
import { strategicMerge, StrategicMergeError } from "./strategic-merge.js";
import { admitCreate, admitUpdate, isNoop, StrictDecodingError } from "./strategy.js";
import { apiVersionOf, isRecord, metaOf, resourceKey, type JsonObject, type ResourceType } from "./types.js";

export interface WriteOptions {
  dryRun: boolean;
  strict: boolean;
  /** validating admission that needs the user (OwnerReferencesPermissionEnforcement), after validation */
  admit?: Admission;
}

export interface WriteResult {
  object: JsonObject;
  warnings: string[];
}

export interface ListQuery {
  labelSelector: string | null;
  fieldSelector: string | null;
  limit: number | undefined;
  continueToken: string | null;
}

export const nowTimestamp = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789";
function generateName(prefix: string): string {
  const random = Array.from({ length: 5 }, () => nameAlphabet[Math.floor(Math.random() * nameAlphabet.length)] ?? "x").join("");
  return `${prefix.slice(0, 58)}${random}`;
}

interface ContinueToken {
  rv: number;
  start: string;
}

export class Cluster {
  constructor(
    readonly store: Store,
    private readonly deleter: Deleter,
    private readonly gc: GarbageCollector,
    private readonly enforceNamespaces: boolean,
  ) {}

  get(rt: ResourceType, namespace: string, name: string): JsonObject {
    const obj = this.store.get(resourceKey(rt), rt.namespaced ? namespace : "", name);
    if (obj === undefined) throw statusErrors.notFound(rt, name);
    return obj;
  }

  /** The items of a list, filtered by the selectors (namespace undefined: every namespace). */
  select(rt: ResourceType, namespace: string | undefined, labelSelector: string | null, fieldSelector: string | null): JsonObject[] {
    const labels = parseLabelSelector(labelSelector);
    const fields = parseFieldSelector(fieldSelector, rt);
    return this.store
      .list(resourceKey(rt), rt.namespaced ? namespace : undefined)
      .filter((o) => matchesLabels(labels, metaOf(o).labels) && matchesFields(fields, o));
  }

  list(rt: ResourceType, namespace: string | undefined, q: ListQuery): JsonObject {
    let rv = this.store.currentResourceVersion();
    let items = this.select(rt, namespace, q.labelSelector, q.fieldSelector);
    if (q.continueToken !== null && q.continueToken !== "") {
      const token = decodeContinue(q.continueToken);
      if (token.rv < this.store.compactedResourceVersion()) {
        throw statusErrors.expired(
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        );
      }
      rv = token.rv;
      items = items.filter((o) => itemKey(o) > token.start);
    }
    const metadata: JsonObject = { resourceVersion: String(rv) };
    if (q.limit !== undefined && q.limit > 0 && items.length > q.limit) {
      const rest = items.length - q.limit;
      items = items.slice(0, q.limit);
      const last = items[items.length - 1];
      metadata["continue"] = encodeContinue({ rv, start: last === undefined ? "" : itemKey(last) });
      if (q.labelSelector === null && q.fieldSelector === null) metadata["remainingItemCount"] = rest;
    }
    if (rt.crd === undefined) {
      // Built-in lists carry no apiVersion/kind on their items (custom resource lists do).
      for (const item of items) {
        delete item["apiVersion"];
        delete item["kind"];
      }
    }
    return { kind: rt.listKind, apiVersion: apiVersionOf(rt), metadata, items };
  }

  create(rt: ResourceType, namespace: string, body: unknown, opts: WriteOptions): WriteResult {
    return decodingErrors(rt, () => this.doCreate(rt, namespace, body, opts));
  }

  update(rt: ResourceType, namespace: string, name: string, body: unknown, subresource: string | undefined, opts: WriteOptions): WriteResult {
    return decodingErrors(rt, () => this.doUpdate(rt, namespace, name, body, subresource, opts));
  }

  private doCreate(rt: ResourceType, namespace: string, body: unknown, opts: WriteOptions): WriteResult {
    const obj = this.checkBody(rt, body);
    const meta = metaOf(obj);
    if (rt.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== namespace) {
        throw statusErrors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      meta.namespace = namespace;
    } else delete meta.namespace;
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== "") {
      throw statusErrors.internal("resourceVersion should not be set on objects to be created");
    }
    if ((meta.name === undefined || meta.name === "") && typeof meta.generateName === "string" && meta.generateName !== "") {
      const key = resourceKey(rt);
      const ns = rt.namespaced ? namespace : "";
      let candidate = generateName(meta.generateName);
      for (let i = 0; i < 8 && this.store.get(key, ns, candidate) !== undefined; i++) candidate = generateName(meta.generateName);
      meta.name = candidate;
    }
    if (rt.namespaced) this.ensureNamespace(rt, namespace, meta.name ?? "");
    for (const k of ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink", "managedFields"]) {
      Reflect.deleteProperty(meta, k);
    }
    const admitted = admitCreate(rt, obj, opts);
    opts.admit?.(rt, admitted.object, undefined, undefined);
    const name = metaOf(admitted.object).name ?? "";
    if (this.store.get(resourceKey(rt), rt.namespaced ? namespace : "", name) !== undefined) throw statusErrors.alreadyExists(rt, name);
    const finalMeta = metaOf(admitted.object);
    finalMeta.uid = randomUUID();
    finalMeta.creationTimestamp = nowTimestamp();
    if (rt.generation !== "none") finalMeta.generation = 1;
    if (opts.dryRun) return admitted;
    const stored = this.store.commit("ADDED", resourceKey(rt), admitted.object);
    this.gc.checkOwners(resourceKey(rt), stored);
    return { object: stored, warnings: admitted.warnings };
  }

  private doUpdate(rt: ResourceType, namespace: string, name: string, body: unknown, subresource: string | undefined, opts: WriteOptions): WriteResult {
    const old = this.get(rt, namespace, name);
    const obj = this.checkBody(rt, body);
    const meta = metaOf(obj);
    if (meta.name !== undefined && meta.name !== "" && meta.name !== name) {
      throw statusErrors.badRequest(`the name of the object (${meta.name}) does not match the name on the URL (${name})`);
    }
    meta.name = name;
    if (rt.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== namespace) {
        throw statusErrors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      meta.namespace = namespace;
    } else delete meta.namespace;
    const oldMeta = metaOf(old);
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== "" && meta.resourceVersion !== oldMeta.resourceVersion) {
      throw statusErrors.staleUpdate(rt, name);
    }
    if (meta.uid !== undefined && meta.uid !== "" && meta.uid !== oldMeta.uid) {
      throw statusErrors.conflict(rt, name, `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${oldMeta.uid ?? ""}`);
    }
    const admitted = admitUpdate(rt, obj, old, subresource, opts);
    opts.admit?.(rt, admitted.object, old, subresource);
    const newMeta = metaOf(admitted.object);
    newMeta.resourceVersion = oldMeta.resourceVersion ?? "";
    if (isNoop(admitted.object, old)) return { object: old, warnings: admitted.warnings };
    if (opts.dryRun) return admitted;
    if (newMeta.deletionTimestamp !== undefined && (newMeta.finalizers ?? []).length === 0) {
      // The last finalizer is gone: the object goes away now.
      return { object: this.deleter.remove(rt, admitted.object, old, "Background"), warnings: admitted.warnings };
    }
    const stored = this.store.commit("MODIFIED", resourceKey(rt), admitted.object, old);
    this.gc.checkOwners(resourceKey(rt), stored);
    return { object: stored, warnings: admitted.warnings };
  }

  patch(
    rt: ResourceType,
    namespace: string,
    name: string,
    contentType: string,
    patch: unknown,
    subresource: string | undefined,
    opts: WriteOptions,
  ): WriteResult {
    let patched: unknown;
    const accepted = ["application/json-patch+json", "application/merge-patch+json"];
    if (rt.crd === undefined) accepted.push("application/strategic-merge-patch+json");
    // The patch type is checked before the object is looked up, as the real routing does.
    if (contentType === "application/apply-patch+yaml") {
      // Server-side apply is not implemented: say so, so that helm and kubectl users know what to do.
      throw statusErrors.unsupportedMediaType(
        contentType,
        accepted,
        " (this test API server does not implement server-side apply: apply client-side, e.g. helm install --server-side=false)",
      );
    }
    if (!accepted.includes(contentType)) throw statusErrors.unsupportedMediaType(contentType, accepted);
    const old = this.get(rt, namespace, name);
    switch (contentType) {
      case "application/merge-patch+json":
        patched = mergePatch(old, patch);
        break;
      case "application/strategic-merge-patch+json":
        try {
          patched = strategicMerge(old, patch);
        } catch (err) {
          if (err instanceof StrategicMergeError) throw statusErrors.badRequest(err.message);
          throw err;
        }
        break;
      case "application/json-patch+json":
        try {
          patched = jsonPatch(old, patch);
        } catch (err) {
          if (err instanceof PatchDecodeError) throw statusErrors.badRequest(err.message);
          if (err instanceof PatchApplyError) throw statusErrors.unprocessable(err.message);
          throw err;
        }
        break;
      default:
        throw statusErrors.unsupportedMediaType(contentType, accepted);
    }
    if (!isRecord(patched)) throw statusErrors.badRequest("the patch did not produce an object");
    const meta = metaOf(patched);
    if (meta.resourceVersion === undefined) meta.resourceVersion = metaOf(old).resourceVersion ?? "";
    try {
      return this.doUpdate(rt, namespace, name, patched, subresource, opts);
    } catch (err) {
      if (!(err instanceof StrictDecodingError)) throw err;
      // errors.NewInvalid(schema.GroupKind{}, "", ...): no kind, no name, the patched object as the value.
      const value = contentType === "application/strategic-merge-patch+json" ? goMapText(patch) : goJson(patched);
      const cause = fieldErrors.invalid(FieldPath.of("patch"), value, err.message);
      throw statusErrors.invalidPatch(cause);
    }
  }

  private checkBody(rt: ResourceType, body: unknown): JsonObject {
    if (!isRecord(body)) throw statusErrors.badRequest("the request body is not a JSON object");
    const expected = apiVersionOf(rt);
    const apiVersion = body["apiVersion"];
    const kind = body["kind"];
    if (rt.crd !== undefined) {
      if (typeof kind !== "string" || kind === "") throw statusErrors.badRequest(`Object 'Kind' is missing in '${JSON.stringify(body)}'`);
      if (typeof apiVersion !== "string" || apiVersion === "") {
        throw statusErrors.badRequest(`Object 'apiVersion' is missing in '${JSON.stringify(body)}'`);
      }
    }
    if (apiVersion !== undefined && apiVersion !== expected) {
      throw statusErrors.badRequest(`the API version in the data (${text(apiVersion)}) does not match the expected API version (${expected})`);
    }
    if (kind !== undefined && kind !== rt.kind) {
      throw statusErrors.badRequest(`the kind in the data (${text(kind)}) does not match the expected kind (${rt.kind})`);
    }
    const obj = structuredClone(body);
    obj["apiVersion"] = expected;
    obj["kind"] = rt.kind;
    return obj;
  }

  private ensureNamespace(rt: ResourceType, namespace: string, name: string): void {
    if (!this.enforceNamespaces) return;
    const ns = this.store.get("/namespaces", "", namespace);
    if (ns === undefined) throw statusErrors.namespaceNotFound(namespace);
    const status = ns["status"];
    if (isRecord(status) && status["phase"] === "Terminating") throw statusErrors.namespaceTerminating(rt, name, namespace);
  }
}

/** Go's `%+v` of a decoded JSON map: `map[spec:map[replicas:2]]`, keys sorted. */
function goMapText(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goMapText).join(" ")}]`;
  if (isRecord(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goMapText(v[k])}`)
      .join(" ")}]`;
  }
  return v === null || v === undefined ? "<nil>" : typeof v === "string" ? v : JSON.stringify(v);
}

/** A strict decoding error of a create or update, worded as transformDecodeError words it. */
function decodingErrors(rt: ResourceType, write: () => WriteResult): WriteResult {
  try {
    return write();
  } catch (err) {
    if (!(err instanceof StrictDecodingError)) throw err;
    throw statusErrors.badRequest(`${rt.kind} in version ${JSON.stringify(rt.version)} cannot be handled as a ${rt.kind}: ${err.message}`);
  }
}

const text = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

function itemKey(o: JsonObject): string {
  const meta = metaOf(o);
  return `${meta.namespace ?? ""}/${meta.name ?? ""}`;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify(t)).toString("base64url");
}

function decodeContinue(text: string): ContinueToken {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (isRecord(parsed) && typeof parsed["rv"] === "number" && typeof parsed["start"] === "string") {
      return { rv: parsed["rv"], start: parsed["start"] };
    }
  } catch {
    // fall through to the error below
  }
  throw statusErrors.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
}
