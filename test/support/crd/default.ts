// Structural defaulting as the API server does it (apiextensions-apiserver's structuraldefaulting):
// a missing property, or a null one that is not nullable, takes a deep copy of its `default`,
// then defaulting recurses into it; non-nullable nulls without a default are dropped.
import type { JSONSchemaProps } from "./types.js";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const copy = (v: unknown): unknown => structuredClone(v);

function isNonNullableNull(v: unknown, s: JSONSchemaProps): boolean {
  return v === null && s.nullable !== true;
}

export function applyDefaults(value: unknown, schema: JSONSchemaProps | undefined): void {
  if (schema === undefined) return;
  if (Array.isArray(value)) {
    const items = schema.items;
    if (items === undefined) return;
    for (let i = 0; i < value.length; i++) {
      if (items.default !== undefined && isNonNullableNull(value[i], items)) value[i] = copy(items.default);
      applyDefaults(value[i], items);
    }
    return;
  }
  if (!isRecord(value)) return;
  const props = schema.properties ?? {};
  for (const [key, prop] of Object.entries(props)) {
    if (prop.default === undefined) continue;
    if (!(key in value) || isNonNullableNull(value[key], prop)) value[key] = copy(prop.default);
  }
  const additional = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
  for (const key of Object.keys(value)) {
    const prop = props[key] ?? additional;
    if (prop !== undefined) applyDefaults(value[key], prop);
  }
}

/** Drops `key: null` where the schema node is not nullable (and has no default to take its place). */
export function pruneNonNullableNulls(value: unknown, schema: JSONSchemaProps | undefined): void {
  if (schema === undefined) return;
  if (Array.isArray(value)) {
    for (const item of value) pruneNonNullableNulls(item, schema.items);
    return;
  }
  if (!isRecord(value)) return;
  const props = schema.properties ?? {};
  const additional = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
  for (const key of Object.keys(value)) {
    const prop = props[key] ?? additional;
    if (prop === undefined) continue;
    if (value[key] === null && prop.nullable !== true && prop.default === undefined) Reflect.deleteProperty(value, key);
    else pruneNonNullableNulls(value[key], prop);
  }
}
