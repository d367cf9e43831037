// apiextensions.k8s.io/v1 CustomResourceDefinitions as objects of the API: what `helm install`
// creates from a chart's crds/ and `kubectl get crd` lists. Writing one makes crd-controller.ts
// serve (or stop serving) its kind. Validation is a cheap subset of the real one: the name rule,
// group, scope, names, one storage version, and whatever parseCrd (crd/load.ts) refuses.
import { fieldErrors, FieldPath, type FieldError } from "../crd/field-error.js";
import { parseCrd } from "../crd/load.js";
import { base, str } from "./builtin-common.js";
import { isRecord, metaOf, type JsonObject, type ResourceType } from "./types.js";

export const crdGroup = "apiextensions.k8s.io";
export const crdKey = `${crdGroup}/customresourcedefinitions`;
export const cleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";

function crdErrors(o: JsonObject): FieldError[] {
  const spec = isRecord(o["spec"]) ? o["spec"] : {};
  const names = isRecord(spec["names"]) ? spec["names"] : {};
  const errs: FieldError[] = [];
  const name = str(metaOf(o).name);
  const group = str(spec["group"]);
  if (name !== `${str(names["plural"])}.${group}`)
    errs.push(fieldErrors.invalid(FieldPath.of("metadata", "name"), name, 'must be spec.names.plural+"."+spec.group'));
  if (group === "") errs.push(fieldErrors.required(FieldPath.of("spec", "group")));
  else if (!group.includes(".")) errs.push(fieldErrors.invalid(FieldPath.of("spec", "group"), group, "should be a domain with at least one dot"));
  if (spec["scope"] !== "Cluster" && spec["scope"] !== "Namespaced")
    errs.push(fieldErrors.notSupported(FieldPath.of("spec", "scope"), str(spec["scope"]), ["Cluster", "Namespaced"]));
  for (const key of ["plural", "singular", "kind", "listKind"]) {
    if (str(names[key]) === "") errs.push(fieldErrors.required(FieldPath.of("spec", "names", key)));
  }
  const versions = Array.isArray(spec["versions"]) ? spec["versions"].filter(isRecord) : [];
  if (versions.length === 0)
    errs.push(fieldErrors.invalid(FieldPath.of("spec", "versions"), versions, "must have exactly one version marked as storage version"));
  else if (versions.filter((v) => v["storage"] === true).length !== 1) {
    errs.push(fieldErrors.invalid(FieldPath.of("spec", "versions"), versions, "must have exactly one version marked as storage version"));
  }
  if (errs.length > 0) return errs;
  try {
    parseCrd(o, `customresourcedefinitions/${name}`);
  } catch (err) {
    errs.push(fieldErrors.invalid(FieldPath.of("spec"), "", (err as Error).message.replace(/^[^:]*: /, "")));
  }
  return errs;
}

const customResourceDefinitions: ResourceType = {
  ...base,
  group: crdGroup,
  version: "v1",
  plural: "customresourcedefinitions",
  singular: "customresourcedefinition",
  kind: "CustomResourceDefinition",
  listKind: "CustomResourceDefinitionList",
  namespaced: false,
  shortNames: ["crd", "crds"],
  categories: ["api-extensions"],
  statusSubresource: true,
  generation: "spec",
  defaulter: (o) => {
    // SetDefaults_CustomResourceDefinitionSpec
    const spec = o["spec"];
    if (!isRecord(spec)) return;
    const names = isRecord(spec["names"]) ? spec["names"] : {};
    if (str(names["singular"]) === "" && str(names["kind"]) !== "") names["singular"] = str(names["kind"]).toLowerCase();
    if (str(names["listKind"]) === "" && str(names["kind"]) !== "") names["listKind"] = `${str(names["kind"])}List`;
    if (spec["conversion"] === undefined) spec["conversion"] = { strategy: "None" };
  },
  prepareForCreate: (o) => {
    // A fresh status: nothing accepted yet, the storage version recorded. crd-controller.ts
    // accepts the names and marks it Established right after, as the real controllers do.
    const spec = isRecord(o["spec"]) ? o["spec"] : {};
    const versions: unknown[] = Array.isArray(spec["versions"]) ? spec["versions"] : [];
    const storage = versions.find((v) => isRecord(v) && v["storage"] === true);
    o["status"] = { acceptedNames: { plural: "", kind: "" }, storedVersions: isRecord(storage) ? [str(storage["name"])] : [] };
  },
  validator: (o) => crdErrors(o),
};

export const builtinCrdResources: ResourceType[] = [customResourceDefinitions];
