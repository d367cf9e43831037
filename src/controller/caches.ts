// The controller's view of the cluster: informers (client-node ListWatch) on DropTraces, on
// DropTraceReports (kept in compact form, indexed by trace), and in its namespace on the
// DaemonSets it owns, their agent pods and the DaemonSet controller's FailedCreate Events
// (both compact: why agents do not start). Reconciles read from here, never from the API; every
// change is reported as the name of the DropTrace it concerns.
import { listPages } from "../kube/list-pages.js";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ListWatch,
  makeInformer,
  type KubernetesListObject,
  type KubernetesObject,
  type V1DaemonSet,
  type V1ListMeta,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { z } from "zod";
import { DROPTRACE, DROPTRACE_REPORT, GROUP, VERSION } from "../api/constants.js";
import type { ControllerMetrics } from "../api/metrics.js";
import { REPORT_LIST_PAGE, type ControllerTimings } from "./defaults.js";
import { clusterAddressIndex, type AddressIndex } from "./address-index.js";
import { TransformingWatch } from "../kube/transforming-watch.js";
import { model } from "../kube/api.js";
import { OWNED_DAEMONSET_SELECTOR } from "./daemonset.js";
import { toReportView, StringPool, type ReportView } from "./status/report-view.js";
import { toAgentPodView, toDaemonSetEventView, type AgentPodView, type DaemonSetEventView } from "./status/agent-start.js";
import { labelValue } from "../api/names.js";
import { RestartingInformer, stuckInformers } from "../kube/restarting-informer.js";

const ListEnvelopeSchema = z.object({
  metadata: z.looseObject({ resourceVersion: z.string().optional(), continue: z.string().optional() }).optional(),
  items: z.array(z.unknown()),
});
const NamedSchema = z.looseObject({ metadata: z.looseObject({ name: z.string().min(1) }) });

/** The DaemonSet controller's Events about pods it could not create; the view keeps only FailedCreate warnings. */
const DAEMONSET_EVENTS = "involvedObject.kind=DaemonSet,reason=FailedCreate";

const listMeta = (resourceVersion: string | undefined): V1ListMeta => model<V1ListMeta>(resourceVersion === undefined ? {} : { resourceVersion });

/** A custom resource list as client-node's ListWatch wants it; items without a name are left out. */
function asList(raw: unknown, what: string): KubernetesListObject<KubernetesObject> {
  const list = ListEnvelopeSchema.parse(raw, { error: () => `the API server's ${what} list is not a list` });
  return {
    metadata: listMeta(list.metadata?.resourceVersion),
    items: list.items.filter((item): item is KubernetesObject => NamedSchema.safeParse(item).success),
  };
}

interface CachesOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  timings: ControllerTimings;
  log: Logger;
  metrics: ControllerMetrics;
  /** Called with the name of the DropTrace an object change concerns. */
  onChange: (trace: string) => void;
}

/** The name of the DropTrace that controls an object, from its ownerReferences. */
function controllerOf(object: { metadata?: { ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] } }): string | undefined {
  return object.metadata?.ownerReferences?.find((ref) => ref.controller === true && ref.kind === DROPTRACE.kind)?.name;
}

export class Caches {
  readonly traces: RestartingInformer<KubernetesObject>;
  readonly reports: RestartingInformer<ReportView>;
  readonly daemonSets: RestartingInformer<V1DaemonSet>;
  readonly pods: RestartingInformer<AgentPodView>;
  readonly events: RestartingInformer<DaemonSetEventView>;
  /** Apart from the caches above: status is written without it (addresses unnamed) while it cannot list. */
  readonly addresses: AddressIndex;
  readonly #byTrace = new Map<string, Map<string, ReportView>>();
  readonly #traceOfReport = new Map<string, string>();
  readonly #pool = new StringPool();
  readonly #options: CachesOptions;

  constructor(options: CachesOptions) {
    this.#options = options;
    const { kubeConfig, namespace, timings, log, metrics } = options;
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const restarting = <T extends KubernetesObject>(informer: ConstructorParameters<typeof RestartingInformer<T>>[0], resource: string) =>
      new RestartingInformer<T>(informer, {
        resource,
        backoff: timings.watchBackoff,
        log,
        onRestart: (r) => {
          metrics.watchRestartsTotal.inc({ resource: r });
        },
      });

    const tracePath = `/apis/${GROUP}/${VERSION}/${DROPTRACE.plural}`;
    this.traces = restarting(
      makeInformer<KubernetesObject>(kubeConfig, tracePath, async () =>
        asList(await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE.plural }), DROPTRACE.plural),
      ),
      DROPTRACE.plural,
    );

    const reportPath = `/apis/${GROUP}/${VERSION}/${DROPTRACE_REPORT.plural}`;
    const view = (object: unknown): ReportView | undefined => {
      const result = toReportView(object, this.#pool);
      if (result?.invalid !== undefined) {
        metrics.invalidReportsTotal.inc();
        log.warn(
          { report: result.view.metadata.name, trace: result.view.trace, problem: result.invalid },
          "a node's report does not match the schema; counting that node as failed",
        );
      }
      return result?.view;
    };
    const listReports = async (): Promise<KubernetesListObject<ReportView>> => {
      const { resourceVersion, items } = await listPages(async (cont) => {
        const raw: unknown = await custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: DROPTRACE_REPORT.plural,
          limit: REPORT_LIST_PAGE,
          ...(cont === undefined ? {} : { _continue: cont }),
        });
        return ListEnvelopeSchema.parse(raw, { error: () => "the API server's report list is not a list" });
      }, view);
      return { metadata: listMeta(resourceVersion), items };
    };
    this.reports = restarting(new ListWatch<ReportView>(reportPath, new TransformingWatch(kubeConfig, view), listReports, false), DROPTRACE_REPORT.plural);

    const daemonSetPath = `/apis/apps/v1/namespaces/${namespace}/daemonsets`;
    this.daemonSets = restarting(
      makeInformer<V1DaemonSet>(
        kubeConfig,
        daemonSetPath,
        () => apps.listNamespacedDaemonSet({ namespace, labelSelector: OWNED_DAEMONSET_SELECTOR }),
        OWNED_DAEMONSET_SELECTOR,
      ),
      "daemonsets",
    );

    // Agent pods and FailedCreate Events, kept compact (agent-start.ts) through the same transform as reports.
    const compactList = async <T>(
      items: Promise<{ metadata?: V1ListMeta; items: unknown[] }>,
      view: (o: unknown) => T | undefined,
    ): Promise<KubernetesListObject<T & KubernetesObject>> => {
      const list = await items;
      return {
        metadata: listMeta(list.metadata?.resourceVersion),
        items: list.items.flatMap((item) => {
          const v = view(item);
          return v === undefined ? [] : [v as T & KubernetesObject];
        }),
      };
    };
    const podPath = `/api/v1/namespaces/${namespace}/pods`;
    this.pods = restarting(
      new ListWatch<AgentPodView & KubernetesObject>(
        podPath,
        new TransformingWatch(kubeConfig, toAgentPodView),
        () => compactList(core.listNamespacedPod({ namespace, labelSelector: OWNED_DAEMONSET_SELECTOR }), toAgentPodView),
        false,
        OWNED_DAEMONSET_SELECTOR,
      ),
      "pods",
    );
    this.events = restarting(
      new ListWatch<DaemonSetEventView & KubernetesObject>(
        `/api/v1/namespaces/${namespace}/events`,
        new TransformingWatch(kubeConfig, toDaemonSetEventView),
        () => compactList(core.listNamespacedEvent({ namespace, fieldSelector: DAEMONSET_EVENTS }), toDaemonSetEventView),
        false,
        undefined,
        DAEMONSET_EVENTS,
      ),
      "events",
    );

    this.addresses = clusterAddressIndex(kubeConfig, {
      backoff: timings.watchBackoff,
      log,
      onRestart: (r) => {
        metrics.watchRestartsTotal.inc({ resource: r });
      },
    });

    this.#wire();
  }

  /** Whose an address is, as far as the address index knows now. */
  readonly addressName = (address: string): string | undefined => this.addresses.name(address);

  /** Why addresses stay unnamed now: the address index's watches failing (not those still listing at start). */
  readonly addressProblem = (): string | undefined => this.addresses.problem({ failingOnly: true });

  #wire(): void {
    const { onChange } = this.#options;
    const traceChanged = (object: KubernetesObject) => {
      const name = object.metadata?.name;
      if (name !== undefined) onChange(name);
    };
    this.traces.informer.on("add", traceChanged);
    this.traces.informer.on("update", traceChanged);
    this.traces.informer.on("delete", traceChanged);

    const reportChanged = (view: ReportView) => {
      this.#file(view);
      if (view.trace !== undefined) onChange(view.trace);
    };
    this.reports.informer.on("add", reportChanged);
    this.reports.informer.on("update", reportChanged);
    this.reports.informer.on("delete", (view: ReportView) => {
      this.#unfile(view.metadata.name);
      if (view.trace !== undefined) onChange(view.trace);
    });

    const daemonSetChanged = (ds: V1DaemonSet) => {
      const owner = controllerOf(ds);
      if (owner !== undefined) onChange(owner);
    };
    this.daemonSets.informer.on("add", daemonSetChanged);
    this.daemonSets.informer.on("update", daemonSetChanged);
    this.daemonSets.informer.on("delete", daemonSetChanged);

    // A pod's trace label is the trace's name where it fits a label value (names.ts), which is every name but the longest.
    const podChanged = (pod: AgentPodView) => {
      const trace = this.#traceOfLabel(pod.traceLabel);
      if (trace !== undefined) onChange(trace);
    };
    this.pods.informer.on("add", podChanged);
    this.pods.informer.on("update", podChanged);
    this.pods.informer.on("delete", podChanged);

    const eventChanged = (event: DaemonSetEventView) => {
      const owner = this.daemonSets.informer.get(event.daemonSet, this.#options.namespace);
      const trace = owner === undefined ? undefined : controllerOf(owner);
      if (trace !== undefined) onChange(trace);
    };
    this.events.informer.on("add", eventChanged);
    this.events.informer.on("update", eventChanged);
  }

  #file(view: ReportView): void {
    const name = view.metadata.name;
    this.#unfile(name);
    if (view.trace === undefined) return;
    let reports = this.#byTrace.get(view.trace);
    if (reports === undefined) {
      reports = new Map();
      this.#byTrace.set(view.trace, reports);
    }
    reports.set(name, view);
    this.#traceOfReport.set(name, view.trace);
  }

  #unfile(name: string): void {
    const trace = this.#traceOfReport.get(name);
    if (trace === undefined) return;
    this.#traceOfReport.delete(name);
    const reports = this.#byTrace.get(trace);
    reports?.delete(name);
    if (reports?.size === 0) this.#byTrace.delete(trace);
  }

  #all(): RestartingInformer<KubernetesObject>[] {
    return [this.traces, this.reports, this.daemonSets, this.pods, this.events] as RestartingInformer<KubernetesObject>[];
  }

  start(): void {
    for (const informer of this.#all()) informer.start();
    this.addresses.start();
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.#all().map((informer) => informer.waitForSync()));
  }

  /** Undefined when every cache has its first list; else which are still waiting. */
  notSynced(): string | undefined {
    const waiting = this.#all()
      .filter((informer) => !informer.synced)
      .map((informer) => informer.resource);
    return waiting.length === 0 ? undefined : `waiting for the first list of ${waiting.join(", ")}`;
  }

  /** Undefined unless a watch has failed without recovering for `afterMs` (see stuckInformers). */
  stuck(nowMs: number, afterMs: number): string | undefined {
    return stuckInformers(this.#all(), nowMs, afterMs);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#all().map((informer) => informer.stop()), this.addresses.stop()]);
  }

  #traceOfLabel(label: string | undefined): string | undefined {
    if (label === undefined) return undefined;
    return this.traceNames().find((name) => labelValue(name) === label);
  }

  trace(name: string): KubernetesObject | undefined {
    return this.traces.informer.get(name);
  }

  traceNames(): string[] {
    return this.traces.informer.list().flatMap((t) => (t.metadata?.name === undefined ? [] : [t.metadata.name]));
  }

  /** The reports of this DropTrace (by uid: not those of an earlier trace of the same name). Read-only: shared with the cache. */
  reportsOf(trace: string, uid: string): ReportView[] {
    return [...(this.#byTrace.get(trace)?.values() ?? [])].filter((r) => r.traceUid === uid);
  }

  daemonSet(name: string): V1DaemonSet | undefined {
    return this.daemonSets.informer.get(name, this.#options.namespace);
  }

  agentPods(trace: string, daemonSetUid: string): AgentPodView[] {
    const label = labelValue(trace);
    return this.pods.informer.list(this.#options.namespace).filter((pod) => pod.traceLabel === label && pod.daemonSetUid === daemonSetUid);
  }

  daemonSetEvents(daemonSet: string, daemonSetUid: string): DaemonSetEventView[] {
    return this.events.informer
      .list(this.#options.namespace)
      .filter((event) => event.daemonSet === daemonSet && (event.daemonSetUid === undefined || event.daemonSetUid === daemonSetUid));
  }
}
