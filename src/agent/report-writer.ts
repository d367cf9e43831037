// Writes this node's DropTraceReport: create it, then replace it every interval. The
// agent is its only writer. Counts are cumulative, so a write that fails is simply
// superseded by the next one: the latest status is kept, retried with capped backoff,
// and nothing is lost as long as one write lands before the agent stops.
import type { Logger } from "pino";
import type { ReportApi } from "./api-requests.js";
import { API_VERSION, DROPTRACE, DROPTRACE_REPORT, GROUP, LABELS, MANAGED_BY, VERSION } from "../api/constants.js";
import { labelValue, reportName } from "../api/names.js";
import { DropTraceReportSchema, type DropTraceReport, type DropTraceReportStatus } from "../api/report.js";
import type { AgentMetrics } from "../api/metrics.js";
import { isConflict, isNotFound } from "../kube/api.js";
import { BackoffTimer, type Backoff } from "../kube/backoff.js";

export interface ReportIdentity {
  trace: string;
  traceUid: string;
  node: string;
}

/** Retries of a report write, and of the first read of an agent's own report. */
export const DEFAULT_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ReportWriter {
  readonly name: string;
  readonly #api: ReportApi;
  readonly #id: ReportIdentity;
  readonly #log: Logger;
  readonly #metrics: AgentMetrics | undefined;
  readonly #backoff: Backoff;
  #resourceVersion: string | undefined;
  #pending: DropTraceReportStatus | undefined;
  #pump: Promise<void> | undefined;

  constructor(api: ReportApi, id: ReportIdentity, log: Logger, options: { metrics?: AgentMetrics; backoff?: Backoff } = {}) {
    this.#api = api;
    this.#id = id;
    this.name = reportName(id.trace, id.node);
    this.#log = log.child({ report: this.name });
    this.#metrics = options.metrics;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /** The report as it is in the cluster now, if there is one: a restarted agent continues from it. */
  async read(): Promise<DropTraceReport | undefined> {
    try {
      const object: unknown = await this.#api.getClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE_REPORT.plural, name: this.name });
      const report = DropTraceReportSchema.parse(object);
      this.#resourceVersion = report.metadata.resourceVersion;
      return report;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new Error(`reading report ${this.name} failed`, { cause: err });
    }
  }

  /** Queues the latest status; a write already in flight is followed by one with this status. */
  submit(status: DropTraceReportStatus): void {
    this.#pending = status;
    this.#pump ??= this.#drain().finally(() => {
      this.#pump = undefined;
    });
  }

  /** Writes the latest status, retrying until it lands or `deadline` (epoch ms) passes. */
  async flush(deadline: number): Promise<boolean> {
    while (Date.now() < deadline) {
      if (this.#pump === undefined && this.#pending === undefined) return true;
      // The timer is cleared once the write lands: left running, it would keep a stopping agent alive until the deadline.
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
      await Promise.race([this.#pump, expired]).finally(() => {
        clearTimeout(timer);
      });
    }
    return this.#pending === undefined && this.#pump === undefined;
  }

  async #drain(): Promise<void> {
    const backoff = new BackoffTimer(this.#backoff);
    while (this.#pending !== undefined) {
      const status = this.#pending;
      try {
        await this.#write(status);
        this.#metrics?.reportWritesTotal.inc({ result: "ok" });
        if (this.#pending === status) this.#pending = undefined;
        backoff.reset();
      } catch (err) {
        this.#metrics?.reportWritesTotal.inc({ result: "error" });
        const delay = backoff.next();
        this.#log.warn({ err, retryInMs: delay }, "report write failed; the next write carries the same cumulative counts");
        await sleep(delay);
      }
    }
  }

  async #write(status: DropTraceReportStatus): Promise<void> {
    const body = this.#object(status);
    if (this.#resourceVersion === undefined) {
      try {
        this.#remember(await this.#api.createClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE_REPORT.plural, body }));
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
        await this.read();
      }
    }
    try {
      this.#remember(
        await this.#api.replaceClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: DROPTRACE_REPORT.plural,
          name: this.name,
          body: { ...body, metadata: { ...body.metadata, resourceVersion: this.#resourceVersion } },
        }),
      );
    } catch (err) {
      // Someone else changed it (or it is gone): learn its current version; the retry writes ours over it.
      if (isConflict(err)) await this.read();
      if (isNotFound(err)) this.#resourceVersion = undefined;
      throw err;
    }
  }

  #remember(object: unknown): void {
    const rv = (object as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
    if (typeof rv === "string") this.#resourceVersion = rv;
  }

  #object(status: DropTraceReportStatus): DropTraceReport {
    return {
      apiVersion: API_VERSION,
      kind: DROPTRACE_REPORT.kind,
      metadata: {
        name: this.name,
        labels: {
          [LABELS.trace]: labelValue(this.#id.trace),
          [LABELS.node]: labelValue(this.#id.node),
          [LABELS.managedBy]: MANAGED_BY,
        },
        ownerReferences: [{ apiVersion: API_VERSION, kind: DROPTRACE.kind, name: this.#id.trace, uid: this.#id.traceUid, blockOwnerDeletion: false }],
      },
      spec: { trace: this.#id.trace, node: this.#id.node },
      status,
    };
  }
}
