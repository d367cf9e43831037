// The request's way through authentication, impersonation (kubectl --as, --as-group) and RBAC,
// answering 401 and 403 with the real Status bodies. Only when the server was started with the
// `authorization` option; without it every request is allowed, as before.
import type { IncomingHttpHeaders } from "node:http";
import { authenticate, userInfo, type AuthorizationOptions } from "./authentication.js";
import { forbiddenMessage, RbacAuthorizer, type Decision, type UserInfo } from "./rbac.js";
import type { RequestAttributes } from "./request-info.js";
import { ApiError } from "./status.js";
import type { Store } from "./store.js";

/** errors.NewForbidden(groupResource, name, err): `droptraces.droptrace.io "x" is forbidden: ...` */
export function forbiddenStatus(group: string, resource: string, name: string, why: string): ApiError {
  const qualified = resource === "" ? "" : group === "" ? resource : `${resource}.${group}`;
  const message =
    qualified === "" ? `forbidden: ${why}` : name === "" ? `${qualified} is forbidden: ${why}` : `${qualified} ${JSON.stringify(name)} is forbidden: ${why}`;
  const details: Record<string, string> = {};
  if (name !== "") details["name"] = name;
  if (group !== "") details["group"] = group;
  if (resource !== "") details["kind"] = resource;
  return new ApiError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason: "Forbidden", details, code: 403 });
}

function headerValues(headers: IncomingHttpHeaders, name: string): string[] {
  const v = headers[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : v.split(",")).map((s) => s.trim()).filter((s) => s !== "");
}

export class Authorization {
  readonly rbac: RbacAuthorizer;

  constructor(
    private readonly opts: AuthorizationOptions,
    store: Store,
  ) {
    this.rbac = new RbacAuthorizer(store);
  }

  authorize(user: UserInfo, a: RequestAttributes): Decision {
    return this.rbac.authorize(user, a);
  }

  /** The user the request acts as, after authentication and impersonation; throws 401 or 403. */
  authenticate(headers: IncomingHttpHeaders): UserInfo {
    const user = authenticate(this.opts, headers);
    const as = headerValues(headers, "impersonate-user")[0];
    const asGroups = headerValues(headers, "impersonate-group");
    if (as === undefined) {
      if (asGroups.length > 0)
        throw new ApiError({
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: "requested [] without impersonating a user",
          reason: "InternalError",
          code: 500,
        });
      return user;
    }
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(as);
    const checks: RequestAttributes[] = [
      sa?.[1] !== undefined && sa[2] !== undefined
        ? {
            resourceRequest: true,
            verb: "impersonate",
            apiGroup: "",
            apiVersion: "v1",
            resource: "serviceaccounts",
            subresource: "",
            namespace: sa[1],
            name: sa[2],
            path: "",
          }
        : { resourceRequest: true, verb: "impersonate", apiGroup: "", apiVersion: "v1", resource: "users", subresource: "", namespace: "", name: as, path: "" },
      ...asGroups.map((g) => ({
        resourceRequest: true,
        verb: "impersonate",
        apiGroup: "",
        apiVersion: "v1",
        resource: "groups",
        subresource: "",
        namespace: "",
        name: g,
        path: "",
      })),
    ];
    for (const a of checks) {
      const d = this.rbac.authorize(user, a);
      if (!d.allowed) throw forbiddenStatus("", a.resource, a.name, forbiddenMessage(user, a, d.reason));
    }
    return userInfo(as, asGroups);
  }

  /** RBAC's decision on the request. */
  decide(user: UserInfo, a: RequestAttributes): Decision {
    return this.rbac.authorize(user, a);
  }

  /** The 403 a denied request answers. */
  forbidden(user: UserInfo, a: RequestAttributes, d: Decision): ApiError {
    return forbiddenStatus(a.resourceRequest ? a.apiGroup : "", a.resourceRequest ? a.resource : "", a.name, forbiddenMessage(user, a, d.reason));
  }
}
