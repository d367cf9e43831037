// Every kind the server serves: the built-in ones and one entry per served version of each CRD.
import type { LoadedCrd } from "../crd/types.js";
import { builtinResources } from "./builtin.js";
import { apiVersionOf, type JsonObject, type ResourceType } from "./types.js";

function fromCrd(crd: LoadedCrd): ResourceType[] {
  return crd.versions
    .filter((v) => v.served)
    .map((v) => ({
      group: crd.group,
      version: v.name,
      plural: crd.plural,
      singular: crd.singular,
      kind: crd.kind,
      listKind: crd.listKind,
      namespaced: crd.namespaced,
      shortNames: crd.shortNames,
      categories: crd.categories,
      statusSubresource: v.statusSubresource,
      generation: v.statusSubresource ? "nonStatus" : "nonMetadata",
      fieldLabels: Object.fromEntries(
        v.selectableFields.map((path) => [
          path,
          (obj: JsonObject) => {
            const value = path.split(".").reduce<unknown>((node, k) => (typeof node === "object" && node !== null ? (node as JsonObject)[k] : undefined), obj);
            return typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
          },
        ]),
      ),
      returnDeletedObject: false,
      verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
      crd,
    }));
}

export class ResourceRegistry {
  /** served kinds of each CRD, by the CRD's name; changes as CRDs are created, updated and deleted */
  private readonly crdTypes = new Map<string, ResourceType[]>();

  constructor(crds: LoadedCrd[] = []) {
    for (const crd of crds) this.serveCrd(crd);
  }

  get all(): ResourceType[] {
    return [...builtinResources, ...[...this.crdTypes.values()].flat()];
  }

  /** Serves the CRD's served versions (replacing what an earlier version of it served). */
  serveCrd(crd: LoadedCrd): void {
    this.crdTypes.set(crd.name, fromCrd(crd));
  }

  /** Stops serving the CRD's kind. */
  forgetCrd(name: string): void {
    this.crdTypes.delete(name);
  }

  /** The kinds a CRD serves now (empty when it serves none). */
  typesOf(name: string): ResourceType[] {
    return this.crdTypes.get(name) ?? [];
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.all.find((r) => r.group === group && r.version === version && r.plural === plural);
  }

  /** The kind an ownerReference names (any served version of its group). */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    const group = apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "";
    return (
      this.all.find((r) => r.group === group && r.kind === kind && apiVersionOf(r) === apiVersion) ?? this.all.find((r) => r.group === group && r.kind === kind)
    );
  }

  /** Group name to its versions, in the order they are served. */
  groups(): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const r of this.all) {
      const versions = groups.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      groups.set(r.group, versions);
    }
    return groups;
  }
}
