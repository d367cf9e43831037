// apps/v1 Deployments, ReplicaSets and StatefulSets. Deployments get the defaults a real server adds (replicas 1, RollingUpdate 25%/25%,
// revisionHistoryLimit 10, progressDeadlineSeconds 600, the pod template's) and an empty status:
// no controller runs here, so status stays as a test (or a stand-in kubelet) writes it, and no
// ReplicaSet is created. ReplicaSets are served because status waiters (helm --wait, kstatus)
// list a Deployment's ReplicaSets to judge it. StatefulSets are served so that a pod can name
// one as its owner (the emulated garbage collector collects a pod whose owners do not exist):
// their defaults and status as a real server gives them, no controller.
import { isDeepStrictEqual } from "node:util";
import { fieldErrors, FieldPath, type FieldError } from "../crd/field-error.js";
import { at, base, selectorMatches, selectorText } from "./builtin-common.js";
import { defaultPodSpec, validatePodSpec } from "./pod-spec.js";
import { isRecord, type JsonObject, type ResourceType } from "./types.js";

const deployments: ResourceType = {
  ...base,
  group: "apps",
  version: "v1",
  plural: "deployments",
  singular: "deployment",
  kind: "Deployment",
  listKind: "DeploymentList",
  namespaced: true,
  shortNames: ["deploy"],
  categories: ["all"],
  statusSubresource: true,
  generation: "spec",
  defaulter: (o) => {
    const spec = o["spec"];
    if (!isRecord(spec)) return;
    if (spec["replicas"] === undefined) spec["replicas"] = 1;
    if (!isRecord(spec["strategy"])) spec["strategy"] = {};
    const strategy = spec["strategy"] as JsonObject;
    if (strategy["type"] === undefined) strategy["type"] = "RollingUpdate";
    if (strategy["type"] === "RollingUpdate") {
      const ru = isRecord(strategy["rollingUpdate"]) ? strategy["rollingUpdate"] : {};
      if (ru["maxUnavailable"] === undefined) ru["maxUnavailable"] = "25%";
      if (ru["maxSurge"] === undefined) ru["maxSurge"] = "25%";
      strategy["rollingUpdate"] = ru;
    }
    if (spec["revisionHistoryLimit"] === undefined) spec["revisionHistoryLimit"] = 10;
    if (spec["progressDeadlineSeconds"] === undefined) spec["progressDeadlineSeconds"] = 600;
    defaultPodSpec(at(spec, "template", "spec"));
  },
  prepareForCreate: (o) => {
    o["status"] = {};
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
      errs.push(fieldErrors.invalid(sp.child("selector"), selectorText(selector), "empty selector is invalid for deployment"));
    } else if (!selectorMatches(selector, templateLabels)) {
      errs.push(fieldErrors.invalid(sp.child("template").child("metadata").child("labels"), templateLabels, "`selector` does not match template `labels`"));
    }
    const replicas = spec["replicas"];
    if (typeof replicas === "number" && replicas < 0) errs.push(fieldErrors.invalid(sp.child("replicas"), replicas, "must be greater than or equal to 0"));
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

const replicaSets: ResourceType = {
  ...deployments,
  plural: "replicasets",
  singular: "replicaset",
  kind: "ReplicaSet",
  listKind: "ReplicaSetList",
  shortNames: ["rs"],
  defaulter: (o) => {
    const spec = o["spec"];
    if (!isRecord(spec)) return;
    if (spec["replicas"] === undefined) spec["replicas"] = 1;
    defaultPodSpec(at(spec, "template", "spec"));
  },
  prepareForCreate: (o) => {
    o["status"] = { replicas: 0 };
  },
};

const statefulSets: ResourceType = {
  ...deployments,
  plural: "statefulsets",
  singular: "statefulset",
  kind: "StatefulSet",
  listKind: "StatefulSetList",
  shortNames: ["sts"],
  defaulter: (o) => {
    const spec = o["spec"];
    if (!isRecord(spec)) return;
    if (spec["replicas"] === undefined) spec["replicas"] = 1;
    if (spec["podManagementPolicy"] === undefined) spec["podManagementPolicy"] = "OrderedReady";
    if (!isRecord(spec["updateStrategy"])) spec["updateStrategy"] = { type: "RollingUpdate", rollingUpdate: { partition: 0 } };
    if (spec["revisionHistoryLimit"] === undefined) spec["revisionHistoryLimit"] = 10;
    if (!isRecord(spec["persistentVolumeClaimRetentionPolicy"])) spec["persistentVolumeClaimRetentionPolicy"] = { whenDeleted: "Retain", whenScaled: "Retain" };
    defaultPodSpec(at(spec, "template", "spec"));
  },
  prepareForCreate: (o) => {
    o["status"] = { replicas: 0, availableReplicas: 0 };
  },
};

export const builtinDeploymentResources: ResourceType[] = [deployments, replicaSets, statefulSets];
