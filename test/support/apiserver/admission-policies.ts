// Validating admission on cue: policies a test installs that refuse writes the way a cluster's
// admission does (`--allow-privileged=false`, a policy engine's webhook), answered with the
// Status bodies the real API server writes for them. Checked after defaulting and validation,
// where kube-apiserver runs validating admission.
import { ApiError, type StatusBody } from "./status.js";
import type { JsonObject } from "./types.js";
import { qualifiedKind, type ResourceType } from "./types.js";

export interface AdmissionPolicy {
  /** Resource plural ("daemonsets", "pods") it judges. */
  resource: string;
  verbs: readonly ("create" | "update")[];
  /** The refusal, or undefined to admit. */
  judge(rt: ResourceType, object: JsonObject): ApiError | undefined;
}

export class AdmissionPolicies {
  #policies: AdmissionPolicy[] = [];

  /** Installs a policy; returns what removes it. */
  add(policy: AdmissionPolicy): () => void {
    this.#policies.push(policy);
    return () => {
      this.#policies = this.#policies.filter((p) => p !== policy);
    };
  }

  clear(): void {
    this.#policies = [];
  }

  /** Throws the first refusal; status subresource writes are not judged, as policies on specs do not judge them. */
  check(rt: ResourceType, object: JsonObject, old: JsonObject | undefined, subresource: string | undefined): void {
    if (subresource !== undefined) return;
    const verb = old === undefined ? "create" : "update";
    for (const policy of this.#policies) {
      if (policy.resource !== rt.plural || !policy.verbs.includes(verb)) continue;
      const refusal = policy.judge(rt, object);
      if (refusal !== undefined) throw refusal;
    }
  }
}

function podSpecOf(rt: ResourceType, object: JsonObject): { spec: JsonObject | undefined; path: string } {
  const spec = object["spec"] as JsonObject | undefined;
  if (rt.plural === "pods") return { spec, path: "spec" };
  return { spec: (spec?.["template"] as JsonObject | undefined)?.["spec"] as JsonObject | undefined, path: "spec.template.spec" };
}

/**
 * kube-apiserver started with `--allow-privileged=false` (its default): a pod, or a workload's
 * pod template, with a privileged container is invalid (422, FieldValueForbidden).
 */
export function privilegedDisallowed(resource: "daemonsets" | "pods" = "daemonsets"): AdmissionPolicy {
  return {
    resource,
    verbs: ["create", "update"],
    judge: (rt, object) => {
      const { spec, path } = podSpecOf(rt, object);
      const containers = (spec?.["containers"] as JsonObject[] | undefined) ?? [];
      const at = containers.findIndex((c) => (c["securityContext"] as JsonObject | undefined)?.["privileged"] === true);
      if (at === -1) return undefined;
      const field = `${path}.containers[${at}].securityContext.privileged`;
      const rawName = (object["metadata"] as JsonObject | undefined)?.["name"];
      const name = typeof rawName === "string" ? rawName : "";
      const body: StatusBody = {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `${qualifiedKind(rt)} "${name}" is invalid: ${field}: Forbidden: disallowed by cluster policy`,
        reason: "Invalid",
        details: {
          name,
          ...(rt.group === "" ? {} : { group: rt.group }),
          kind: rt.kind,
          causes: [{ reason: "FieldValueForbidden", message: "Forbidden: disallowed by cluster policy", field }],
        },
        code: 422,
      };
      return new ApiError(body);
    },
  };
}

/** A validating webhook (Kyverno, Gatekeeper) that denies every such write: 403, as kube-apiserver answers a denial without a code. */
export function webhookDenies(resource: string, webhook: string, message: string): AdmissionPolicy {
  return {
    resource,
    verbs: ["create", "update"],
    judge: () =>
      new ApiError({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `admission webhook "${webhook}" denied the request: ${message}`,
        code: 403,
      }),
  };
}
