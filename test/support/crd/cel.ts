// x-kubernetes-validations: every CEL rule evaluated with @bufbuild/cel, `self` bound to the value
// at the rule's schema node and `oldSelf` to the correlated old value on update. Transition rules
// (those naming oldSelf) are skipped where there is no old value, as the API server does.
import { isCelError, run, type CelInput, type CelValue } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { isDeepStrictEqual } from "node:util";
import { fieldErrors, type FieldError, FieldPath } from "./field-error.js";
import { parseStrfmtDuration } from "./formats.js";
import type { JSONSchemaProps, ValidationRule } from "./types.js";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function celDuration(text: string): CelValue | undefined {
  const nanos = parseStrfmtDuration(text);
  if (nanos === undefined) return undefined;
  const v = run("duration(d)", { d: `${Math.round(nanos)}ns` });
  return isCelError(v) ? undefined : v;
}

function celTimestamp(text: string): CelValue | undefined {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const v = run("timestamp(t)", { t: iso });
  return isCelError(v) ? undefined : v;
}

/** A JSON value as the API server's CEL sees it, typed by its schema node. */
function toCel(value: unknown, schema: JSONSchemaProps | undefined, isResourceRoot = false): CelInput {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") {
    const integral = schema === undefined || schema.type === "integer" || schema["x-kubernetes-int-or-string"] === true;
    return integral && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (typeof value === "string") {
    const format = schema?.format;
    if (format === "duration") return celDuration(value) ?? value;
    if (format === "date-time" || format === "datetime" || format === "date") return celTimestamp(value) ?? value;
    if (format === "byte") return new Uint8Array(Buffer.from(value, "base64"));
    return value;
  }
  if (typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map((item) => toCel(item, schema?.items));
  if (!isRecord(value)) return null;
  const out: Record<string, CelInput> = {};
  const additional = typeof schema?.additionalProperties === "object" ? schema.additionalProperties : undefined;
  const embedded = isResourceRoot || schema?.["x-kubernetes-embedded-resource"] === true;
  for (const [k, v] of Object.entries(value)) {
    if (embedded && k === "metadata" && isRecord(v)) {
      // CEL sees only metadata.name and metadata.generateName of a resource.
      const meta: Record<string, CelInput> = {};
      for (const key of ["name", "generateName"]) if (typeof v[key] === "string") meta[key] = v[key];
      out[k] = meta;
      continue;
    }
    out[k] = toCel(v, schema?.properties?.[k] ?? additional);
  }
  return out;
}

const transition = (rule: ValidationRule) => /\boldSelf\b/.test(rule.rule);

function messageFor(rule: ValidationRule, bindings: Record<string, CelInput>): string {
  if (rule.messageExpression !== undefined) {
    const m = run(rule.messageExpression, bindings, { funcs: strings });
    if (typeof m === "string" && m.trim() !== "" && !m.includes("\n")) return m;
  }
  return rule.message ?? `failed rule: ${rule.rule.trim()}`;
}

/** Appends a rule's relative fieldPath (`.spec.x`, `['a.b']`, `.items[0]`) to the node's path. */
function withFieldPath(path: FieldPath, fieldPath: string | undefined): FieldPath {
  if (fieldPath === undefined || fieldPath === "") return path;
  let p = path;
  for (const m of fieldPath.matchAll(/\.([A-Za-z_][A-Za-z0-9_-]*)|\['([^']*)'\]|\[(\d+)\]/g)) {
    if (m[1] !== undefined) p = p.child(m[1]);
    else if (m[2] !== undefined) p = p.child(m[2]);
    else if (m[3] !== undefined) p = p.index(Number(m[3]));
  }
  return p;
}

function ruleError(rule: ValidationRule, schema: JSONSchemaProps, path: FieldPath, detail: string): FieldError {
  const typeName = schema.type ?? "";
  switch (rule.reason) {
    case "FieldValueForbidden":
      return fieldErrors.forbidden(path, detail);
    case "FieldValueRequired":
      return fieldErrors.required(path, detail);
    case "FieldValueDuplicate":
      return fieldErrors.duplicate(path, typeName);
    default:
      return fieldErrors.invalid(path, typeName, detail);
  }
}

function evaluateRules(value: unknown, old: unknown, schema: JSONSchemaProps, path: FieldPath, isRoot: boolean): FieldError[] {
  const rules = schema["x-kubernetes-validations"] ?? [];
  const errs: FieldError[] = [];
  for (const rule of rules) {
    const needsOld = transition(rule);
    if (needsOld && old === undefined) continue;
    const bindings: Record<string, CelInput> = { self: toCel(value, schema, isRoot) };
    if (needsOld) bindings["oldSelf"] = toCel(old, schema, isRoot);
    const result = run(rule.rule, bindings, { funcs: strings });
    const at = withFieldPath(path, rule.fieldPath);
    if (isCelError(result)) {
      errs.push(fieldErrors.invalid(at, schema.type ?? "", `${result.message} evaluating rule: ${rule.rule.trim()}`));
    } else if (result !== true) {
      errs.push(ruleError(rule, schema, at, messageFor(rule, bindings)));
    }
  }
  return errs;
}

/** Pairs the items of a list-type=map with their old counterparts by key; other lists do not correlate. */
function oldItem(item: unknown, schema: JSONSchemaProps, old: unknown): unknown {
  if (schema["x-kubernetes-list-type"] !== "map" || !Array.isArray(old) || !isRecord(item)) return undefined;
  const keys = schema["x-kubernetes-list-map-keys"] ?? [];
  return old.find((o) => isRecord(o) && keys.every((k) => isDeepStrictEqual(o[k], item[k])));
}

function walk(value: unknown, old: unknown, schema: JSONSchemaProps | undefined, path: FieldPath, isRoot: boolean): FieldError[] {
  if (schema === undefined || value === undefined) return [];
  const errs = evaluateRules(value, old, schema, path, isRoot);
  if (Array.isArray(value)) {
    const items = schema.items;
    value.forEach((item, i) => {
      errs.push(...walk(item, oldItem(item, schema, old), items, path.index(i), false));
    });
    return errs;
  }
  if (!isRecord(value)) return errs;
  const additional = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
  for (const [k, v] of Object.entries(value)) {
    const prop = schema.properties?.[k] ?? additional;
    if (isRoot && k === "metadata") continue;
    errs.push(...walk(v, isRecord(old) ? old[k] : undefined, prop, path.child(k), false));
  }
  return errs;
}

/** Every failing x-kubernetes-validations rule of the object (oldObj undefined on create). */
export function celErrors(schema: JSONSchemaProps, obj: unknown, oldObj: unknown): FieldError[] {
  return walk(obj, oldObj, schema, FieldPath.root(), true);
}
