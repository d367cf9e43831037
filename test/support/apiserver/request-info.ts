// The attributes an authorizer sees, computed from the URL and method as kube-apiserver's
// RequestInfoFactory does (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go): `list` or
// `watch` for a GET without a name, `deletecollection` for a DELETE without one, the namespace
// of /namespaces/<ns>/... (a namespace's own name for /api/v1/namespaces/<ns>), subresources.

export interface RequestAttributes {
  /** false for discovery, /version, /healthz, /openapi: those are authorized by path */
  resourceRequest: boolean;
  /** get, list, watch, create, update, patch, delete, deletecollection; for non-resource requests the lower-case method */
  verb: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

const specialVerbs = new Set(["proxy", "watch"]);
const namespaceSubresources = new Set(["status", "finalize"]);

export function requestAttributes(method: string, url: URL): RequestAttributes {
  const path = url.pathname;
  const info: RequestAttributes = {
    resourceRequest: false,
    verb: method.toLowerCase(),
    apiGroup: "",
    apiVersion: "",
    resource: "",
    subresource: "",
    namespace: "",
    name: "",
    path,
  };
  let parts = path.split("/").filter((p) => p !== "");
  if (parts.length < 3 || (parts[0] !== "api" && parts[0] !== "apis")) return info;
  const prefix = parts[0];
  parts = parts.slice(1);
  if (prefix === "apis") {
    if (parts.length < 3) return info;
    info.apiGroup = parts[0] ?? "";
    parts = parts.slice(1);
  }
  info.resourceRequest = true;
  info.apiVersion = parts[0] ?? "";
  parts = parts.slice(1);
  if (parts[0] !== undefined && specialVerbs.has(parts[0]) && parts.length >= 2) {
    info.verb = parts[0];
    parts = parts.slice(1);
  } else {
    info.verb = { POST: "create", GET: "get", HEAD: "get", PUT: "update", PATCH: "patch", DELETE: "delete" }[method.toUpperCase()] ?? "";
  }
  if (parts[0] === "namespaces") {
    if (parts.length > 1) {
      info.namespace = decodeURIComponent(parts[1] ?? "");
      if (parts.length > 2 && !namespaceSubresources.has(parts[2] ?? "")) parts = parts.slice(2);
    }
  }
  const [resource, name, subresource] = parts;
  if (parts.length >= 3 && info.verb !== "proxy") info.subresource = subresource ?? "";
  if (parts.length >= 2) info.name = decodeURIComponent(name ?? "");
  info.resource = resource ?? "";

  if (info.name === "" && info.verb === "get") {
    const watch = (url.searchParams.get("watch") ?? "").toLowerCase();
    info.verb = watch !== "" && watch !== "false" && watch !== "0" ? "watch" : "list";
    // A list or watch of one object by metadata.name counts as a request for that name (resourceNames rules apply).
    const exact = (url.searchParams.get("fieldSelector") ?? "")
      .split(",")
      .map((req) => /^\s*metadata\.name\s*(==|=)\s*(.*?)\s*$/.exec(req)?.[2])
      .find((v) => v !== undefined);
    if (exact !== undefined && exact !== "" && !exact.includes("/") && !exact.includes("%") && exact !== "." && exact !== "..") info.name = exact;
  }
  if (info.name === "" && info.verb === "delete") info.verb = "deletecollection";
  return info;
}

/** How a test reports a permission: `list droptraces.droptrace.io`, `update droptraces.droptrace.io/status "x"`, `create events in default`. */
export function permissionText(a: RequestAttributes): string {
  if (!a.resourceRequest) return `${a.verb} ${a.path}`;
  const resource = `${a.resource}${a.apiGroup === "" ? "" : `.${a.apiGroup}`}${a.subresource === "" ? "" : `/${a.subresource}`}`;
  return `${a.verb} ${resource}${a.name === "" ? "" : ` ${JSON.stringify(a.name)}`}${a.namespace === "" ? "" : ` in ${a.namespace}`}`;
}
