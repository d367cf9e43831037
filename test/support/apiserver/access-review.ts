// SelfSubjectAccessReview (what `kubectl auth can-i` creates): not stored, answered with the
// authorizer's decision for the requesting user. Without authorization everything is allowed.
import { fieldErrors, FieldPath } from "../crd/field-error.js";
import type { HttpAnswer } from "./handlers.js";
import type { Decision } from "./rbac.js";
import type { RequestAttributes } from "./request-info.js";
import { statusErrors } from "./status.js";
import { isRecord, type ResourceType } from "./types.js";

/** A SelfSubjectAccessReview's question as request attributes. */
function reviewAttributes(rt: ResourceType, body: unknown): RequestAttributes {
  const spec = isRecord(body) && isRecord(body["spec"]) ? body["spec"] : {};
  const s = (o: unknown, k: string) => (isRecord(o) && typeof o[k] === "string" ? o[k] : "");
  const r = spec["resourceAttributes"];
  if (isRecord(r)) {
    return {
      resourceRequest: true,
      verb: s(r, "verb"),
      apiGroup: s(r, "group"),
      apiVersion: s(r, "version"),
      resource: s(r, "resource"),
      subresource: s(r, "subresource"),
      namespace: s(r, "namespace"),
      name: s(r, "name"),
      path: "",
    };
  }
  const n = spec["nonResourceAttributes"];
  if (isRecord(n))
    return {
      resourceRequest: false,
      verb: s(n, "verb"),
      apiGroup: "",
      apiVersion: "",
      resource: "",
      subresource: "",
      namespace: "",
      name: "",
      path: s(n, "path"),
    };
  throw statusErrors.invalid(rt, "", [
    fieldErrors.invalid(FieldPath.of("spec", "resourceAttributes"), null, "exactly one of nonResourceAttributes or resourceAttributes must be specified"),
  ]);
}

export function accessReview(rt: ResourceType, body: unknown, authorize: ((a: RequestAttributes) => Decision) | undefined): HttpAnswer {
  const d = authorize?.(reviewAttributes(rt, body)) ?? { allowed: true, reason: "" };
  const spec = isRecord(body) && isRecord(body["spec"]) ? body["spec"] : {};
  const status = { allowed: d.allowed, ...(d.reason === "" ? {} : { reason: d.reason }) };
  return { status: 201, body: { kind: rt.kind, apiVersion: "authorization.k8s.io/v1", metadata: {}, spec, status } };
}
