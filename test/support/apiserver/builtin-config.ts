// ServiceAccounts, Secrets, ConfigMaps and Services: what a Helm chart installs around its
// workloads (and Helm itself stores its releases in Secrets). Defaults and validation are the
// cheap, visible part of the real strategies: Secret type and stringData, data keys, a Service's
// allocated cluster IP and port defaults, and the immutable fields people trip over.
import { createHash } from "node:crypto";
import { fieldErrors, FieldPath, type FieldError } from "../crd/field-error.js";
import { at, base, str } from "./builtin-common.js";
import { isRecord, type JsonObject, type ResourceType } from "./types.js";

const configKeyRe = /^[-._a-zA-Z0-9]+$/;

/** ValidateConfigMapKey / the Secret data keys. */
function dataKeyErrors(obj: JsonObject, field: string): FieldError[] {
  const data = obj[field];
  if (!isRecord(data)) return [];
  return Object.keys(data).flatMap((k) =>
    configKeyRe.test(k) && k.length <= 253 && k !== "." && k !== ".."
      ? []
      : [
          fieldErrors.invalid(
            FieldPath.of(field),
            k,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
          ),
        ],
  );
}

const immutableData = (obj: JsonObject, old: JsonObject | undefined): FieldError[] => {
  if (old?.["immutable"] !== true) return [];
  const errs: FieldError[] = [];
  if (obj["immutable"] !== true) errs.push(fieldErrors.forbidden(FieldPath.of("immutable"), "field is immutable when `immutable` is set"));
  for (const f of ["data", "binaryData"]) {
    if (JSON.stringify(obj[f] ?? null) !== JSON.stringify(old[f] ?? null))
      errs.push(fieldErrors.forbidden(FieldPath.of(f), "field is immutable when `immutable` is set"));
  }
  return errs;
};

const serviceAccounts: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  plural: "serviceaccounts",
  singular: "serviceaccount",
  kind: "ServiceAccount",
  listKind: "ServiceAccountList",
  namespaced: true,
  shortNames: ["sa"],
  statusSubresource: false,
  generation: "none",
};

const secrets: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  plural: "secrets",
  singular: "secret",
  kind: "Secret",
  listKind: "SecretList",
  namespaced: true,
  statusSubresource: false,
  generation: "none",
  fieldLabels: { type: (o) => str(o["type"]) },
  defaulter: (o) => {
    if (o["type"] === undefined || o["type"] === "") o["type"] = "Opaque";
    // stringData is write-only: merged into data (base64) and dropped, as the real conversion does.
    if (isRecord(o["stringData"])) {
      const data = isRecord(o["data"]) ? o["data"] : {};
      for (const [k, v] of Object.entries(o["stringData"])) data[k] = Buffer.from(str(v)).toString("base64");
      o["data"] = data;
    }
    delete o["stringData"];
  },
  validator: (o, old) => {
    const errs = dataKeyErrors(o, "data");
    if (old !== undefined && o["type"] !== old["type"]) errs.push(fieldErrors.invalid(FieldPath.of("type"), o["type"], "field is immutable"));
    return [...errs, ...immutableData(o, old)];
  },
};

const configMaps: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  plural: "configmaps",
  singular: "configmap",
  kind: "ConfigMap",
  listKind: "ConfigMapList",
  namespaced: true,
  shortNames: ["cm"],
  statusSubresource: false,
  generation: "none",
  validator: (o, old) => [...dataKeyErrors(o, "data"), ...dataKeyErrors(o, "binaryData"), ...immutableData(o, old)],
};

/** A cluster IP in 10.96.0.0/12 derived from the service's namespace and name: random-looking like the real allocator's, but the same on every run. */
function clusterIPFor(o: JsonObject): string {
  const meta = isRecord(o["metadata"]) ? o["metadata"] : {};
  const h = createHash("sha256")
    .update(`${str(meta["namespace"])}/${str(meta["name"])}`)
    .digest();
  return `10.${96 + ((h[0] ?? 0) % 16)}.${h[1] ?? 0}.${1 + ((h[2] ?? 0) % 254)}`;
}

/** ValidateServiceName: a DNS-1035 label. */
function dns1035LabelMessages(value: string): string[] {
  const msgs: string[] = [];
  if (value.length > 63) msgs.push("must be no more than 63 characters");
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(value)) {
    msgs.push(
      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
  }
  return msgs;
}

const services: ResourceType = {
  ...base,
  group: "",
  version: "v1",
  plural: "services",
  singular: "service",
  kind: "Service",
  listKind: "ServiceList",
  namespaced: true,
  shortNames: ["svc"],
  categories: ["all"],
  statusSubresource: true,
  generation: "none",
  nameValidator: dns1035LabelMessages,
  defaulter: (o) => {
    const spec = isRecord(o["spec"]) ? o["spec"] : {};
    o["spec"] = spec;
    if (spec["type"] === undefined) spec["type"] = "ClusterIP";
    if (spec["sessionAffinity"] === undefined) spec["sessionAffinity"] = "None";
    if (spec["type"] !== "ExternalName") {
      if (spec["internalTrafficPolicy"] === undefined) spec["internalTrafficPolicy"] = "Cluster";
      if (spec["ipFamilyPolicy"] === undefined) spec["ipFamilyPolicy"] = "SingleStack";
      if (spec["ipFamilies"] === undefined) spec["ipFamilies"] = ["IPv4"];
    }
    if (Array.isArray(spec["ports"])) {
      for (const p of spec["ports"]) {
        if (!isRecord(p)) continue;
        if (p["protocol"] === undefined) p["protocol"] = "TCP";
        if (p["targetPort"] === undefined && p["port"] !== undefined) p["targetPort"] = p["port"];
      }
    }
  },
  prepareForCreate: (o) => {
    const spec = isRecord(o["spec"]) ? o["spec"] : {};
    o["spec"] = spec;
    if (spec["type"] !== "ExternalName" && (spec["clusterIP"] === undefined || spec["clusterIP"] === "")) {
      spec["clusterIP"] = clusterIPFor(o);
      spec["clusterIPs"] = [spec["clusterIP"]];
    }
    o["status"] = { loadBalancer: {} };
  },
  validator: (o, old) => {
    const errs: FieldError[] = [];
    const spec = isRecord(o["spec"]) ? o["spec"] : {};
    const ports = Array.isArray(spec["ports"]) ? spec["ports"] : [];
    if (spec["type"] !== "ExternalName" && spec["clusterIP"] !== "None" && ports.length === 0) errs.push(fieldErrors.required(FieldPath.of("spec", "ports")));
    ports.forEach((p, i) => {
      const port = isRecord(p) ? p["port"] : undefined;
      if (typeof port !== "number") errs.push(fieldErrors.required(FieldPath.of("spec", "ports").index(i).child("port")));
      else if (port < 1 || port > 65535)
        errs.push(fieldErrors.invalid(FieldPath.of("spec", "ports").index(i).child("port"), port, "must be between 1 and 65535, inclusive"));
    });
    const oldIP = at(old, "spec", "clusterIP");
    if (old !== undefined && typeof oldIP === "string" && oldIP !== "" && spec["clusterIP"] !== oldIP) {
      errs.push(fieldErrors.invalid(FieldPath.of("spec", "clusterIPs").index(0), spec["clusterIPs"] ?? [], "may not change once set"));
    }
    return errs;
  },
  prepareForUpdate: (o, old) => {
    // An update without the allocated IP keeps it (the real strategy's patchAllocatedValues).
    const spec = isRecord(o["spec"]) ? o["spec"] : undefined;
    const oldSpec = isRecord(old["spec"]) ? old["spec"] : {};
    if (spec !== undefined && (spec["clusterIP"] === undefined || spec["clusterIP"] === "") && oldSpec["clusterIP"] !== undefined) {
      spec["clusterIP"] = oldSpec["clusterIP"];
      spec["clusterIPs"] = oldSpec["clusterIPs"];
    }
  },
};

export const builtinConfigResources: ResourceType[] = [serviceAccounts, secrets, configMaps, services];
