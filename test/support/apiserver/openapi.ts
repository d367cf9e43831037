// OpenAPI v3 discovery (/openapi/v3 and /openapi/v3/<group-version>), enough for kubectl and helm:
// before sending fieldValidation=Strict they look for the PATCH operation of the kind (by its
// x-kubernetes-group-version-kind) and its fieldValidation query parameter; found, they leave the
// validation to the server. Every served kind gets its paths and operations; schemas are the
// CRDs' own, built-in kinds get an open object schema (so `kubectl explain` says little).
// PATCH lists no strategic-merge-patch body (kubectl then computes strategic merge patches from
// its compiled-in types, as against a server without OpenAPI) and no apply-patch+yaml (there is
// no server-side apply here).
import { createHash } from "node:crypto";
import { emulatedVersion } from "./discovery.js";
import type { ResourceRegistry } from "./registry.js";
import { isRecord, type JsonObject, type ResourceType } from "./types.js";

const param = (name: string, where: "query" | "path", description: string, required = false) => ({
  name,
  in: where,
  description,
  ...(required ? { required: true } : {}),
  schema: {
    type: name === "limit" || name === "timeoutSeconds" ? "integer" : name === "watch" || name === "allowWatchBookmarks" ? "boolean" : "string",
    uniqueItems: true,
  },
});

const writeParams = [
  param("dryRun", "query", "When present, indicates that modifications should not be persisted."),
  param("fieldManager", "query", "fieldManager is a name associated with the actor or entity that is making these changes."),
  param(
    "fieldValidation",
    "query",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields: Ignore, Warn or Strict.",
  ),
];
const listParams = [
  "allowWatchBookmarks",
  "continue",
  "fieldSelector",
  "labelSelector",
  "limit",
  "resourceVersion",
  "resourceVersionMatch",
  "sendInitialEvents",
  "timeoutSeconds",
  "watch",
].map((n) => param(n, "query", `${n} of the list or watch`));

/** The schema name the real server uses: io.k8s.api.apps.v1.DaemonSet, io.droptrace.v1alpha1.DropTrace. */
export function schemaName(rt: ResourceType): string {
  if (rt.crd !== undefined) return `${rt.group.split(".").reverse().join(".")}.${rt.version}.${rt.kind}`;
  if (rt.group === "apiextensions.k8s.io") return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${rt.version}.${rt.kind}`;
  const group = rt.group === "" ? "core" : rt.group.replace(/\.k8s\.io$/, "").replace(/\.authorization$/, "");
  return `io.k8s.api.${group.split(".")[0] ?? group}.${rt.version}.${rt.kind}`;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (schema: unknown) => ({ content: { "application/json": { schema } }, required: true });
const ok = (schema: unknown, code = "200") => ({ [code]: { description: "OK", content: { "application/json": { schema } } } });

function operations(rt: ResourceType): Record<string, JsonObject> {
  const gvk = { group: rt.group, version: rt.version, kind: rt.kind };
  const prefix = rt.group === "" ? `/api/${rt.version}` : `/apis/${rt.group}/${rt.version}`;
  const scope = rt.namespaced ? `${prefix}/namespaces/{namespace}/${rt.plural}` : `${prefix}/${rt.plural}`;
  const self = ref(schemaName(rt));
  const op = (action: string, extra: JsonObject) => ({ ...extra, "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk });
  const pathParams = [
    ...(rt.namespaced ? [param("namespace", "path", "object name and auth scope, such as for teams and projects", true)] : []),
    param("pretty", "query", "If 'true', then the output is pretty printed."),
  ];
  const itemParams = [param("name", "path", `name of the ${rt.kind}`, true), ...pathParams];
  const patch = (subject: string) =>
    op("patch", {
      description: `partially update ${subject} of the specified ${rt.kind}`,
      parameters: [...writeParams, param("force", "query", 'Force is going to "force" Apply requests.')],
      requestBody: {
        content: Object.fromEntries(
          ["application/json-patch+json", "application/merge-patch+json"].map((t) => [t, { schema: ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch") }]),
        ),
        required: true,
      },
      responses: ok(self),
    });
  const paths: Record<string, JsonObject> = {
    [scope]: {
      get: op("list", { description: `list or watch objects of kind ${rt.kind}`, parameters: listParams, responses: ok({ type: "object" }) }),
      post: op("post", { description: `create a ${rt.kind}`, parameters: writeParams, requestBody: jsonBody(self), responses: ok(self, "201") }),
      delete: op("deletecollection", {
        description: `delete collection of ${rt.kind}`,
        parameters: listParams,
        responses: ok(ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status")),
      }),
      parameters: pathParams,
    },
    [`${scope}/{name}`]: {
      get: op("get", { description: `read the specified ${rt.kind}`, responses: ok(self) }),
      put: op("put", { description: `replace the specified ${rt.kind}`, parameters: writeParams, requestBody: jsonBody(self), responses: ok(self) }),
      patch: patch("the"),
      delete: op("delete", { description: `delete a ${rt.kind}`, responses: ok(ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status")) }),
      parameters: itemParams,
    },
  };
  if (rt.statusSubresource) {
    paths[`${scope}/{name}/status`] = {
      get: op("get", { description: `read status of the specified ${rt.kind}`, responses: ok(self) }),
      put: op("put", { description: `replace status of the specified ${rt.kind}`, parameters: writeParams, requestBody: jsonBody(self), responses: ok(self) }),
      patch: patch("status"),
      parameters: itemParams,
    };
  }
  if (rt.namespaced) {
    paths[`${prefix}/${rt.plural}`] = {
      get: op("list", { description: `list or watch objects of kind ${rt.kind}`, parameters: listParams, responses: ok({ type: "object" }) }),
      parameters: [param("pretty", "query", "If 'true', then the output is pretty printed.")],
    };
  }
  return paths;
}

function schemaOf(rt: ResourceType): JsonObject {
  const gvk = [{ group: rt.group, version: rt.version, kind: rt.kind }];
  const version = rt.crd?.versions.find((v) => v.name === rt.version);
  if (version === undefined)
    return { type: "object", description: `${rt.kind} (schema not published by this test server)`, "x-kubernetes-group-version-kind": gvk };
  const schema = structuredClone(version.schema) as JsonObject;
  if (isRecord(schema["properties"])) schema["properties"]["metadata"] = ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  return { ...schema, "x-kubernetes-group-version-kind": gvk };
}

const metaSchemas = Object.fromEntries(
  ["ObjectMeta", "Patch", "Status", "DeleteOptions"].map((k) => [`io.k8s.apimachinery.pkg.apis.meta.v1.${k}`, { type: "object", description: `metav1 ${k}` }]),
);

/** `api/v1`, `apis/apps/v1`: the keys of the /openapi/v3 index. */
const gvPath = (group: string, version: string) => (group === "" ? `api/${version}` : `apis/${group}/${version}`);

export class OpenApi {
  constructor(private readonly registry: ResourceRegistry) {}

  document(path: string): JsonObject | undefined {
    const types = this.registry.all.filter((rt) => gvPath(rt.group, rt.version) === path);
    if (types.length === 0) return undefined;
    return {
      openapi: "3.0.0",
      info: { title: "Kubernetes", version: `v${emulatedVersion.major}.${emulatedVersion.minor}.0` },
      paths: Object.assign({}, ...types.map(operations)) as JsonObject,
      components: { schemas: { ...metaSchemas, ...Object.fromEntries(types.map((rt) => [schemaName(rt), schemaOf(rt)])) } },
    };
  }

  static hash(doc: unknown): string {
    return createHash("sha512").update(JSON.stringify(doc)).digest("hex").toUpperCase();
  }

  index(): JsonObject {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [group, versions] of this.registry.groups()) {
      for (const v of versions) {
        const p = gvPath(group, v);
        paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${OpenApi.hash(this.document(p))}` };
      }
    }
    return { paths };
  }
}
