// The built-in kinds the project uses, with the defaulting and validation the real server applies
// that a controller would notice. Everything else about them is stored as sent.
import { isDeepStrictEqual } from "node:util";
import { fieldErrors, FieldPath, type FieldError } from "../crd/field-error.js";
import { dns1123LabelMessages } from "../crd/metadata.js";
import { at, base, selectorMatches, selectorText, str } from "./builtin-common.js";
import { builtinConfigResources } from "./builtin-config.js";
import { builtinCrdResources } from "./builtin-crd.js";
import { builtinDeploymentResources } from "./builtin-deployment.js";
import { builtinRbacResources } from "./builtin-rbac.js";
import { defaultPodSpec, validatePodSpec } from "./pod-spec.js";
import { isRecord, metaOf, type JsonObject, type ResourceType } from "./types.js";

const namespaces: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  plural: "namespaces",
  singular: "namespace",
  kind: "Namespace",
  listKind: "NamespaceList",
  namespaced: false,
  shortNames: ["ns"],
  statusSubresource: true,
  generation: "none",
  verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
  fieldLabels: { "status.phase": (o) => str(at(o, "status", "phase")) },
  nameValidator: dns1123LabelMessages,
  prepareForCreate: (o) => {
    const meta = metaOf(o);
    meta.labels = { ...(meta.labels ?? {}), "kubernetes.io/metadata.name": meta.name ?? "" };
    o["spec"] = { finalizers: ["kubernetes"] };
    o["status"] = { phase: "Active" };
  },
};

const nodes: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  plural: "nodes",
  singular: "node",
  kind: "Node",
  listKind: "NodeList",
  namespaced: false,
  shortNames: ["no"],
  statusSubresource: true,
  generation: "none",
  fieldLabels: { "spec.unschedulable": (o) => String(at(o, "spec", "unschedulable") === true) },
};

function qosClass(spec: unknown): string {
  const containers = isRecord(spec) && Array.isArray(spec["containers"]) ? spec["containers"] : [];
  const resources = containers.map((c) => (isRecord(c) && isRecord(c["resources"]) ? c["resources"] : {}));
  const any = resources.some((r) => Object.keys(r["requests"] ?? {}).length > 0 || Object.keys(r["limits"] ?? {}).length > 0);
  if (!any) return "BestEffort";
  const guaranteed = resources.every((r) => {
    const limits = isRecord(r["limits"]) ? r["limits"] : {};
    const requests = isRecord(r["requests"]) ? r["requests"] : limits;
    return ["cpu", "memory"].every((k) => limits[k] !== undefined && requests[k] === limits[k]);
  });
  return guaranteed ? "Guaranteed" : "Burstable";
}

const mutablePodFields = (spec: unknown): unknown => {
  if (!isRecord(spec)) return spec;
  const copy = structuredClone(spec);
  delete copy["activeDeadlineSeconds"];
  delete copy["tolerations"];
  for (const key of ["containers", "initContainers"]) {
    const list = copy[key];
    if (Array.isArray(list)) for (const c of list) if (isRecord(c)) delete c["image"];
  }
  return copy;
};

const pods: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  plural: "pods",
  singular: "pod",
  kind: "Pod",
  listKind: "PodList",
  namespaced: true,
  shortNames: ["po"],
  categories: ["all"],
  statusSubresource: true,
  generation: "spec",
  returnDeletedObject: true,
  fieldLabels: {
    "spec.nodeName": (o) => str(at(o, "spec", "nodeName")),
    "spec.restartPolicy": (o) => str(at(o, "spec", "restartPolicy")),
    "spec.schedulerName": (o) => str(at(o, "spec", "schedulerName")),
    "spec.serviceAccountName": (o) => str(at(o, "spec", "serviceAccountName")),
    "spec.hostNetwork": (o) => String(at(o, "spec", "hostNetwork") === true),
    "status.phase": (o) => str(at(o, "status", "phase")),
    "status.podIP": (o) => str(at(o, "status", "podIP")),
    "status.nominatedNodeName": (o) => str(at(o, "status", "nominatedNodeName")),
  },
  defaulter: (o) => {
    const spec = o["spec"];
    defaultPodSpec(spec);
    if (isRecord(spec)) {
      if (spec["enableServiceLinks"] === undefined) spec["enableServiceLinks"] = true;
      if (spec["serviceAccountName"] === undefined) {
        spec["serviceAccountName"] = "default";
        spec["serviceAccount"] = "default";
      }
    }
  },
  prepareForCreate: (o) => {
    o["status"] = { phase: "Pending", qosClass: qosClass(o["spec"]) };
  },
  validator: (o, old) => {
    const errs = validatePodSpec(o["spec"], FieldPath.of("spec"));
    if (old !== undefined && !isDeepStrictEqual(mutablePodFields(o["spec"]), mutablePodFields(old["spec"]))) {
      errs.push(
        fieldErrors.forbidden(
          FieldPath.of("spec"),
          "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        ),
      );
    }
    return errs;
  },
};

const templateGenerationAnnotation = "deprecated.daemonset.template.generation";

const daemonsets: ResourceType = {
  ...base,
  group: "apps",
  version: "v1",
  plural: "daemonsets",
  singular: "daemonset",
  kind: "DaemonSet",
  listKind: "DaemonSetList",
  namespaced: true,
  shortNames: ["ds"],
  categories: ["all"],
  statusSubresource: true,
  generation: "spec",
  defaulter: (o) => {
    const spec = o["spec"];
    if (!isRecord(spec)) return;
    if (!isRecord(spec["updateStrategy"])) spec["updateStrategy"] = { type: "RollingUpdate" };
    const strategy = spec["updateStrategy"] as JsonObject;
    if (strategy["type"] === undefined) strategy["type"] = "RollingUpdate";
    if (strategy["type"] === "RollingUpdate") {
      const ru = isRecord(strategy["rollingUpdate"]) ? strategy["rollingUpdate"] : {};
      if (ru["maxUnavailable"] === undefined) ru["maxUnavailable"] = 1;
      if (ru["maxSurge"] === undefined) ru["maxSurge"] = 0;
      strategy["rollingUpdate"] = ru;
    }
    if (spec["revisionHistoryLimit"] === undefined) spec["revisionHistoryLimit"] = 10;
    defaultPodSpec(at(spec, "template", "spec"));
  },
  prepareForCreate: (o) => {
    o["status"] = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
    const meta = metaOf(o);
    meta.annotations = { ...(meta.annotations ?? {}), [templateGenerationAnnotation]: "1" };
  },
  prepareForUpdate: (o, old) => {
    const meta = metaOf(o);
    const oldGen = str(metaOf(old).annotations?.[templateGenerationAnnotation]) || "1";
    const changed = !isDeepStrictEqual(at(o, "spec", "template"), at(old, "spec", "template"));
    meta.annotations = {
      ...(meta.annotations ?? {}),
      [templateGenerationAnnotation]: changed ? String(Number(oldGen) + 1) : oldGen,
    };
  },
  validator: (o, old) => {
    const errs: FieldError[] = [];
    const spec = isRecord(o["spec"]) ? o["spec"] : {};
    const sp = FieldPath.of("spec");
    const selector = spec["selector"];
    const template = isRecord(spec["template"]) ? spec["template"] : {};
    const templateLabels = isRecord(at(template, "metadata", "labels")) ? (at(template, "metadata", "labels") as JsonObject) : {};
    if (!isRecord(selector)) errs.push(fieldErrors.required(sp.child("selector")));
    else if (Object.keys(selector["matchLabels"] ?? {}).length === 0 && !Array.isArray(selector["matchExpressions"])) {
      errs.push(fieldErrors.invalid(sp.child("selector"), selectorText(selector), "empty selector is invalid for daemonset"));
    } else if (!selectorMatches(selector, templateLabels)) {
      errs.push(fieldErrors.invalid(sp.child("template").child("metadata").child("labels"), templateLabels, "`selector` does not match template `labels`"));
    }
    errs.push(...validatePodSpec(template["spec"], sp.child("template").child("spec")));
    const restart = at(template, "spec", "restartPolicy");
    if (restart !== undefined && restart !== "Always") {
      errs.push(fieldErrors.notSupported(sp.child("template").child("spec").child("restartPolicy"), restart, ["Always"]));
    }
    if (old !== undefined && !isDeepStrictEqual(selector, at(old, "spec", "selector"))) {
      errs.push(fieldErrors.invalid(sp.child("selector"), selectorText(selector), "field is immutable"));
    }
    return errs;
  },
};

const involvedObjectField = (key: string) => (o: JsonObject) => str(at(o, "involvedObject", key));

const coreEvents: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  plural: "events",
  singular: "event",
  kind: "Event",
  listKind: "EventList",
  namespaced: true,
  shortNames: ["ev"],
  statusSubresource: false,
  generation: "none",
  fieldLabels: {
    "involvedObject.kind": involvedObjectField("kind"),
    "involvedObject.namespace": involvedObjectField("namespace"),
    "involvedObject.name": involvedObjectField("name"),
    "involvedObject.uid": involvedObjectField("uid"),
    "involvedObject.apiVersion": involvedObjectField("apiVersion"),
    "involvedObject.resourceVersion": involvedObjectField("resourceVersion"),
    "involvedObject.fieldPath": involvedObjectField("fieldPath"),
    reason: (o) => str(o["reason"]),
    reportingComponent: (o) => str(o["reportingComponent"]),
    source: (o) => str(at(o, "source", "component")),
    type: (o) => str(o["type"]),
  },
  // legacyValidateEvent: an event about a cluster-scoped object lives in "default" (or
  // kube-system for new-style events); one about a namespaced object lives in its namespace.
  validator: (o) => {
    const ns = str(metaOf(o).namespace);
    const involvedNs = str(at(o, "involvedObject", "namespace"));
    const nsPath = FieldPath.of("involvedObject", "namespace");
    const mismatch = fieldErrors.invalid(nsPath, involvedNs, "does not match event.namespace");
    const errs: FieldError[] = [];
    if (o["eventTime"] === undefined || o["eventTime"] === null) {
      if (involvedNs === "" ? ns !== "" && ns !== "default" : ns !== involvedNs) errs.push(mismatch);
      return errs;
    }
    if (involvedNs === "" && ns !== "default" && ns !== "kube-system") errs.push(mismatch);
    for (const key of ["reportingComponent", "reportingInstance", "action"]) {
      if (str(o[key]) === "") errs.push(fieldErrors.required(FieldPath.of(key)));
    }
    return errs;
  },
};

const eventsV1: ResourceType = {
  ...coreEvents,
  group: "events.k8s.io",
  version: "v1",
  shortNames: ["ev"],
  fieldLabels: {
    "regarding.kind": (o) => str(at(o, "regarding", "kind")),
    "regarding.namespace": (o) => str(at(o, "regarding", "namespace")),
    "regarding.name": (o) => str(at(o, "regarding", "name")),
    "regarding.uid": (o) => str(at(o, "regarding", "uid")),
    reason: (o) => str(o["reason"]),
    reportingController: (o) => str(o["reportingController"]),
    type: (o) => str(o["type"]),
  },
  validator: (o) => {
    const errs: FieldError[] = [];
    if (o["eventTime"] === undefined || o["eventTime"] === null) errs.push(fieldErrors.required(FieldPath.of("eventTime")));
    const ns = str(metaOf(o).namespace);
    const regardingNs = str(at(o, "regarding", "namespace"));
    if (regardingNs === "" ? ns !== "default" && ns !== "kube-system" : regardingNs !== ns) {
      errs.push(fieldErrors.invalid(FieldPath.of("regarding", "namespace"), regardingNs, "does not match event.namespace"));
    }
    for (const key of ["reportingController", "reportingInstance", "action"]) {
      if (str(o[key]) === "") errs.push(fieldErrors.required(FieldPath.of(key)));
    }
    if (o["type"] !== "Normal" && o["type"] !== "Warning") errs.push(fieldErrors.notSupported(FieldPath.of("type"), o["type"] ?? "", ["Normal", "Warning"]));
    return errs;
  },
};

const leases: ResourceType = {
  ...base,
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  singular: "lease",
  kind: "Lease",
  listKind: "LeaseList",
  namespaced: true,
  statusSubresource: false,
  generation: "none",
  validator: (o) => {
    const errs: FieldError[] = [];
    const duration = at(o, "spec", "leaseDurationSeconds");
    if (typeof duration === "number" && duration <= 0) {
      errs.push(fieldErrors.invalid(FieldPath.of("spec", "leaseDurationSeconds"), duration, "must be greater than 0"));
    }
    const transitions = at(o, "spec", "leaseTransitions");
    if (typeof transitions === "number" && transitions < 0) {
      errs.push(fieldErrors.invalid(FieldPath.of("spec", "leaseTransitions"), transitions, "must be greater than or equal to 0"));
    }
    return errs;
  },
};

export const builtinResources: ResourceType[] = [
  namespaces,
  nodes,
  pods,
  coreEvents,
  eventsV1,
  daemonsets,
  leases,
  ...builtinConfigResources,
  ...builtinDeploymentResources,
  ...builtinRbacResources,
  ...builtinCrdResources,
];
