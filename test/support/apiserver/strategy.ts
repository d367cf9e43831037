// What the real registry strategies do to an object on its way into storage: reset what a
// client may not set (status on create, status on the main resource, everything but status on
// /status), apply defaults, validate, and move metadata.generation.
import { isDeepStrictEqual } from "node:util";
import { fieldErrors, FieldPath, type FieldError } from "../crd/field-error.js";
import { validateObjectMeta } from "../crd/metadata.js";
import { pruneObjectMeta } from "../crd/prune.js";
import { validateCustomResourceFieldErrors } from "../crd/validate.js";
import { statusErrors } from "./status.js";
import { metaOf, type JsonObject, type ResourceType } from "./types.js";

export interface AdmitOptions {
  /** fieldValidation=Strict: unknown fields fail the request instead of being dropped with a warning */
  strict: boolean;
}

/**
 * fieldValidation=Strict met unknown fields. The caller words it: create and update answer 400
 * `<Kind> in version "<v>" cannot be handled as a <Kind>: strict decoding error: ...`, a patch 422
 * `patch: Invalid value: "<patched object>": strict decoding error: ...`, as the real handlers do.
 */
export class StrictDecodingError extends Error {
  constructor(readonly fields: string[]) {
    super(`strict decoding error: ${fields.map((f) => `unknown field "${f}"`).join(", ")}`);
  }
}

export interface Admitted {
  object: JsonObject;
  /** `Warning` header texts: the unknown fields that were dropped */
  warnings: string[];
}

function defaultAndValidate(rt: ResourceType, obj: JsonObject, old: JsonObject | undefined, extra: FieldError[], opts: AdmitOptions): Admitted {
  const name = metaOf(obj).name ?? "";
  let object: JsonObject;
  let unknown: string[];
  let errors: FieldError[];
  if (rt.crd !== undefined) {
    const r = validateCustomResourceFieldErrors(rt.crd, obj, old, { version: rt.version });
    object = r.object as JsonObject;
    unknown = r.unknownFields;
    errors = r.errors;
  } else {
    object = obj;
    unknown = pruneObjectMeta(object["metadata"]);
    rt.defaulter?.(object);
    errors = [...validateObjectMeta(object["metadata"], rt.nameValidator), ...(rt.validator?.(object, old) ?? [])];
  }
  if (opts.strict && unknown.length > 0) {
    throw new StrictDecodingError(unknown);
  }
  const all = [...errors, ...extra];
  if (all.length > 0) throw statusErrors.invalid(rt, name, all);
  return { object, warnings: unknown.map((f) => `unknown field "${f}"`) };
}

/** PrepareForCreate + Validate. The caller has set name and namespace and cleared system fields. */
export function admitCreate(rt: ResourceType, obj: JsonObject, opts: AdmitOptions): Admitted {
  if (rt.statusSubresource && rt.crd !== undefined) delete obj["status"];
  rt.prepareForCreate?.(obj);
  return defaultAndValidate(rt, obj, undefined, [], opts);
}

const systemMeta = ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "name", "namespace"] as const;

function withoutKeys(obj: JsonObject, keys: string[]): JsonObject {
  const copy = { ...obj };
  for (const k of keys) Reflect.deleteProperty(copy, k);
  return copy;
}

/** Whether the write moves metadata.generation, per the kind's policy. */
export function generationChanged(rt: ResourceType, obj: JsonObject, old: JsonObject): boolean {
  switch (rt.generation) {
    case "none":
      return false;
    case "spec":
      return !isDeepStrictEqual(obj["spec"], old["spec"]);
    case "nonStatus":
      return !isDeepStrictEqual(withoutKeys(obj, ["metadata", "status"]), withoutKeys(old, ["metadata", "status"]));
    case "nonMetadata":
      return !isDeepStrictEqual(withoutKeys(obj, ["metadata"]), withoutKeys(old, ["metadata"]));
  }
}

/** PrepareForUpdate + ValidateUpdate, for the main resource or its /status subresource. */
export function admitUpdate(rt: ResourceType, body: JsonObject, old: JsonObject, subresource: string | undefined, opts: AdmitOptions): Admitted {
  let obj: JsonObject;
  if (subresource === "status" && rt.crd !== undefined) {
    // A custom resource's /status takes the status stanza and nothing else, metadata included.
    obj = structuredClone(old);
    if (body["status"] === undefined) delete obj["status"];
    else obj["status"] = body["status"];
  } else if (subresource === "status") {
    // A built-in kind's /status keeps the stored spec; metadata is taken from the request.
    obj = body;
    if (old["spec"] === undefined) delete obj["spec"];
    else obj["spec"] = structuredClone(old["spec"]);
  } else {
    obj = body;
    if (rt.statusSubresource) {
      if (old["status"] === undefined) delete obj["status"];
      else obj["status"] = structuredClone(old["status"]);
    }
  }
  const meta = metaOf(obj);
  const oldMeta = metaOf(old);
  for (const key of systemMeta) {
    if (oldMeta[key] === undefined) Reflect.deleteProperty(meta, key);
    else (meta as JsonObject)[key] = oldMeta[key];
  }
  rt.prepareForUpdate?.(obj, old);
  const extra: FieldError[] = [];
  if (oldMeta.deletionTimestamp !== undefined) {
    const added = (meta.finalizers ?? []).filter((f) => !(oldMeta.finalizers ?? []).includes(f));
    if (added.length > 0) {
      extra.push(
        fieldErrors.forbidden(
          FieldPath.of("metadata", "finalizers"),
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}`,
        ),
      );
    }
  }
  const admitted = defaultAndValidate(rt, obj, old, extra, opts);
  const newMeta = metaOf(admitted.object);
  if (generationChanged(rt, admitted.object, old)) newMeta.generation = (oldMeta.generation ?? 0) + 1;
  return admitted;
}

/** The same object apart from resourceVersion: the write changes nothing and is not stored. */
export function isNoop(obj: JsonObject, old: JsonObject): boolean {
  const strip = (o: JsonObject) => {
    const copy = structuredClone(o);
    const meta = metaOf(copy);
    delete meta.resourceVersion;
    delete meta["managedFields"];
    return copy;
  };
  return isDeepStrictEqual(strip(obj), strip(old));
}
