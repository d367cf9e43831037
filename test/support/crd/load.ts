// Reads CustomResourceDefinition manifests (apiextensions.k8s.io/v1) from a directory.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { CrdVersion, LoadedCrd } from "./types.js";

/** The repository's `crds/` directory. */
export const defaultCrdDir = resolve(fileURLToPath(new URL("../../../crds", import.meta.url)));

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function str(obj: Record<string, unknown>, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== "string" || v === "") throw new Error(`${where}: ${key} must be a non-empty string`);
  return v;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function parseVersion(v: unknown, where: string): CrdVersion {
  if (!isRecord(v)) throw new Error(`${where}: spec.versions[] must be objects`);
  const name = str(v, "name", where);
  const schemaHolder = v["schema"];
  const schema = isRecord(schemaHolder) ? schemaHolder["openAPIV3Schema"] : undefined;
  if (!isRecord(schema)) throw new Error(`${where}: version ${name} has no schema.openAPIV3Schema`);
  const subresources = isRecord(v["subresources"]) ? v["subresources"] : {};
  const selectable = Array.isArray(v["selectableFields"]) ? v["selectableFields"] : [];
  return {
    name,
    served: v["served"] === true,
    storage: v["storage"] === true,
    schema,
    statusSubresource: isRecord(subresources["status"]),
    selectableFields: selectable.flatMap((f) => (isRecord(f) && typeof f["jsonPath"] === "string" ? [f["jsonPath"].replace(/^\./, "")] : [])),
  };
}

export function parseCrd(doc: Record<string, unknown>, file: string): LoadedCrd {
  const where = file;
  const metadata = isRecord(doc["metadata"]) ? doc["metadata"] : {};
  const spec = doc["spec"];
  if (!isRecord(spec)) throw new Error(`${where}: CRD has no spec`);
  const names = spec["names"];
  if (!isRecord(names)) throw new Error(`${where}: CRD has no spec.names`);
  const group = str(spec, "group", where);
  const plural = str(names, "plural", where);
  const kind = str(names, "kind", where);
  const name = str(metadata, "name", where);
  if (name !== `${plural}.${group}`) throw new Error(`${where}: metadata.name must be ${plural}.${group}, not ${name}`);
  const rawVersions = Array.isArray(spec["versions"]) ? spec["versions"] : [];
  const versions = rawVersions.map((v) => parseVersion(v, where));
  const storage = versions.filter((v) => v.storage);
  const storageVersion = storage[0];
  if (storage.length !== 1 || storageVersion === undefined) throw new Error(`${where}: exactly one version must have storage: true`);
  const scope = spec["scope"];
  if (scope !== "Cluster" && scope !== "Namespaced") throw new Error(`${where}: spec.scope must be Cluster or Namespaced`);
  return {
    name,
    group,
    kind,
    listKind: typeof names["listKind"] === "string" ? names["listKind"] : `${kind}List`,
    plural,
    singular: typeof names["singular"] === "string" ? names["singular"] : kind.toLowerCase(),
    shortNames: strings(names["shortNames"]),
    categories: strings(names["categories"]),
    namespaced: scope === "Namespaced",
    versions,
    storageVersion,
    file,
    raw: doc,
  };
}

/** Every CRD in the `.yaml`, `.yml` and `.json` files of `dir` (multi-document files allowed). */
export function loadCrds(dir: string = defaultCrdDir): LoadedCrd[] {
  const files = readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
  const crds: LoadedCrd[] = [];
  for (const f of files) {
    const file = join(dir, f);
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
      const value: unknown = doc.toJS();
      if (isRecord(value) && value["kind"] === "CustomResourceDefinition") crds.push(parseCrd(value, file));
    }
  }
  return crds;
}
