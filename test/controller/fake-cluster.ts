// A cluster in memory for the reconciler: its reads (TraceSource) and its writes
// (ClusterWriter), with the cache catching up on every write at once. Every write is recorded
// in order, so a test asserts exactly what one reconcile did (cert-manager's controller tests do
// the same with a recording fake), and the merge benchmark counts them. A write can be made to
// fail the way the API server fails it: `failNext`.
import { ApiException, type CoreV1Event, type KubernetesObject, type V1DaemonSet } from "@kubernetes/client-node";
import type { DropTraceSpec, DropTraceStatus } from "../../src/api/droptrace.js";
import { StatusConflictError, type ClusterWriter } from "../../src/controller/cluster-writer.js";
import { desiredDaemonSet, type AgentPodSettings } from "../../src/controller/daemonset.js";
import type { TraceSource } from "../../src/controller/reconciler.js";
import type { AgentPodView, DaemonSetEventView } from "../../src/controller/status/agent-start.js";
import type { ReportView } from "../../src/controller/status/report-view.js";
import { model, type Plain } from "../../src/kube/api.js";

/** A DropTrace as the informer cache holds it: plain JSON. */
interface PlainTrace {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid: string; generation: number; resourceVersion: string; creationTimestamp: string };
  spec: unknown;
  status?: DropTraceStatus;
}

export type Write =
  | { verb: "createDaemonSet"; name: string }
  | { verb: "replaceDaemonSet"; name: string }
  | { verb: "deleteDaemonSet"; name: string }
  | { verb: "writeStatus"; trace: string; status: DropTraceStatus }
  | { verb: "deleteTrace"; trace: string }
  | { verb: "recordEvent"; type: string; reason: string; message: string };

type Verb = Write["verb"];

/** What KubeClusterWriter throws when the API server answers `code` with this Status message: its own error, caused by client-node's. */
export function apiError(code: number, message: string, what = "the call"): Error {
  const body = JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: code === 422 ? "Invalid" : "Unknown",
    code,
  });
  return new Error(`${what} failed`, { cause: new ApiException(code, `HTTP-Code: ${code}`, body, {}) });
}

export class FakeCluster implements TraceSource, ClusterWriter {
  readonly writes: Write[] = [];
  readonly #reports = new Map<string, ReportView>();
  readonly #pods = new Map<string, AgentPodView>();
  readonly #events: DaemonSetEventView[] = [];
  readonly #failures: { verb: Verb; error: Error }[] = [];
  readonly #settings: AgentPodSettings;
  #trace: PlainTrace | undefined;
  #daemonSet: V1DaemonSet | undefined;
  #resourceVersion = 1;

  /**
   * One DropTrace `name`. With `desiredNodes`, its DaemonSet is already there, counted by its
   * controller (what the merge benchmark wants: no DaemonSet writes); without, it is created by
   * the reconciler like on a cluster.
   */
  constructor(
    readonly name: string,
    spec: DropTraceSpec | Record<string, unknown>,
    settings: AgentPodSettings,
    desiredNodes?: number,
    readonly nowMs: () => number = Date.now,
  ) {
    this.#settings = settings;
    this.#trace = {
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTrace",
      metadata: { name, uid: `uid-${name}`, generation: 1, resourceVersion: "1", creationTimestamp: new Date(nowMs()).toISOString() },
      spec,
    };
    if (desiredNodes !== undefined) {
      this.#daemonSet = this.#stored(desiredDaemonSet({ name, uid: `uid-${name}`, spec: spec as DropTraceSpec }, settings));
      this.setDaemonSetStatus({ desired: desiredNodes, current: desiredNodes });
    }
  }

  // ---- the world a test sets up

  setReport(view: ReportView): void {
    this.#reports.set(view.node, view);
  }

  /** The DaemonSet controller's counts, as its status says them (observedGeneration set: counted). */
  setDaemonSetStatus(counts: { desired: number; current: number; ready?: number }): void {
    if (this.#daemonSet === undefined) throw new Error("no DaemonSet yet: reconcile first");
    const ds = JSON.parse(JSON.stringify(this.#daemonSet)) as Plain<V1DaemonSet>;
    this.#daemonSet = model<V1DaemonSet>({
      ...ds,
      status: {
        observedGeneration: 1,
        desiredNumberScheduled: counts.desired,
        currentNumberScheduled: counts.current,
        numberMisscheduled: 0,
        numberReady: counts.ready ?? 0,
      },
    });
  }

  setPod(node: string, problem?: AgentPodView["problem"]): void {
    this.#pods.set(node, {
      metadata: { name: `droptrace-${this.name}-${node}`, namespace: this.#settings.namespace },
      traceLabel: this.name,
      daemonSetUid: this.#daemonSet?.metadata?.uid,
      node,
      problem,
    });
  }

  /** A FailedCreate Warning the DaemonSet controller recorded about the trace's DaemonSet. */
  addFailedCreate(message: string): void {
    const ds = this.#daemonSet;
    if (ds?.metadata?.name === undefined) throw new Error("no DaemonSet yet: reconcile first");
    this.#events.push({
      metadata: { name: `ev-${this.#events.length}`, namespace: this.#settings.namespace },
      daemonSet: ds.metadata.name,
      daemonSetUid: ds.metadata.uid,
      message,
    });
  }

  /** The next call of `verb` fails with `error` (apiError() for an API server's answer). */
  failNext(verb: Verb, error: Error): void {
    this.#failures.push({ verb, error });
  }

  get status(): DropTraceStatus | undefined {
    return this.#trace?.status;
  }

  get daemonSetObject(): V1DaemonSet | undefined {
    return this.#daemonSet;
  }

  /** Counts of writes by kind, for the benchmark. */
  get calls(): { statusWrites: number; daemonSetWrites: number; events: number; other: number } {
    const count = (...verbs: Verb[]) => this.writes.filter((w) => verbs.includes(w.verb)).length;
    return {
      statusWrites: count("writeStatus"),
      daemonSetWrites: count("createDaemonSet", "replaceDaemonSet", "deleteDaemonSet"),
      events: count("recordEvent"),
      other: count("deleteTrace"),
    };
  }

  /** The writes made since the last call, and forgets them: one reconcile's writes. */
  takeWrites(): Write[] {
    return this.writes.splice(0);
  }

  // ---- TraceSource

  trace(name: string): KubernetesObject | undefined {
    return name === this.name ? (this.#trace as KubernetesObject | undefined) : undefined;
  }

  reportsOf(): readonly ReportView[] {
    return [...this.#reports.values()];
  }

  daemonSet(): V1DaemonSet | undefined {
    return this.#daemonSet;
  }

  agentPods(_trace: string, daemonSetUid: string): readonly AgentPodView[] {
    return [...this.#pods.values()].filter((p) => p.daemonSetUid === daemonSetUid);
  }

  daemonSetEvents(name: string, uid: string): readonly DaemonSetEventView[] {
    return this.#events.filter((e) => e.daemonSet === name && e.daemonSetUid === uid);
  }

  // ---- ClusterWriter

  createDaemonSet(daemonSet: V1DaemonSet): Promise<"created" | "exists"> {
    this.#fail("createDaemonSet");
    this.writes.push({ verb: "createDaemonSet", name: daemonSet.metadata?.name ?? "" });
    if (this.#daemonSet !== undefined) return Promise.resolve("exists");
    this.#daemonSet = this.#stored(daemonSet);
    return Promise.resolve("created");
  }

  replaceDaemonSet(daemonSet: V1DaemonSet): Promise<void> {
    this.#fail("replaceDaemonSet");
    this.writes.push({ verb: "replaceDaemonSet", name: daemonSet.metadata?.name ?? "" });
    this.#daemonSet = this.#stored(daemonSet);
    return Promise.resolve();
  }

  deleteDaemonSet(name: string): Promise<void> {
    this.#fail("deleteDaemonSet");
    this.writes.push({ verb: "deleteDaemonSet", name });
    this.#daemonSet = undefined;
    return Promise.resolve();
  }

  writeStatus(_trace: KubernetesObject, resourceVersion: string | undefined, status: DropTraceStatus): Promise<string | undefined> {
    this.#fail("writeStatus");
    const trace = this.#trace;
    if (trace === undefined) return Promise.reject(new Error("no such DropTrace"));
    // Conditional on the resourceVersion, as the API server's update is.
    if (resourceVersion !== trace.metadata.resourceVersion) {
      return Promise.reject(
        new StatusConflictError(
          `DropTrace ${trace.metadata.name} changed before its status was written (${String(resourceVersion)} is not ${trace.metadata.resourceVersion})`,
        ),
      );
    }
    this.writes.push({ verb: "writeStatus", trace: trace.metadata.name, status });
    this.#resourceVersion += 1;
    const metadata = { ...trace.metadata, resourceVersion: String(this.#resourceVersion) };
    // As the API server stores it: JSON, no undefined-valued keys.
    this.#trace = { ...trace, metadata, status: JSON.parse(JSON.stringify(status)) as DropTraceStatus };
    return Promise.resolve(metadata.resourceVersion);
  }

  deleteTrace(name: string): Promise<void> {
    this.#fail("deleteTrace");
    this.writes.push({ verb: "deleteTrace", trace: name });
    this.#trace = undefined;
    return Promise.resolve();
  }

  recordEvent(event: CoreV1Event): Promise<"ok" | "exists"> {
    this.#fail("recordEvent");
    this.writes.push({ verb: "recordEvent", type: event.type ?? "", reason: event.reason ?? "", message: event.message ?? "" });
    return Promise.resolve("ok");
  }

  #fail(verb: Verb): void {
    const at = this.#failures.findIndex((f) => f.verb === verb);
    if (at === -1) return;
    const [failure] = this.#failures.splice(at, 1);
    if (failure !== undefined) throw failure.error;
  }

  /** As the API server stores a new DaemonSet: uid, creation time, generation, a status nobody counted yet. */
  #stored(daemonSet: V1DaemonSet): V1DaemonSet {
    const ds = JSON.parse(JSON.stringify(daemonSet)) as Plain<V1DaemonSet>;
    return model<V1DaemonSet>({
      ...ds,
      metadata: { ...ds.metadata, uid: `ds-uid-${this.name}`, generation: 1, creationTimestamp: new Date(this.nowMs()) },
      status: { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 },
    });
  }
}
