// x-kubernetes-list-type invariants (structurallisttype.ValidateListSetsAndMaps): a `set` has no
// duplicate items, a `map` no two items with the same keys.
import { isDeepStrictEqual } from "node:util";
import { fieldErrors, FieldPath, type FieldError } from "./field-error.js";
import type { JSONSchemaProps } from "./types.js";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function listErrors(list: unknown[], schema: JSONSchemaProps, path: FieldPath): FieldError[] {
  const type = schema["x-kubernetes-list-type"];
  const errs: FieldError[] = [];
  if (type === "set") {
    list.forEach((item, i) => {
      if (list.slice(0, i).some((earlier) => isDeepStrictEqual(earlier, item))) errs.push(fieldErrors.duplicate(path.index(i), item));
    });
  } else if (type === "map") {
    const keys = schema["x-kubernetes-list-map-keys"] ?? [];
    const keyOf = (item: unknown) => Object.fromEntries(keys.flatMap((k) => (isRecord(item) && item[k] !== undefined ? [[k, item[k]]] : [])));
    list.forEach((item, i) => {
      const key = keyOf(item);
      if (list.slice(0, i).some((earlier) => isDeepStrictEqual(keyOf(earlier), key))) errs.push(fieldErrors.duplicate(path.index(i), key));
    });
  }
  return errs;
}

export function listTypeErrors(value: unknown, schema: JSONSchemaProps | undefined, path: FieldPath = FieldPath.root()): FieldError[] {
  if (schema === undefined) return [];
  if (Array.isArray(value)) {
    return [...listErrors(value, schema, path), ...value.flatMap((item, i) => listTypeErrors(item, schema.items, path.index(i)))];
  }
  if (!isRecord(value)) return [];
  const additional = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
  return Object.entries(value).flatMap(([k, v]) => listTypeErrors(v, schema.properties?.[k] ?? additional, path.child(k)));
}
