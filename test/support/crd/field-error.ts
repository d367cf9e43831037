// Kubernetes' field.Error (k8s.io/apimachinery/pkg/util/validation/field) in TypeScript, so that
// messages and details.causes read exactly as the real API server writes them.
import type { FieldCause } from "./types.js";

export type FieldErrorType =
  | "FieldValueNotFound"
  | "FieldValueRequired"
  | "FieldValueDuplicate"
  | "FieldValueInvalid"
  | "FieldValueNotSupported"
  | "FieldValueForbidden"
  | "FieldValueTooLong"
  | "FieldValueTooMany"
  | "InternalError"
  | "FieldValueTypeInvalid";

const typeText: Record<FieldErrorType, string> = {
  FieldValueNotFound: "Not found",
  FieldValueRequired: "Required value",
  FieldValueDuplicate: "Duplicate value",
  FieldValueInvalid: "Invalid value",
  FieldValueNotSupported: "Unsupported value",
  FieldValueForbidden: "Forbidden",
  FieldValueTooLong: "Too long",
  FieldValueTooMany: "Too many",
  InternalError: "Internal error",
  FieldValueTypeInvalid: "Invalid value",
};

/** A bad value printed as given, unquoted: Go's `%#v` of a typed struct (`rbac.RoleRef{...}`). */
export class GoValue {
  constructor(readonly text: string) {}
}

/** Marks a value that is not printed (Go's omitValue). */
export const omitValue = Symbol("omitValue");

export interface FieldError {
  type: FieldErrorType;
  /** the rendered path; "<nil>" for the root, as Go prints a nil *field.Path */
  field: string;
  badValue: unknown;
  detail: string;
}

/** A field path as Kubernetes renders it: `spec.filter.interfaces[0]`. */
export class FieldPath {
  private constructor(private readonly text: string | undefined) {}
  static root(): FieldPath {
    return new FieldPath(undefined);
  }
  static of(...names: string[]): FieldPath {
    return names.reduce((p, n) => p.child(n), FieldPath.root());
  }
  child(name: string): FieldPath {
    return new FieldPath(this.text === undefined ? name : `${this.text}.${name}`);
  }
  index(i: number): FieldPath {
    return new FieldPath(`${this.text ?? ""}[${i}]`);
  }
  key(k: string): FieldPath {
    return new FieldPath(`${this.text ?? ""}[${k}]`);
  }
  isRoot(): boolean {
    return this.text === undefined;
  }
  toString(): string {
    return this.text ?? "<nil>";
  }
}

const make = (type: FieldErrorType, path: FieldPath, badValue: unknown, detail: string): FieldError => ({
  type,
  field: path.toString(),
  badValue,
  detail,
});

export const fieldErrors = {
  required: (p: FieldPath, detail = "") => make("FieldValueRequired", p, "", detail),
  invalid: (p: FieldPath, value: unknown, detail: string) => make("FieldValueInvalid", p, value, detail),
  typeInvalid: (p: FieldPath, value: unknown, detail: string) => make("FieldValueTypeInvalid", p, value, detail),
  forbidden: (p: FieldPath, detail: string) => make("FieldValueForbidden", p, "", detail),
  duplicate: (p: FieldPath, value: unknown) => make("FieldValueDuplicate", p, value, ""),
  notSupported: (p: FieldPath, value: unknown, valid: string[]) =>
    make("FieldValueNotSupported", p, value, valid.length > 0 ? `supported values: ${valid.map((v) => JSON.stringify(v)).join(", ")}` : ""),
  tooLong: (p: FieldPath, value: unknown, max: number) =>
    make("FieldValueTooLong", p, value, max >= 0 ? `may not be more than ${max} bytes` : "value is too long"),
  tooMany: (p: FieldPath, actual: number, max: number) =>
    make(
      "FieldValueTooMany",
      p,
      actual >= 0 ? actual : omitValue,
      max >= 0 ? `must have at most ${max} ${max === 1 ? "item" : "items"}` : "has too many items",
    ),
};

/** Go's `%#v` of a value decoded from JSON into interface{}, close enough for messages. */
export function goSyntax(value: unknown): string {
  if (value === null || value === undefined) return "interface {}(nil)";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return `[]interface {}{${value.map(goSyntax).join(", ")}}`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[string]interface {}{${entries.map(([k, v]) => `${JSON.stringify(k)}:${goSyntax(v)}`).join(", ")}}`;
  }
  return typeof value === "symbol" ? value.toString() : typeof value;
}

/** Go's `%v` for a float64 or int64 decoded from JSON. */
export function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const m = /^(.*)e([+-])(\d+)$/.exec(String(n));
  if (m === null) return String(n);
  return `${m[1] ?? ""}e${m[2] ?? "+"}${(m[3] ?? "").padStart(2, "0")}`;
}

/** field.Error.ErrorBody(): the cause message, without the field. */
export function errorBody(e: FieldError): string {
  let s: string;
  const text = typeText[e.type];
  if (
    e.type === "FieldValueRequired" ||
    e.type === "FieldValueForbidden" ||
    e.type === "FieldValueTooLong" ||
    e.type === "InternalError" ||
    e.badValue === omitValue
  ) {
    s = text;
  } else {
    const v = e.badValue;
    if (v === null || v === undefined) s = `${text}: "null"`;
    else if (typeof v === "number") s = `${text}: ${goNumber(v)}`;
    else if (typeof v === "boolean" || typeof v === "bigint") s = `${text}: ${String(v)}`;
    else if (typeof v === "string") s = `${text}: ${JSON.stringify(v)}`;
    else if (v instanceof GoValue) s = `${text}: ${v.text}`;
    else s = `${text}: ${goSyntax(v)}`;
  }
  if (e.detail.length > 0) s += `: ${e.detail}`;
  return s;
}

export function errorText(e: FieldError): string {
  return `${e.field}: ${errorBody(e)}`;
}

export function toCause(e: FieldError): FieldCause {
  return { reason: e.type, message: errorBody(e), field: e.field };
}

/** utilerrors.NewAggregate(...).Error(): one message, or `[a, b]`, duplicates removed. */
export function aggregateMessage(messages: string[]): string {
  const unique = [...new Set(messages)];
  if (unique.length === 1) return unique[0] ?? "";
  return `[${unique.join(", ")}]`;
}
