// The RBAC authorizer, deciding from the ClusterRoles, Roles and their bindings stored in this
// server (so a chart's RBAC, once helm installed it, is what is enforced), with the rule matching
// of k8s.io/kubernetes/pkg/apis/rbac/v1/evaluation_helpers.go. Members of system:masters may do
// anything (the privileged-group authorizer in front of RBAC). The bootstrap policy's grants to
// every authenticated user (system:discovery, system:basic-user, system:public-info-viewer) are
// built in rather than stored, so `kubectl get clusterroles` does not list them.
import type { Store } from "./store.js";
import type { RequestAttributes } from "./request-info.js";
import { isRecord, metaOf, type JsonObject } from "./types.js";

export interface UserInfo {
  name: string;
  groups: string[];
}

export interface Decision {
  allowed: boolean;
  /**
   * RBAC's reason: which binding allowed it (`RBAC: allowed by ClusterRoleBinding "x" of
   * ClusterRole "x" to ServiceAccount "sa/ns"`), or, when denied, a dangling binding's error;
   * empty for system:masters
   */
  reason: string;
}

interface Rule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

const rbac = "rbac.authorization.k8s.io";
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
const rulesOf = (role: JsonObject): Rule[] =>
  (Array.isArray(role["rules"]) ? role["rules"] : []).filter(isRecord).map((r) => ({
    verbs: strings(r["verbs"]),
    apiGroups: strings(r["apiGroups"]),
    resources: strings(r["resources"]),
    resourceNames: strings(r["resourceNames"]),
    nonResourceURLs: strings(r["nonResourceURLs"]),
  }));

/** What every authenticated user may do on a fresh cluster: the bootstrap roles bound to system:authenticated. */
const authenticatedRoles: { name: string; rules: Rule[] }[] = [
  {
    name: "system:discovery",
    rules: [
      {
        verbs: ["get"],
        apiGroups: [],
        resources: [],
        resourceNames: [],
        nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
      },
    ],
  },
  {
    name: "system:basic-user",
    rules: [
      {
        verbs: ["create"],
        apiGroups: ["authorization.k8s.io"],
        resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        resourceNames: [],
        nonResourceURLs: [],
      },
      { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"], resourceNames: [], nonResourceURLs: [] },
    ],
  },
];

/** describeSubject, as the reasons of RBAC decisions name subjects. */
function describeSubject(subject: JsonObject, bindingNamespace: string): string {
  const name = typeof subject["name"] === "string" ? subject["name"] : "";
  const kind = typeof subject["kind"] === "string" ? subject["kind"] : "";
  if (kind !== "ServiceAccount") return `${kind} ${JSON.stringify(name)}`;
  const ns = typeof subject["namespace"] === "string" && subject["namespace"] !== "" ? subject["namespace"] : bindingNamespace;
  return `${kind} ${JSON.stringify(`${name}/${ns}`)}`;
}

function ruleAllows(a: RequestAttributes, rule: Rule): boolean {
  const verb = rule.verbs.includes("*") || rule.verbs.includes(a.verb);
  if (!a.resourceRequest) {
    return verb && rule.nonResourceURLs.some((u) => u === "*" || u === a.path || (u.endsWith("*") && a.path.startsWith(u.replace(/\*+$/, ""))));
  }
  const combined = a.subresource === "" ? a.resource : `${a.resource}/${a.subresource}`;
  const group = rule.apiGroups.includes("*") || rule.apiGroups.includes(a.apiGroup);
  const resource = rule.resources.some(
    (r) => r === "*" || r === combined || (a.subresource !== "" && r.length === a.subresource.length + 2 && r.startsWith("*/") && r.endsWith(a.subresource)),
  );
  const name = rule.resourceNames.length === 0 || rule.resourceNames.includes(a.name);
  return verb && group && resource && name;
}

function subjectMatches(user: UserInfo, subject: unknown, namespace: string): boolean {
  if (!isRecord(subject)) return false;
  const name = typeof subject["name"] === "string" ? subject["name"] : "";
  switch (subject["kind"]) {
    case "User":
      return user.name === name;
    case "Group":
      return user.groups.includes(name);
    case "ServiceAccount": {
      // A RoleBinding's ServiceAccount subject without a namespace means the binding's own.
      const ns = typeof subject["namespace"] === "string" && subject["namespace"] !== "" ? subject["namespace"] : namespace;
      return ns !== "" && user.name === `system:serviceaccount:${ns}:${name}`;
    }
    default:
      return false;
  }
}

export class RbacAuthorizer {
  constructor(private readonly store: Store) {}

  authorize(user: UserInfo, a: RequestAttributes): Decision {
    if (user.groups.includes("system:masters")) return { allowed: true, reason: "" };
    if (user.groups.includes("system:authenticated")) {
      const role = authenticatedRoles.find((r) => r.rules.some((rule) => ruleAllows(a, rule)));
      if (role !== undefined)
        return {
          allowed: true,
          reason: `RBAC: allowed by ClusterRoleBinding ${JSON.stringify(role.name)} of ClusterRole ${JSON.stringify(role.name)} to Group "system:authenticated"`,
        };
    }
    const errors: string[] = [];
    const rulesFor = (ref: unknown, namespace: string): Rule[] => {
      const kind = isRecord(ref) ? ref["kind"] : undefined;
      const name = isRecord(ref) && typeof ref["name"] === "string" ? ref["name"] : "";
      const role = kind === "Role" ? this.store.get(`${rbac}/roles`, namespace, name) : this.store.get(`${rbac}/clusterroles`, "", name);
      if (role === undefined) {
        errors.push(`${kind === "Role" ? "role" : "clusterrole"}.${rbac} ${JSON.stringify(name)} not found`);
        return [];
      }
      return rulesOf(role);
    };
    const roleText = (ref: unknown) => (isRecord(ref) ? `${String(ref["kind"])} ${JSON.stringify(ref["name"])}` : "");
    for (const binding of this.store.list(`${rbac}/clusterrolebindings`)) {
      const subject = (Array.isArray(binding["subjects"]) ? binding["subjects"] : []).filter(isRecord).find((s) => subjectMatches(user, s, ""));
      if (subject === undefined) continue;
      if (rulesFor(binding["roleRef"], "").some((r) => ruleAllows(a, r))) {
        const reason = `RBAC: allowed by ClusterRoleBinding ${JSON.stringify(metaOf(binding).name)} of ${roleText(binding["roleRef"])} to ${describeSubject(subject, "")}`;
        return { allowed: true, reason };
      }
    }
    if (a.namespace !== "") {
      for (const binding of this.store.list(`${rbac}/rolebindings`, a.namespace)) {
        const ns = metaOf(binding).namespace ?? "";
        const subject = (Array.isArray(binding["subjects"]) ? binding["subjects"] : []).filter(isRecord).find((s) => subjectMatches(user, s, ns));
        if (subject === undefined) continue;
        if (rulesFor(binding["roleRef"], a.namespace).some((r) => ruleAllows(a, r))) {
          const reason = `RBAC: allowed by RoleBinding ${JSON.stringify(`${metaOf(binding).name ?? ""}/${ns}`)} of ${roleText(binding["roleRef"])} to ${describeSubject(subject, ns)}`;
          return { allowed: true, reason };
        }
      }
    }
    const unique = [...new Set(errors)];
    const reason = unique.length === 0 ? "" : `RBAC: ${unique.length === 1 ? (unique[0] ?? "") : `[${unique.join(", ")}]`}`;
    return { allowed: false, reason };
  }
}

/** The real Forbidden message (responsewriters.forbiddenMessage), with RBAC's reason when it has one. */
export function forbiddenMessage(user: UserInfo, a: RequestAttributes, reason: string): string {
  let msg: string;
  if (!a.resourceRequest) msg = `User ${JSON.stringify(user.name)} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  else {
    const resource = a.subresource === "" ? a.resource : `${a.resource}/${a.subresource}`;
    const scope = a.namespace === "" ? "at the cluster scope" : `in the namespace ${JSON.stringify(a.namespace)}`;
    msg = `User ${JSON.stringify(user.name)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} ${scope}`;
  }
  return reason === "" ? msg : `${msg}: ${reason}`;
}
