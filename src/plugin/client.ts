// The plugin's only access to the cluster: create, read and delete DropTraces and list their
// reports, with the user's own credentials. Every answer is checked against the API's schemas,
// and every refusal explained (errors.ts).
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { z } from "zod";
import { API_VERSION, DROPTRACE, DROPTRACE_REPORT, GROUP, LABELS, VERSION } from "../api/constants.js";
import { DropTraceSchema, DropTraceSpecSchema } from "../api/droptrace.js";
import { describeFieldErrors, fieldErrors } from "../api/field-errors.js";
import { labelValue } from "../api/names.js";
import { DropTraceReportSchema, type DropTraceReport } from "../api/report.js";
import { explainApiError, PluginError, type Attempt } from "./errors.js";
import { loadKubeConfig, serverOf, type KubeConfigFlags } from "./kubeconfig.js";

/**
 * A DropTrace as the plugin reads it: the status whole, of the spec what it shows. The API
 * server validated the spec; the one rule it cannot afford (node-selector keys) the controller
 * judges, and a trace it failed for that must still be readable here.
 */
export const TraceSchema = DropTraceSchema.extend({
  spec: z.looseObject({ duration: DropTraceSpecSchema.shape.duration, topN: DropTraceSpecSchema.shape.topN }),
});
export type Trace = z.infer<typeof TraceSchema>;

/** What `trace` asks for: a name, or a prefix the API server completes (generateName). */
export type NewTrace = { name: string } | { generateName: string };

/** A laptop's clock may be off; under this, the difference is the Date header's rounding. */
const CLOCK_SKEW_TOLERANCE_MS = 2_000;

export class DropTraces {
  readonly #api: CustomObjectsApi;
  readonly #server: string;
  #clockOffsetMs = 0;

  constructor(kc: KubeConfig) {
    this.#api = kc.makeApiClient(CustomObjectsApi);
    this.#server = serverOf(kc);
  }

  async create(metadata: NewTrace, spec: Record<string, unknown>): Promise<Trace> {
    const body = { apiVersion: API_VERSION, kind: DROPTRACE.kind, metadata, spec };
    const name = "name" in metadata ? metadata.name : undefined;
    const created = await this.#call({ verb: "create", resource: DROPTRACE.plural, name }, () =>
      this.#api.createClusterCustomObjectWithHttpInfo({ group: GROUP, version: VERSION, plural: DROPTRACE.plural, body }),
    );
    this.#readClock(created.headers);
    return parse(TraceSchema, created.data, "DropTrace");
  }

  async get(name: string): Promise<Trace> {
    const found = await this.#call({ verb: "get", resource: DROPTRACE.plural, name }, () =>
      this.#api.getClusterCustomObjectWithHttpInfo({ group: GROUP, version: VERSION, plural: DROPTRACE.plural, name }),
    );
    this.#readClock(found.headers);
    return parse(TraceSchema, found.data, "DropTrace");
  }

  /**
   * Now on the API server's clock, as far as its Date headers tell: elapsed and remaining times
   * count from the status's times, which the controller wrote by that clock, not the laptop's.
   */
  serverNow(): number {
    return Date.now() + this.#clockOffsetMs;
  }

  #readClock(headers: Record<string, string>): void {
    const serverMs = Date.parse(headers["date"] ?? "");
    if (Number.isNaN(serverMs)) return;
    const offset = serverMs - Date.now();
    this.#clockOffsetMs = Math.abs(offset) > CLOCK_SKEW_TOLERANCE_MS ? offset : 0;
  }

  async delete(name: string): Promise<void> {
    await this.#call({ verb: "delete", resource: DROPTRACE.plural, name }, () =>
      this.#api.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE.plural, name }),
    );
  }

  /** The trace's reports, one per node that wrote one. */
  async reports(trace: string): Promise<DropTraceReport[]> {
    const list = (await this.#call({ verb: "list", resource: DROPTRACE_REPORT.plural }, () =>
      this.#api.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: DROPTRACE_REPORT.plural,
        labelSelector: `${LABELS.trace}=${labelValue(trace)}`,
      }),
    )) as { items?: unknown[] };
    // The label is cut to 63 characters: a long name's label may be another trace's too.
    return (list.items ?? []).map((item) => parse(DropTraceReportSchema, item, "DropTraceReport")).filter((r) => r.spec.trace === trace);
  }

  async #call<T>(attempt: Omit<Attempt, "server">, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw explainApiError(err, { ...attempt, server: this.#server });
    }
  }
}

/** The cluster the flags (or kubectl's defaults) name, with the user's credentials. */
export function connect(flags: KubeConfigFlags): DropTraces {
  return new DropTraces(loadKubeConfig(flags));
}

/** An object from the API server as this plugin's schemas say; a newer operator's may not be. */
function parse<S extends z.ZodType>(schema: S, value: unknown, kind: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const name = (value as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
  throw new PluginError(
    `the ${kind} ${typeof name === "string" ? `"${name}" ` : ""}does not match the API this kubectl-droptrace knows (${describeFieldErrors(fieldErrors(parsed.error))}): ` +
      `use the kubectl-droptrace of the droptrace version installed in the cluster`,
  );
}
