// A cluster in memory for the benchmark: the reconciler's reads (TraceSource) and writes
// (ClusterWriter), with the cache catching up on every write at once and every call counted.
import type { CoreV1Event, KubernetesObject, V1DaemonSet } from "@kubernetes/client-node";
import type { DropTraceSpec, DropTraceStatus } from "../../src/api/droptrace.js";
import type { ClusterWriter } from "../../src/controller/cluster-writer.js";
import { desiredDaemonSet, type AgentPodSettings } from "../../src/controller/daemonset.js";
import type { TraceSource } from "../../src/controller/reconciler.js";
import type { ReportView } from "../../src/controller/status/report-view.js";
import { model, type Plain } from "../../src/kube/api.js";

/** A DropTrace as the informer cache holds it: plain JSON. */
interface PlainTrace {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid: string; generation: number; resourceVersion: string };
  spec: DropTraceSpec;
  status?: DropTraceStatus;
}

export class FakeCluster implements TraceSource, ClusterWriter {
  readonly calls = { statusWrites: 0, daemonSetWrites: 0, events: 0, other: 0 };
  readonly #reports = new Map<string, ReportView>();
  #trace: PlainTrace;
  #resourceVersion = 1;
  readonly #daemonSet: V1DaemonSet;

  constructor(
    readonly name: string,
    spec: DropTraceSpec,
    settings: AgentPodSettings,
    desiredNodes: number,
  ) {
    this.#trace = { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name, uid: `uid-${name}`, generation: 1, resourceVersion: "1" }, spec };
    // The DaemonSet as the cache would hold it once its controller counted the nodes: no DaemonSet writes needed.
    const ds = JSON.parse(JSON.stringify(desiredDaemonSet({ name, uid: `uid-${name}`, spec }, settings))) as Plain<V1DaemonSet>;
    this.#daemonSet = model<V1DaemonSet>({ ...ds, status: { currentNumberScheduled: desiredNodes, desiredNumberScheduled: desiredNodes, numberMisscheduled: 0, numberReady: desiredNodes } });
  }

  setReport(view: ReportView): void {
    this.#reports.set(view.node, view);
  }

  get status(): DropTraceStatus | undefined {
    return this.#trace.status;
  }

  trace(name: string): KubernetesObject | undefined {
    return name === this.name ? this.#trace : undefined;
  }

  reportsOf(): readonly ReportView[] {
    return [...this.#reports.values()];
  }

  daemonSet(): V1DaemonSet | undefined {
    return this.#daemonSet;
  }

  createDaemonSet(): Promise<"created" | "exists"> {
    this.calls.daemonSetWrites += 1;
    return Promise.resolve("created");
  }

  replaceDaemonSet(): Promise<void> {
    this.calls.daemonSetWrites += 1;
    return Promise.resolve();
  }

  deleteDaemonSet(): Promise<void> {
    this.calls.daemonSetWrites += 1;
    return Promise.resolve();
  }

  writeStatus(_trace: KubernetesObject, status: DropTraceStatus): Promise<string | undefined> {
    this.calls.statusWrites += 1;
    this.#resourceVersion += 1;
    const metadata = { ...this.#trace.metadata, resourceVersion: String(this.#resourceVersion) };
    // Like the cache catching up with the write at once.
    this.#trace = { ...this.#trace, metadata, status };
    return Promise.resolve(metadata.resourceVersion);
  }

  deleteTrace(): Promise<void> {
    this.calls.other += 1;
    return Promise.resolve();
  }

  recordEvent(_event: CoreV1Event): Promise<"ok" | "exists"> {
    this.calls.events += 1;
    return Promise.resolve("ok");
  }

  agentPodNodes(): Promise<string[]> {
    this.calls.other += 1;
    return Promise.resolve([]);
  }
}
