// Shapes the test API server works with: JSON objects and the resource types it serves.
import type { FieldError } from "../crd/field-error.js";
import type { NameValidator } from "../crd/metadata.js";
import type { LoadedCrd } from "../crd/types.js";

export type JsonObject = Record<string, unknown>;

export const isRecord = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The object's metadata, created empty if absent. */
export function metaOf(obj: JsonObject): ObjectMeta & JsonObject {
  if (!isRecord(obj["metadata"])) obj["metadata"] = {};
  return obj["metadata"] as ObjectMeta & JsonObject;
}

/**
 * When metadata.generation moves: `spec` (built-in kinds: a spec change), `nonStatus` (custom
 * resources with a status subresource: any change outside metadata and status), `nonMetadata`
 * (custom resources without one), or `none` (kinds without generation, such as Lease).
 */
export type GenerationPolicy = "spec" | "nonStatus" | "nonMetadata" | "none";

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  statusSubresource: boolean;
  generation: GenerationPolicy;
  /** field selectors served besides metadata.name and metadata.namespace */
  fieldLabels: Record<string, (obj: JsonObject) => string>;
  /** DELETE answers with the object (pods) instead of a Status */
  returnDeletedObject: boolean;
  verbs: string[];
  crd?: LoadedCrd;
  nameValidator?: NameValidator;
  /** built-in defaulting (SetDefaults_*) and PrepareForCreate-like resets */
  defaulter?: (obj: JsonObject) => void;
  /** built-in validation beyond ObjectMeta; old is set on update */
  validator?: (obj: JsonObject, old: JsonObject | undefined) => FieldError[];
  /** the real strategy's PrepareForCreate beyond what every kind does (a fresh status, say) */
  prepareForCreate?: (obj: JsonObject) => void;
  /** the real strategy's PrepareForUpdate beyond status/spec separation and generation */
  prepareForUpdate?: (obj: JsonObject, old: JsonObject) => void;
  /** not stored: a create asks the authorizer a question (SelfSubjectAccessReview) */
  review?: boolean;
}

export const apiVersionOf = (rt: ResourceType): string => (rt.group === "" ? rt.version : `${rt.group}/${rt.version}`);
/** `droptraces.droptrace.io`, `daemonsets.apps`, `pods` */
export const qualifiedResource = (rt: ResourceType): string => (rt.group === "" ? rt.plural : `${rt.plural}.${rt.group}`);
/** `DropTrace.droptrace.io`, `DaemonSet.apps`, `Pod` */
export const qualifiedKind = (rt: ResourceType): string => (rt.group === "" ? rt.kind : `${rt.kind}.${rt.group}`);
/** the key that survives versions: `apps/daemonsets` */
export const resourceKey = (rt: ResourceType): string => `${rt.group}/${rt.plural}`;
