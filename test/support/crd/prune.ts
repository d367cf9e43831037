// Structural pruning: the API server drops every field its structural schema does not declare,
// unless a node says x-kubernetes-preserve-unknown-fields. It reports them (for
// fieldValidation=Strict/Warn) as `unknown field "spec.foo"`.
import type { JSONSchemaProps } from "./types.js";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** metav1.ObjectMeta's JSON fields: anything else under metadata is dropped by the decoder. */
const objectMetaFields = new Set([
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
]);
const ownerReferenceFields = new Set(["apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"]);

const join = (path: string, key: string) => (path === "" ? key : `${path}.${key}`);

/** Drops unknown ObjectMeta fields (for any kind, built-in or custom); returns their paths. */
export function pruneObjectMeta(meta: unknown, path = "metadata"): string[] {
  if (!isRecord(meta)) return [];
  const unknown: string[] = [];
  for (const key of Object.keys(meta)) {
    if (!objectMetaFields.has(key)) {
      unknown.push(join(path, key));
      Reflect.deleteProperty(meta, key);
    }
  }
  const refs = meta["ownerReferences"];
  if (Array.isArray(refs)) {
    refs.forEach((ref, i) => {
      if (!isRecord(ref)) return;
      for (const key of Object.keys(ref)) {
        if (!ownerReferenceFields.has(key)) {
          unknown.push(`${path}.ownerReferences[${i}].${key}`);
          Reflect.deleteProperty(ref, key);
        }
      }
    });
  }
  return unknown;
}

function pruneNode(value: unknown, schema: JSONSchemaProps | undefined, path: string, embedded: boolean, out: string[]): void {
  if (schema === undefined) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      pruneNode(item, schema.items, `${path}[${i}]`, schema.items?.["x-kubernetes-embedded-resource"] === true, out);
    });
    return;
  }
  if (!isRecord(value)) return;
  const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
  const props = schema.properties ?? {};
  const additional = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
  for (const key of Object.keys(value)) {
    const child = value[key];
    const childPath = join(path, key);
    const prop = props[key];
    if (prop !== undefined) {
      pruneNode(child, prop, childPath, prop["x-kubernetes-embedded-resource"] === true, out);
    } else if (embedded && (key === "apiVersion" || key === "kind")) {
      continue;
    } else if (embedded && key === "metadata") {
      out.push(...pruneObjectMeta(child, childPath));
    } else if (additional !== undefined) {
      pruneNode(child, additional, childPath, additional["x-kubernetes-embedded-resource"] === true, out);
    } else if (schema.additionalProperties === true || preserve) {
      continue;
    } else {
      out.push(childPath);
      Reflect.deleteProperty(value, key);
    }
  }
}

/**
 * Prunes a whole custom resource in place: apiVersion, kind and metadata are always kept at the root
 * (metadata reduced to ObjectMeta's fields); the rest follows the schema. Returns the pruned paths.
 */
export function pruneCustomResource(obj: Record<string, unknown>, schema: JSONSchemaProps): string[] {
  const out: string[] = [];
  // The root behaves like an embedded resource whatever the schema says.
  pruneNode(obj, { ...schema, properties: withoutMeta(schema.properties) }, "", true, out);
  return out;
}

function withoutMeta(props: Record<string, JSONSchemaProps> | undefined): Record<string, JSONSchemaProps> {
  const copy = { ...(props ?? {}) };
  delete copy["metadata"];
  delete copy["apiVersion"];
  delete copy["kind"];
  return copy;
}
