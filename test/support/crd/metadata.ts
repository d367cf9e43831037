// ObjectMeta validation shared by every kind (apimachinery's ValidateObjectMeta): name, labels,
// annotations and owner references, with the real server's messages.
import { fieldErrors, FieldPath, type FieldError } from "./field-error.js";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const dns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const subdomainRe = new RegExp(`^${dns1123SubdomainFmt}$`);
const labelRe = new RegExp(`^${dns1123LabelFmt}$`);
const qualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const labelValueFmt = `(${qualifiedNameFmt})?`;

export function dns1123SubdomainMessages(value: string): string[] {
  const msgs: string[] = [];
  if (value.length > 253) msgs.push("must be no more than 253 characters");
  if (!subdomainRe.test(value)) {
    msgs.push(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${dns1123SubdomainFmt}')`,
    );
  }
  return msgs;
}

export function dns1123LabelMessages(value: string): string[] {
  const msgs: string[] = [];
  if (value.length > 63) msgs.push("must be no more than 63 characters");
  if (!labelRe.test(value)) {
    msgs.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${dns1123LabelFmt}')`,
    );
  }
  return msgs;
}

function qualifiedNameMessages(value: string): string[] {
  const parts = value.split("/");
  let name = value;
  const msgs: string[] = [];
  if (parts.length === 2) {
    const [prefix, rest] = parts as [string, string];
    name = rest;
    if (prefix.length === 0) msgs.push("prefix part must be non-empty");
    else msgs.push(...dns1123SubdomainMessages(prefix).map((m) => `prefix part ${m}`));
  } else if (parts.length > 2) {
    return [
      `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${qualifiedNameFmt}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) msgs.push("name part must be non-empty");
  else if (name.length > 63) msgs.push("name part must be no more than 63 characters");
  if (name.length > 0 && !new RegExp(`^${qualifiedNameFmt}$`).test(name)) {
    msgs.push(
      `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${qualifiedNameFmt}')`,
    );
  }
  return msgs;
}

function labelValueMessages(value: string): string[] {
  const msgs: string[] = [];
  if (value.length > 63) msgs.push("must be no more than 63 characters");
  if (!new RegExp(`^${labelValueFmt}$`).test(value)) {
    msgs.push(
      `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '${labelValueFmt}')`,
    );
  }
  return msgs;
}

export type NameValidator = (name: string) => string[];

/** apimachinery's maskTrailingDash, quirk included: a prefix ending in "-" loses its last two characters to an "a". */
const maskTrailingDash = (name: string): string => (name.length > 1 && name.endsWith("-") ? `${name.slice(0, -2)}a` : name);

/** metadata.name (or generateName), labels, annotations and ownerReferences. */
export function validateObjectMeta(meta: unknown, nameMessages: NameValidator = dns1123SubdomainMessages): FieldError[] {
  const path = FieldPath.of("metadata");
  if (!isRecord(meta)) return [fieldErrors.required(path.child("name"), "name or generateName is required")];
  const errs: FieldError[] = [];
  const name = meta["name"];
  const generateName = meta["generateName"];
  if (typeof generateName === "string" && generateName !== "") {
    for (const m of nameMessages(maskTrailingDash(generateName))) {
      errs.push(fieldErrors.invalid(path.child("generateName"), generateName, m));
    }
  }
  if (typeof name !== "string" || name === "") {
    if (typeof generateName !== "string" || generateName === "") {
      errs.push(fieldErrors.required(path.child("name"), "name or generateName is required"));
    }
  } else {
    for (const m of nameMessages(name)) errs.push(fieldErrors.invalid(path.child("name"), name, m));
  }
  const labels = meta["labels"];
  if (isRecord(labels)) {
    for (const [k, v] of Object.entries(labels)) {
      for (const m of qualifiedNameMessages(k)) errs.push(fieldErrors.invalid(path.child("labels"), k, m));
      if (typeof v !== "string") errs.push(fieldErrors.invalid(path.child("labels"), v, "label values must be strings"));
      else for (const m of labelValueMessages(v)) errs.push(fieldErrors.invalid(path.child("labels"), v, m));
    }
  }
  const annotations = meta["annotations"];
  if (isRecord(annotations)) {
    let size = 0;
    for (const [k, v] of Object.entries(annotations)) {
      for (const m of qualifiedNameMessages(k.toLowerCase())) errs.push(fieldErrors.invalid(path.child("annotations"), k, m));
      size += k.length + (typeof v === "string" ? Buffer.byteLength(v) : 0);
    }
    if (size > 256 * 1024) errs.push(fieldErrors.tooLong(path.child("annotations"), "", 256 * 1024));
  }
  const refs = meta["ownerReferences"];
  if (Array.isArray(refs)) {
    const refPath = path.child("ownerReferences");
    let controllers = 0;
    for (const ref of refs) {
      if (!isRecord(ref)) continue;
      if (typeof ref["apiVersion"] !== "string" || ref["apiVersion"] === "") {
        errs.push(fieldErrors.invalid(refPath.child("apiVersion"), ref["apiVersion"] ?? "", "version must not be empty"));
      }
      if (typeof ref["kind"] !== "string" || ref["kind"] === "") {
        errs.push(fieldErrors.invalid(refPath.child("kind"), ref["kind"] ?? "", "kind must not be empty"));
      }
      if (typeof ref["name"] !== "string" || ref["name"] === "") {
        errs.push(fieldErrors.invalid(refPath.child("name"), ref["name"] ?? "", "name must not be empty"));
      }
      if (typeof ref["uid"] !== "string" || ref["uid"] === "") {
        errs.push(fieldErrors.invalid(refPath.child("uid"), ref["uid"] ?? "", "uid must not be empty"));
      }
      if (ref["controller"] === true) controllers++;
    }
    if (controllers > 1) {
      errs.push(fieldErrors.invalid(refPath, refs, "Only one reference can have Controller set to true."));
    }
  }
  return errs;
}
