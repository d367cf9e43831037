// zod issues spelled the way the Kubernetes API server spells field errors
// ("spec.filter.interfaces[0]: ..."), so a DropTrace the controller refuses reads
// like one the API server refused.
import type { z } from "zod";

export interface FieldError {
  field: string;
  message: string;
}

export function fieldPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

export function fieldErrors(error: z.ZodError, base = ""): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: fieldPath(base, [...issue.path, key]),
        message: "unknown field",
      }));
    }
    return [{ field: fieldPath(base, issue.path), message: issue.message }];
  });
}

/** One line per field, for a condition message or a CLI error. */
export function describeFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field === "" ? "(object)" : e.field}: ${e.message}`).join("; ");
}
