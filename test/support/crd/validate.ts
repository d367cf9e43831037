// The API server's pipeline for one custom resource write: prune unknown fields, apply defaults,
// then validate metadata, the OpenAPI schema, list types and (unless the object already failed
// in a way that blocks it) the x-kubernetes-validations rules.
import { celErrors } from "./cel.js";
import { applyDefaults, pruneNonNullableNulls } from "./default.js";
import { fieldErrors, FieldPath, toCause, type FieldError } from "./field-error.js";
import { listTypeErrors } from "./list-type.js";
import { validateObjectMeta } from "./metadata.js";
import { pruneCustomResource } from "./prune.js";
import { structuralErrors } from "./structural.js";
import type { CrdValidationResult, CrdVersion, JSONSchemaProps, LoadedCrd } from "./types.js";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export interface ValidateOptions {
  /** mirror `fieldValidation=Strict`: report unknown fields as causes instead of pruning them silently */
  strict?: boolean;
  /** the served version the object is written in; defaults to the object's apiVersion, then the storage version */
  version?: string;
}

function versionOf(crd: LoadedCrd, obj: unknown, wanted: string | undefined): CrdVersion {
  const fromObject = isRecord(obj) && typeof obj["apiVersion"] === "string" ? obj["apiVersion"].split("/")[1] : undefined;
  const name = wanted ?? fromObject;
  return crd.versions.find((v) => v.name === name) ?? crd.storageVersion;
}

/** Errors the API server treats as blocking: CEL rules are not run on an object that has them. */
function blocking(errs: FieldError[]): FieldError | undefined {
  const types = new Set(["FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong", "FieldValueTooMany", "FieldValueTypeInvalid"]);
  if (!errs.some((e) => types.has(e.type))) return undefined;
  return fieldErrors.invalid(
    FieldPath.root(),
    null,
    "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
  );
}

/** The old object as the server holds it: read back from storage, so pruned and defaulted too. */
function asStored(oldObj: unknown, schema: JSONSchemaProps): unknown {
  const old: unknown = structuredClone(oldObj);
  if (!isRecord(old)) return old;
  pruneCustomResource(old, schema);
  applyDefaults(old, schema);
  pruneNonNullableNulls(old, schema);
  return old;
}

/** The field errors, in the API server's order, and the pruned+defaulted object. */
export function validateCustomResourceFieldErrors(
  crd: LoadedCrd,
  input: unknown,
  oldObj?: unknown,
  opts: ValidateOptions = {},
): { object: unknown; errors: FieldError[]; unknownFields: string[] } {
  const obj: unknown = structuredClone(input);
  if (!isRecord(obj)) {
    return { object: obj, errors: [fieldErrors.invalid(FieldPath.root(), obj, "must be an object")], unknownFields: [] };
  }
  const version = versionOf(crd, obj, opts.version);
  const schema = version.schema;
  const unknownFields = pruneCustomResource(obj, schema);
  applyDefaults(obj, schema);
  pruneNonNullableNulls(obj, schema);

  const errors: FieldError[] = [];
  if (opts.strict === true) {
    for (const f of unknownFields) errors.push(fieldErrors.invalid(FieldPath.of(f), "", `unknown field "${f}"`));
  }
  const expectedApiVersion = `${crd.group}/${version.name}`;
  if (obj["apiVersion"] !== expectedApiVersion) {
    errors.push(fieldErrors.invalid(FieldPath.of("apiVersion"), obj["apiVersion"] ?? "", `must be ${expectedApiVersion}`));
  }
  if (obj["kind"] !== crd.kind) errors.push(fieldErrors.invalid(FieldPath.of("kind"), obj["kind"] ?? "", `must be ${crd.kind}`));
  errors.push(...validateObjectMeta(obj["metadata"]));
  errors.push(...structuralErrors(schema, obj));
  errors.push(...listTypeErrors(obj, schema));
  const block = blocking(errors);
  if (block !== undefined) errors.push(block);
  else errors.push(...celErrors(schema, obj, oldObj === undefined ? undefined : asStored(oldObj, schema)));
  return { object: obj, errors, unknownFields };
}

/**
 * Validates a custom resource as the API server would on create (no oldObj) or update: the result
 * holds the object with unknown fields pruned and defaults applied, and the 422 causes.
 */
export function validateCustomResource(crd: LoadedCrd, obj: unknown, oldObj?: unknown, opts: ValidateOptions = {}): CrdValidationResult {
  const { object, errors, unknownFields } = validateCustomResourceFieldErrors(crd, obj, oldObj, opts);
  return { object, causes: errors.map(toCause), unknownFields };
}
