// What `kubectl droptrace` says when the API server says no: each answer a person can act on
// (install the chart, which RBAC verb is missing, the name is taken, the field that is invalid),
// with the API server's own words kept where they are the detail.
import { z } from "zod";
import { GROUP } from "../api/constants.js";
import { EXIT } from "../api/exit-codes.js";
import { apiStatus } from "../kube/api.js";

/**
 * What kind of failure, where a caller acts on it: following a trace, a trace `notFound` was
 * deleted; a `transient` one (no answer, a server error) is worth another try; what is
 * `forbidden` may have a way around (`nodes` without the right to list reports).
 */
export type FailureKind = "notFound" | "forbidden" | "transient";

/** Ends the command with this message on stderr and this exit code. */
export class PluginError extends Error {
  readonly kind: FailureKind | undefined;

  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
    options?: ErrorOptions & { kind?: FailureKind },
  ) {
    super(message, options);
    this.name = "PluginError";
    this.kind = options?.kind;
  }
}

/** The metav1.Status an API server answers a failed request with: the parts read here. */
const StatusSchema = z.looseObject({
  message: z.string().optional(),
  reason: z.string().optional(),
  details: z
    .looseObject({
      name: z.string().optional(),
      causes: z.array(z.looseObject({ field: z.string().optional(), message: z.string().optional(), reason: z.string().optional() })).optional(),
    })
    .optional(),
});
type Status = z.infer<typeof StatusSchema>;

function statusOf(err: unknown): Status {
  const body = (err as { body?: unknown }).body;
  let value: unknown = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body);
    } catch {
      return { message: body };
    }
  }
  const parsed = StatusSchema.safeParse(value);
  return parsed.success ? parsed.data : {};
}

/** What the command was doing when the API server answered. */
export interface Attempt {
  verb: "create" | "get" | "list" | "delete";
  /** droptraces or droptracereports */
  resource: string;
  name?: string | undefined;
  /** the API server's address */
  server: string;
}

/** The error of a failed client-node call, explained. */
export function explainApiError(err: unknown, attempt: Attempt): PluginError {
  const code = apiStatus(err);
  const what = `${attempt.resource}.${GROUP}${attempt.name === undefined ? "" : ` "${attempt.name}"`}`;
  if (code === undefined) {
    const why = err instanceof Error ? err.message : String(err);
    return new PluginError(`cannot reach the API server at ${attempt.server}: ${why}`, EXIT.failed, { cause: err, kind: "transient" });
  }
  const status = statusOf(err);
  const said = status.message ?? `HTTP ${code}`;
  switch (code) {
    case 401:
      return new PluginError(
        `the API server at ${attempt.server} did not accept your credentials (401 Unauthorized): log in again, or check the user of your kubeconfig's context`,
        EXIT.failed,
        { cause: err },
      );
    case 403:
      return new PluginError(
        `you may not ${attempt.verb} ${attempt.resource}.${GROUP}: your user needs the verb "${attempt.verb}" on resource "${attempt.resource}" in API group "${GROUP}", ` +
          `from a ClusterRole (DropTraces and their reports are cluster-scoped); check with \`kubectl auth can-i ${attempt.verb} ${attempt.resource}.${GROUP}\`\n` +
          `  the API server said: ${said}`,
        EXIT.failed,
        { cause: err, kind: "forbidden" },
      );
    case 404:
      // A named object that is missing comes with its name in the Status; a resource the
      // server does not serve (no CRD) with "the server could not find the requested resource".
      if (status.details?.name !== undefined && status.details.name !== "") {
        return new PluginError(`DropTrace "${status.details.name}" not found (\`kubectl get dt\` lists them)`, EXIT.failed, { cause: err, kind: "notFound" });
      }
      return new PluginError(
        `this cluster does not serve ${attempt.resource}.${GROUP}: the droptrace CRDs are not installed. Install the chart: ` +
          `helm install droptrace charts/droptrace -n droptrace-system --create-namespace (see the droptrace README, "Installing")\n` +
          `  the API server said: ${said}`,
        EXIT.failed,
        { cause: err },
      );
    case 409:
      if (status.reason === "AlreadyExists" && attempt.name !== undefined) {
        return new PluginError(
          `a DropTrace named "${attempt.name}" exists already: read it with \`kubectl droptrace get ${attempt.name}\`, ` +
            `delete it with \`kubectl delete dt ${attempt.name}\`, or pick another name (or none, for a generated one)`,
          EXIT.failed,
          { cause: err },
        );
      }
      break;
    case 422: {
      const causes = status.details?.causes ?? [];
      const lines = causes.map((c) => `  ${c.field === undefined || c.field === "" ? "" : `${c.field}: `}${c.message ?? c.reason ?? ""}`);
      return new PluginError(`the API server refused ${what} as invalid:\n${lines.length > 0 ? lines.join("\n") : `  ${said}`}`, EXIT.badArguments, {
        cause: err,
      });
    }
  }
  const transient = code === 429 || code >= 500;
  return new PluginError(`${attempt.verb} ${what} failed: ${said} (HTTP ${code})`, EXIT.failed, {
    cause: err,
    ...(transient ? { kind: "transient" as const } : {}),
  });
}
