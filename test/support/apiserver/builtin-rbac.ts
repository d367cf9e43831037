// rbac.authorization.k8s.io/v1: ClusterRoles, ClusterRoleBindings, Roles, RoleBindings, with the
// real defaults (roleRef and User/Group subjects get the RBAC API group) and validation (rules,
// roleRef, subjects, roleRef immutable). When authorization is on, rbac.ts reads what is stored
// here to decide every request. Not done: the escalation check (a user may only grant what it
// holds, unless it has `escalate`/`bind`) and aggregated ClusterRoles (aggregationRule).
import { fieldErrors, FieldPath, GoValue, type FieldError } from "../crd/field-error.js";
import { dns1123SubdomainMessages } from "../crd/metadata.js";
import { base, str } from "./builtin-common.js";
import { isRecord, type JsonObject, type ResourceType } from "./types.js";

const group = "rbac.authorization.k8s.io";

/** ValidateRBACName: path.IsValidPathSegmentName (so `system:controller:x` is a valid name). */
export function pathSegmentNameMessages(name: string): string[] {
  if (name === "." || name === "..") return [`may not be '${name}'`];
  return ["/", "%"].filter((c) => name.includes(c)).map((c) => `may not contain '${c}'`);
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : []);
const goStrings = (v: unknown) =>
  new GoValue(
    `[]string{${strings(v)
      .map((s) => JSON.stringify(s))
      .join(", ")}}`,
  );

function ruleErrors(o: JsonObject, namespaced: boolean): FieldError[] {
  const rules = Array.isArray(o["rules"]) ? o["rules"] : [];
  return rules.flatMap((r, i) => {
    const rule = isRecord(r) ? r : {};
    const p = FieldPath.of("rules").index(i);
    const errs: FieldError[] = [];
    if (strings(rule["verbs"]).length === 0) errs.push(fieldErrors.required(p.child("verbs"), "verbs must contain at least one value"));
    if (strings(rule["nonResourceURLs"]).length > 0) {
      if (namespaced)
        errs.push(fieldErrors.invalid(p.child("nonResourceURLs"), goStrings(rule["nonResourceURLs"]), "namespaced rules cannot apply to non-resource URLs"));
      if (strings(rule["apiGroups"]).length > 0 || strings(rule["resources"]).length > 0 || strings(rule["resourceNames"]).length > 0) {
        errs.push(
          fieldErrors.invalid(
            p.child("nonResourceURLs"),
            goStrings(rule["nonResourceURLs"]),
            "rules cannot apply to both regular resources and non-resource URLs",
          ),
        );
      }
      return errs;
    }
    if (strings(rule["apiGroups"]).length === 0) errs.push(fieldErrors.required(p.child("apiGroups"), "resource rules must supply at least one api group"));
    if (strings(rule["resources"]).length === 0) errs.push(fieldErrors.required(p.child("resources"), "resource rules must supply at least one resource"));
    return errs;
  });
}

const roleRefText = (ref: unknown) =>
  new GoValue(
    `rbac.RoleRef{APIGroup:${JSON.stringify(str(isRecord(ref) ? ref["apiGroup"] : ""))}, Kind:${JSON.stringify(str(isRecord(ref) ? ref["kind"] : ""))}, Name:${JSON.stringify(str(isRecord(ref) ? ref["name"] : ""))}}`,
  );

function bindingErrors(o: JsonObject, old: JsonObject | undefined, namespaced: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const ref = isRecord(o["roleRef"]) ? o["roleRef"] : {};
  if (ref["apiGroup"] !== group) errs.push(fieldErrors.notSupported(FieldPath.of("roleRef", "apiGroup"), str(ref["apiGroup"]), [group]));
  const kinds = namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"];
  if (!kinds.includes(str(ref["kind"]))) errs.push(fieldErrors.notSupported(FieldPath.of("roleRef", "kind"), str(ref["kind"]), kinds));
  const name = str(ref["name"]);
  if (name === "") errs.push(fieldErrors.required(FieldPath.of("roleRef", "name")));
  else for (const m of pathSegmentNameMessages(name)) errs.push(fieldErrors.invalid(FieldPath.of("roleRef", "name"), name, m));
  const subjects = Array.isArray(o["subjects"]) ? o["subjects"] : [];
  subjects.forEach((s, i) => {
    const subject = isRecord(s) ? s : {};
    const p = FieldPath.of("subjects").index(i);
    const subjectName = str(subject["name"]);
    if (subjectName === "") errs.push(fieldErrors.required(p.child("name")));
    switch (subject["kind"]) {
      case "ServiceAccount":
        if (subjectName !== "") for (const m of dns1123SubdomainMessages(subjectName)) errs.push(fieldErrors.invalid(p.child("name"), subjectName, m));
        if (str(subject["apiGroup"]) !== "") errs.push(fieldErrors.notSupported(p.child("apiGroup"), str(subject["apiGroup"]), [""]));
        if (!namespaced && str(subject["namespace"]) === "") errs.push(fieldErrors.required(p.child("namespace")));
        break;
      case "User":
      case "Group":
        if (subject["apiGroup"] !== group) errs.push(fieldErrors.notSupported(p.child("apiGroup"), str(subject["apiGroup"]), [group]));
        break;
      default:
        errs.push(fieldErrors.notSupported(p.child("kind"), str(subject["kind"]), ["ServiceAccount", "User", "Group"]));
    }
  });
  if (old !== undefined && JSON.stringify(roleRefKey(o["roleRef"])) !== JSON.stringify(roleRefKey(old["roleRef"]))) {
    errs.push(fieldErrors.invalid(FieldPath.of("roleRef"), roleRefText(o["roleRef"]), "cannot change roleRef"));
  }
  return errs;
}

const roleRefKey = (ref: unknown) => (isRecord(ref) ? [str(ref["apiGroup"]), str(ref["kind"]), str(ref["name"])] : []);

/** SetDefaults_ClusterRoleBinding / RoleBinding / Subject. */
function defaultBinding(o: JsonObject): void {
  if (isRecord(o["roleRef"]) && str(o["roleRef"]["apiGroup"]) === "") o["roleRef"]["apiGroup"] = group;
  if (Array.isArray(o["subjects"])) {
    for (const s of o["subjects"]) {
      if (isRecord(s) && str(s["apiGroup"]) === "" && (s["kind"] === "User" || s["kind"] === "Group")) s["apiGroup"] = group;
    }
  }
}

const rbacBase = { ...base, group, version: "v1", statusSubresource: false, generation: "none" as const, nameValidator: pathSegmentNameMessages };

const clusterRoles: ResourceType = {
  ...rbacBase,
  plural: "clusterroles",
  singular: "clusterrole",
  kind: "ClusterRole",
  listKind: "ClusterRoleList",
  namespaced: false,
  validator: (o) => ruleErrors(o, false),
};

const roles: ResourceType = {
  ...rbacBase,
  plural: "roles",
  singular: "role",
  kind: "Role",
  listKind: "RoleList",
  namespaced: true,
  validator: (o) => ruleErrors(o, true),
};

const clusterRoleBindings: ResourceType = {
  ...rbacBase,
  plural: "clusterrolebindings",
  singular: "clusterrolebinding",
  kind: "ClusterRoleBinding",
  listKind: "ClusterRoleBindingList",
  namespaced: false,
  defaulter: defaultBinding,
  validator: (o, old) => bindingErrors(o, old, false),
};

const roleBindings: ResourceType = {
  ...rbacBase,
  plural: "rolebindings",
  singular: "rolebinding",
  kind: "RoleBinding",
  listKind: "RoleBindingList",
  namespaced: true,
  defaulter: defaultBinding,
  validator: (o, old) => bindingErrors(o, old, true),
};

/** `kubectl auth can-i`: a create that is answered, not stored (handlers.ts asks the authorizer). */
const selfSubjectAccessReviews: ResourceType = {
  ...base,
  group: "authorization.k8s.io",
  version: "v1",
  plural: "selfsubjectaccessreviews",
  singular: "selfsubjectaccessreview",
  kind: "SelfSubjectAccessReview",
  listKind: "SelfSubjectAccessReviewList",
  namespaced: false,
  statusSubresource: false,
  generation: "none",
  verbs: ["create"],
  review: true,
};

export const builtinRbacResources: ResourceType[] = [clusterRoles, clusterRoleBindings, roles, roleBindings, selfSubjectAccessReviews];
