// OpenAPI v3 (structural schema) validation with ajv, reported as kube-openapi words it and as
// apiextensions-apiserver turns it into field errors (kubeOpenAPIResultToFieldErrors).
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { fieldErrors, FieldPath, goNumber, type FieldError } from "./field-error.js";
import { formatCheckers } from "./formats.js";
import type { JSONSchemaProps } from "./types.js";

type AjvSchema = Record<string, unknown>;

/** Translates a CRD schema node to draft-07 JSON Schema. */
function toAjvSchema(s: JSONSchemaProps): AjvSchema {
  const out: AjvSchema = {};
  const copied = [
    "enum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "required",
  ] as const;
  for (const key of copied) if (s[key] !== undefined) out[key] = s[key];
  if (s.type !== undefined) out["type"] = s.type;
  if (s["x-kubernetes-int-or-string"] === true) out["type"] = ["integer", "string"];
  if (s.format !== undefined && s.format in formatCheckers) out["format"] = s.format;
  if (s.minimum !== undefined) out[s.exclusiveMinimum === true ? "exclusiveMinimum" : "minimum"] = s.minimum;
  if (s.maximum !== undefined) out[s.exclusiveMaximum === true ? "exclusiveMaximum" : "maximum"] = s.maximum;
  if (s.properties !== undefined) {
    out["properties"] = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, toAjvSchema(v)]));
  }
  if (typeof s.additionalProperties === "object") out["additionalProperties"] = toAjvSchema(s.additionalProperties);
  else if (s.additionalProperties === false) out["additionalProperties"] = false;
  if (s.items !== undefined) out["items"] = toAjvSchema(s.items);
  for (const key of ["allOf", "anyOf", "oneOf"] as const) {
    const list = s[key];
    if (list !== undefined) out[key] = list.map(toAjvSchema);
  }
  if (s.not !== undefined) out["not"] = toAjvSchema(s.not);
  // A nullable node accepts null and skips every other check for it.
  if (s.nullable === true) return { if: { type: "null" }, then: true, else: out };
  return out;
}

const ajv = new Ajv({
  allErrors: true,
  verbose: true,
  strict: false,
  unicodeRegExp: false,
  validateFormats: true,
  formats: formatCheckers,
});

const compiled = new WeakMap<JSONSchemaProps, ValidateFunction>();

function validatorFor(schema: JSONSchemaProps): ValidateFunction {
  let v = compiled.get(schema);
  if (v === undefined) {
    v = ajv.compile(toAjvSchema(schema));
    compiled.set(schema, v);
  }
  return v;
}

/** Renders an ajv JSON pointer as a field path, using the data to tell list indexes from keys. */
function pathOf(pointer: string, root: unknown): FieldPath {
  let path = FieldPath.root();
  let node: unknown = root;
  if (pointer === "") return path;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) {
      const i = Number(seg);
      path = path.index(i);
      node = node[i];
    } else {
      path = path.child(seg);
      node = typeof node === "object" && node !== null ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

function jsonTypeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

const num = (v: unknown): string => (typeof v === "number" ? goNumber(v) : String(v));

function translate(e: ErrorObject, root: unknown): FieldError | undefined {
  const path = pathOf(e.instancePath, root);
  const name = path.isRoot() ? "" : path.toString();
  const p = e.params as Record<string, unknown>;
  const data: unknown = e.data;
  const say = (msg: string) => `${name} in body ${msg}`;
  switch (e.keyword) {
    case "if":
      return undefined;
    case "required":
      return fieldErrors.required(path.child(String(p["missingProperty"])));
    case "type": {
      const wanted = Array.isArray(p["type"]) ? (p["type"] as unknown[]).join(",") : String(p["type"]);
      const actual = jsonTypeName(data);
      return fieldErrors.typeInvalid(path, actual, say(`must be of type ${wanted}: ${JSON.stringify(actual)}`));
    }
    case "format":
      return fieldErrors.typeInvalid(path, data, say(`must be of type ${String(p["format"])}: ${JSON.stringify(data)}`));
    case "enum": {
      const allowed = (p["allowedValues"] as unknown[]).map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
      return fieldErrors.notSupported(path, data, allowed);
    }
    case "maxLength":
      return fieldErrors.tooLong(path, data, Number(p["limit"]));
    case "maxItems":
      return fieldErrors.tooMany(path, Array.isArray(data) ? data.length : -1, Number(p["limit"]));
    case "maxProperties":
      return fieldErrors.tooMany(path, typeof data === "object" && data !== null ? Object.keys(data).length : -1, Number(p["limit"]));
    case "minimum":
      return fieldErrors.invalid(path, data, say(`should be greater than or equal to ${num(p["limit"])}`));
    case "exclusiveMinimum":
      return fieldErrors.invalid(path, data, say(`should be greater than ${num(p["limit"])}`));
    case "maximum":
      return fieldErrors.invalid(path, data, say(`should be less than or equal to ${num(p["limit"])}`));
    case "exclusiveMaximum":
      return fieldErrors.invalid(path, data, say(`should be less than ${num(p["limit"])}`));
    case "multipleOf":
      return fieldErrors.invalid(path, data, say(`should be a multiple of ${num(p["multipleOf"])}`));
    case "minLength":
      return fieldErrors.invalid(path, data, say(`should be at least ${num(p["limit"])} chars long`));
    case "pattern":
      return fieldErrors.invalid(path, data, say(`should match '${String(p["pattern"])}'`));
    case "minItems":
      return fieldErrors.invalid(path, data, say(`should have at least ${num(p["limit"])} items`));
    case "uniqueItems":
      return fieldErrors.invalid(path, "", say("shouldn't contain duplicates"));
    case "minProperties":
      return fieldErrors.invalid(path, data, say(`should have at least ${num(p["limit"])} properties`));
    case "additionalProperties":
      return fieldErrors.invalid(path, String(p["additionalProperty"]), `${name}.${String(p["additionalProperty"])} in body is a forbidden property`);
    case "anyOf":
      return fieldErrors.invalid(FieldPath.root(), "", `${name} in body must validate at least one schema (anyOf)`);
    case "oneOf":
      return fieldErrors.invalid(FieldPath.root(), "", `${name} in body must validate one and only one schema (oneOf)`);
    case "not":
      return fieldErrors.invalid(FieldPath.root(), "", `${name} in body must not validate the schema (not)`);
    default:
      return fieldErrors.invalid(path, data, say(e.message ?? e.keyword));
  }
}

/** Validates a whole (pruned, defaulted) object against the CRD's openAPIV3Schema. */
export function structuralErrors(schema: JSONSchemaProps, obj: unknown): FieldError[] {
  const validate = validatorFor(schema);
  if (validate(obj)) return [];
  return (validate.errors ?? []).flatMap((e) => translate(e, obj) ?? []);
}
