// The OwnerReferencesPermissionEnforcement admission plugin (plugin/pkg/admission/gc), which every
// real cluster runs: changing an object's ownerReferences (other than on create) needs `delete` on
// the object, and setting blockOwnerDeletion on a reference needs `update` on the owner's
// `finalizers` subresource. That is why a controller whose DaemonSets point at their DropTrace
// with blockOwnerDeletion needs `update droptraces/finalizers`. Active only with authorization.
import { isDeepStrictEqual } from "node:util";
import { forbiddenStatus } from "./authorization.js";
import type { Decision, UserInfo } from "./rbac.js";
import type { ResourceRegistry } from "./registry.js";
import type { RequestAttributes } from "./request-info.js";
import { isRecord, metaOf, type JsonObject, type OwnerReference, type ResourceType } from "./types.js";

export interface AuthorizationCheck {
  attributes: RequestAttributes;
  allowed: boolean;
}

/** Runs on a write that passed validation, before it is stored; throws the real 403. */
export type Admission = (rt: ResourceType, obj: JsonObject, old: JsonObject | undefined, subresource: string | undefined) => void;

const refs = (obj: JsonObject | undefined): OwnerReference[] => (obj === undefined ? [] : (metaOf(obj).ownerReferences ?? []).filter(isRecord));

function attrs(partial: Partial<RequestAttributes> & Pick<RequestAttributes, "verb" | "resource">): RequestAttributes {
  return { resourceRequest: true, apiGroup: "", apiVersion: "", subresource: "", namespace: "", name: "", path: "", ...partial };
}

export function ownerReferenceAdmission(
  authorize: (user: UserInfo, a: RequestAttributes) => Decision,
  registry: ResourceRegistry,
  user: UserInfo,
  checks: AuthorizationCheck[],
): Admission {
  const check = (a: RequestAttributes): Decision => {
    const d = authorize(user, a);
    checks.push({ attributes: a, allowed: d.allowed });
    return d;
  };
  return (rt, obj, old, subresource) => {
    if (rt.group === "" && rt.plural === "pods" && subresource === "status") return;
    const newRefs = refs(obj);
    const oldRefs = refs(old);
    if (old === undefined ? newRefs.length === 0 : isDeepStrictEqual(newRefs, oldRefs)) return;
    const meta = metaOf(obj);
    const name = meta.name ?? meta.generateName ?? "";
    const namespace = meta.namespace ?? "";
    const forbidden = (why: string) => forbiddenStatus(rt.group, rt.plural, name, why);
    if (old !== undefined) {
      const d = check(
        attrs({ verb: "delete", apiGroup: rt.group, apiVersion: rt.version, resource: rt.plural, subresource: subresource ?? "", namespace, name }),
      );
      if (!d.allowed) throw forbidden(`cannot set an ownerRef on a resource you can't delete: ${d.reason}, <nil>`);
    }
    const blocking = newRefs.filter((r) => r.blockOwnerDeletion === true && oldRefs.find((o) => o.uid === r.uid)?.blockOwnerDeletion !== true);
    if (blocking.length === 0) return;
    // One check first: may this user set finalizers on anything at all?
    const anything = authorize(user, attrs({ verb: "update", apiGroup: "*", apiVersion: "*", resource: "*", subresource: "finalizers", name: "*" }));
    if (anything.allowed) return;
    for (const ref of blocking) {
      const owner = registry.byKind(ref.apiVersion, ref.kind);
      if (owner === undefined) {
        throw forbidden(
          `cannot set blockOwnerDeletion in this case because cannot find RESTMapping for APIVersion ${ref.apiVersion} Kind ${ref.kind}: no matches for kind ${JSON.stringify(ref.kind)} in version ${JSON.stringify(ref.apiVersion)}`,
        );
      }
      const d = check(
        attrs({
          verb: "update",
          apiGroup: owner.group,
          apiVersion: owner.version,
          resource: owner.plural,
          subresource: "finalizers",
          name: ref.name,
          namespace: owner.namespaced ? namespace : "",
        }),
      );
      if (!d.allowed)
        throw forbidden(`cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: ${d.reason}, <nil>`);
    }
  };
}
