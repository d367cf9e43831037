// metav1.Status bodies as the real API server writes them (k8s.io/apimachinery/pkg/api/errors).
import { aggregateMessage, errorText, toCause, type FieldError } from "../crd/field-error.js";
import type { FieldCause } from "../crd/types.js";
import { qualifiedKind, qualifiedResource, type ResourceType } from "./types.js";

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: Partial<FieldCause>[]; retryAfterSeconds?: number };
  code?: number;
}

/** An error answered with a Status body. */
export class ApiError extends Error {
  constructor(
    readonly status: StatusBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(status.message);
  }
}

function failure(code: number, reason: string, message: string, details?: StatusBody["details"]): StatusBody {
  // Key order as the real server serializes a Status: details before code.
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details === undefined ? {} : { details }), code };
}

const detailsFor = (rt: ResourceType, name: string) => {
  const d: NonNullable<StatusBody["details"]> = { name, kind: rt.plural };
  if (rt.group !== "") d.group = rt.group;
  return d;
};

export const statusErrors = {
  notFound: (rt: ResourceType, name: string) => new ApiError(failure(404, "NotFound", `${qualifiedResource(rt)} "${name}" not found`, detailsFor(rt, name))),
  namespaceNotFound: (ns: string) => new ApiError(failure(404, "NotFound", `namespaces "${ns}" not found`, { name: ns, kind: "namespaces" })),
  namespaceTerminating: (rt: ResourceType, name: string, ns: string) =>
    new ApiError(
      failure(
        403,
        "Forbidden",
        `${qualifiedResource(rt)} "${name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        detailsFor(rt, name),
      ),
    ),
  alreadyExists: (rt: ResourceType, name: string) =>
    new ApiError(failure(409, "AlreadyExists", `${qualifiedResource(rt)} "${name}" already exists`, detailsFor(rt, name))),
  conflict: (rt: ResourceType, name: string, why: string) =>
    new ApiError(failure(409, "Conflict", `Operation cannot be fulfilled on ${qualifiedResource(rt)} "${name}": ${why}`, detailsFor(rt, name))),
  staleUpdate: (rt: ResourceType, name: string) =>
    statusErrors.conflict(rt, name, "the object has been modified; please apply your changes to the latest version and try again"),
  invalid: (rt: ResourceType, name: string, errs: FieldError[]) => {
    const message =
      errs.length === 0 ? `${qualifiedKind(rt)} "${name}" is invalid` : `${qualifiedKind(rt)} "${name}" is invalid: ${aggregateMessage(errs.map(errorText))}`;
    const details: NonNullable<StatusBody["details"]> = { name, kind: rt.kind, causes: errs.map(toCause) };
    if (rt.group !== "") details.group = rt.group;
    return new ApiError(failure(422, "Invalid", message, details));
  },
  /** errors.NewInvalid(schema.GroupKind{}, "", errs): what a patch that cannot be decoded answers */
  invalidPatch: (err: FieldError) => new ApiError(failure(422, "Invalid", ` "" is invalid: ${errorText(err)}`, { causes: [toCause(err)] })),
  /** a ListOptions validation error (metainternalversion validation) */
  invalidListOptions: (field: string, detail: string) =>
    new ApiError(
      failure(422, "Invalid", `ListOptions.meta.k8s.io "" is invalid: ${field}: Forbidden: ${detail}`, {
        group: "meta.k8s.io",
        kind: "ListOptions",
        causes: [{ reason: "FieldValueForbidden", message: `Forbidden: ${detail}`, field }],
      }),
    ),
  badRequest: (message: string) => new ApiError(failure(400, "BadRequest", message)),
  unprocessable: (serverMessage: string) =>
    new ApiError(
      failure(422, "Invalid", "the server rejected our request due to an error in our request", {
        causes: [{ reason: "UnexpectedServerResponse", message: serverMessage }],
      }),
    ),
  methodNotAllowed: () => new ApiError(failure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")),
  pathNotFound: () => new ApiError(failure(404, "NotFound", "the server could not find the requested resource", {})),
  unsupportedMediaType: (contentType: string, accepted: string[], note = "") =>
    new ApiError(
      failure(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}${note}`,
        contentType === "" ? undefined : { kind: contentType },
      ),
    ),
  expired: (message: string) => new ApiError(failure(410, "Expired", message)),
  tooLarge: (message: string) => new ApiError(failure(413, "RequestEntityTooLarge", message)),
  /** etcd's request limit (1.5 MiB by default), passed through as the real server does: a bare 500 */
  etcdTooLarge: () =>
    new ApiError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "etcdserver: request is too large", code: 500 }),
  internal: (message: string) => new ApiError(failure(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] })),
};

/** A Status for an injected fault, shaped as the real server would answer that code. */
export function faultStatus(code: number, message?: string): ApiError {
  switch (code) {
    case 409:
      return new ApiError(failure(409, "Conflict", message ?? "Operation cannot be fulfilled: injected conflict"));
    case 429:
      return new ApiError(failure(429, "TooManyRequests", message ?? "Too many requests, please try again later.", { retryAfterSeconds: 1 }), {
        "Retry-After": "1",
      });
    case 503:
      return new ApiError(failure(503, "ServiceUnavailable", message ?? "the server is currently unable to handle the request"));
    case 504:
      return new ApiError(failure(504, "Timeout", message ?? "the server was unable to return a response in the time allotted"));
    case 500:
      return statusErrors.internal(message ?? "injected fault");
    default:
      return new ApiError(failure(code, "Unknown", message ?? `injected fault ${code}`));
  }
}

export function successStatus(rt: ResourceType, name: string, uid: string | undefined): StatusBody {
  const details: NonNullable<StatusBody["details"]> = { name, kind: rt.plural };
  if (rt.group !== "") details.group = rt.group;
  if (uid !== undefined) details.uid = uid;
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}
