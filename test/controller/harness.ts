// A cluster for controller tests: the test API server, the controller's namespace, a controller
// with short timings, and the parts no controller runs there played by the test: agents (the
// real ReportWriter, as src/agent writes reports) and the DaemonSet controller (status counts).
import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, type CoreV1Event, type V1DaemonSet, type V1Pod } from "@kubernetes/client-node";
import { pino, type Logger } from "pino";
import { ReportWriter } from "../../src/agent/report-writer.js";
import { DROPTRACE, GROUP, VERSION } from "../../src/api/constants.js";
import type { DropTraceStatus } from "../../src/api/droptrace.js";
import { daemonSetName } from "../../src/api/names.js";
import type { DropTraceReportStatus, ReportRow } from "../../src/api/report.js";
import { dropClass } from "../../src/api/drop-explanations.js";
import type { ControllerTimings } from "../../src/controller/defaults.js";
import { Controller, type ControllerOptions } from "../../src/controller/controller.js";
import { agentSelector } from "../../src/controller/daemonset.js";
import { controllerSettings, type ControllerSettings } from "../../src/controller/settings.js";
import { silentLogger } from "../../src/cli/log.js";
import { startTestApiServer, type TestApiServer, type TestApiServerOptions } from "../support/apiserver.js";
import { mergePatch, model } from "../support/apiserver-test-helpers.js";
import { until } from "../support/until.js";

export const NAMESPACE = "droptrace-system";
export const IMAGE = "ghcr.io/example/droptrace:0.1.0";

/** DROPTRACE_TEST_LOG=debug shows the controller's logs. */
export const testLog: Logger = process.env["DROPTRACE_TEST_LOG"] ? pino({ level: process.env["DROPTRACE_TEST_LOG"] }) : silentLogger;

/** Fast enough that the whole controller suite runs in well under a minute. */
export const FAST: ControllerTimings = {
  deadlineGraceMs: 1_000,
  statusIntervalMs: 50,
  queueBackoff: { initialMs: 20, maxMs: 200 },
  watchBackoff: { initialMs: 20, maxMs: 200, resetAfterMs: 1_000 },
  watchStuckAfterMs: 5_000,
  // Long next to the tests' own steps, so "before the wait" holds on a slow machine; tests move the clock past it.
  agentStartWaitMs: 30_000,
  resyncMs: 100,
  lease: { durationMs: 1_000, renewDeadlineMs: 600, retryPeriodMs: 100 },
};

/** Wall time plus an offset the test moves forward: deadlines and TTLs without waiting for them. */
export class TestClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface Cluster {
  server: TestApiServer;
  custom: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  controllers: Controller[];
  close(): Promise<void>;
}

/** `options`: the test API server's, such as `tls` for clients that verify it (kubectl, the plugin). */
export async function startCluster(options: TestApiServerOptions = {}): Promise<Cluster> {
  const server = await startTestApiServer({ namespaces: ["default", "kube-system", NAMESPACE], ...options });
  const kc = server.kubeConfig;
  const controllers: Controller[] = [];
  return {
    server,
    custom: kc.makeApiClient(CustomObjectsApi),
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    controllers,
    close: async () => {
      for (const c of controllers.splice(0)) await c.stop();
      await server.close();
    },
  };
}

export function testSettings(env: Record<string, string> = {}): ControllerSettings {
  return controllerSettings({ POD_NAMESPACE: NAMESPACE, DROPTRACE_AGENT_IMAGE: IMAGE, DROPTRACE_LEADER_ELECT: "false", ...env });
}

export async function startController(
  cluster: Cluster,
  options: Partial<Omit<ControllerOptions, "kubeConfig">> & { env?: Record<string, string> } = {},
): Promise<Controller> {
  const { env, ...rest } = options;
  const controller = new Controller({
    kubeConfig: cluster.server.kubeConfig,
    settings: testSettings(env),
    log: testLog,
    timings: FAST,
    workers: 2,
    ...rest,
  });
  cluster.controllers.push(controller);
  await controller.start();
  return controller;
}

/** Stops one controller the harness started. */
export async function stopController(cluster: Cluster, controller: Controller): Promise<void> {
  const i = cluster.controllers.indexOf(controller);
  if (i >= 0) cluster.controllers.splice(i, 1);
  await controller.stop();
}

export interface TraceObject {
  metadata: { name: string; uid: string; resourceVersion: string; generation: number };
  spec: Record<string, unknown>;
  status?: DropTraceStatus;
}

const dropTraces = { group: GROUP, version: VERSION, plural: DROPTRACE.plural } as const;

export async function createTrace(cluster: Cluster, name: string, spec: Record<string, unknown> = {}): Promise<TraceObject> {
  return (await cluster.custom.createClusterCustomObject({
    ...dropTraces,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: DROPTRACE.kind, metadata: { name }, spec },
  })) as TraceObject;
}

export async function getTrace(cluster: Cluster, name: string): Promise<TraceObject | undefined> {
  try {
    return (await cluster.custom.getClusterCustomObject({ ...dropTraces, name })) as TraceObject;
  } catch {
    return undefined;
  }
}

export async function deleteTrace(cluster: Cluster, name: string): Promise<void> {
  await cluster.custom.deleteClusterCustomObject({ ...dropTraces, name });
}

export async function getDaemonSet(cluster: Cluster, trace: string): Promise<V1DaemonSet | undefined> {
  try {
    return await cluster.apps.readNamespacedDaemonSet({ name: daemonSetName(trace), namespace: NAMESPACE });
  } catch {
    return undefined;
  }
}

/** Plays the DaemonSet controller: it has counted `desired` nodes for this trace. */
export async function setDesiredNodes(cluster: Cluster, trace: string, desired: number): Promise<void> {
  await cluster.apps.patchNamespacedDaemonSetStatus(
    {
      name: daemonSetName(trace),
      namespace: NAMESPACE,
      body: { status: { currentNumberScheduled: desired, desiredNumberScheduled: desired, numberMisscheduled: 0, numberReady: desired } },
    },
    mergePatch,
  );
}

/**
 * Plays the DaemonSet controller and the scheduler: an agent pod of this trace on `node`, labelled
 * and owned as the DaemonSet's own pods are, with the status a kubelet or the scheduler would
 * give it (`status`: a waiting container, an Unschedulable condition).
 */
export async function scheduleAgentPod(cluster: Cluster, trace: string, node: string, status?: V1Pod["status"]): Promise<void> {
  const ds = await getDaemonSet(cluster, trace);
  if (ds?.metadata?.uid === undefined) throw new Error(`no DaemonSet for trace ${trace} yet`);
  const name = `${daemonSetName(trace)}-${node}`;
  await cluster.core.createNamespacedPod({
    namespace: NAMESPACE,
    body: model<V1Pod>({
      metadata: {
        name,
        namespace: NAMESPACE,
        labels: ds.spec?.template.metadata?.labels ?? agentSelector(trace),
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "DaemonSet", name: ds.metadata.name ?? "", uid: ds.metadata.uid, controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: { nodeName: node, containers: [{ name: "agent", image: IMAGE }] },
    }),
  });
  if (status !== undefined) await cluster.core.patchNamespacedPodStatus({ name, namespace: NAMESPACE, body: { status } }, mergePatch);
}

/**
 * Plays the DaemonSet controller refused by admission (Pod Security, a policy engine): it counted
 * `desired` nodes, created no pod, and records its FailedCreate Warning with the refusal's words.
 */
export async function refusePods(cluster: Cluster, trace: string, desired: number, message: string): Promise<void> {
  const ds = await getDaemonSet(cluster, trace);
  if (ds?.metadata?.uid === undefined) throw new Error(`no DaemonSet for trace ${trace} yet`);
  await cluster.apps.patchNamespacedDaemonSetStatus(
    {
      name: daemonSetName(trace),
      namespace: NAMESPACE,
      body: {
        status: {
          observedGeneration: ds.metadata.generation ?? 1,
          currentNumberScheduled: 0,
          desiredNumberScheduled: desired,
          numberMisscheduled: 0,
          numberReady: 0,
        },
      },
    },
    mergePatch,
  );
  await cluster.core.createNamespacedEvent({
    namespace: NAMESPACE,
    body: model<CoreV1Event>({
      metadata: { name: `${daemonSetName(trace)}.${Date.now().toString(16)}`, namespace: NAMESPACE },
      involvedObject: { apiVersion: "apps/v1", kind: "DaemonSet", namespace: NAMESPACE, name: daemonSetName(trace), uid: ds.metadata.uid },
      reason: "FailedCreate",
      type: "Warning",
      message: `Error creating: ${message}`,
      source: { component: "daemonset-controller" },
      count: 1,
    }),
  });
}

export type Row = Omit<ReportRow, "netns" | "class"> & { netns?: number; class?: ReportRow["class"] };

/** A report's status as an agent writes it: each row's class from its reason, as the agent's accumulator sets it. */
export function reportStatus(phase: DropTraceReportStatus["phase"], rows: Row[] = [], extra: Partial<DropTraceReportStatus> = {}): DropTraceReportStatus {
  const full = rows.map((r) => ({ netns: 0, class: dropClass(r.reason), ...r }));
  const counted = full.reduce((sum, r) => sum + r.count, 0);
  return {
    phase,
    kernelRelease: "7.2.13+deb14-amd64",
    intervals: 1,
    totalDrops: counted + (extra.otherDrops ?? 0),
    uncountedDrops: 0,
    otherRows: 0,
    otherDrops: 0,
    rows: full,
    ...extra,
  };
}

/** Plays one node's agent, writing its report the way src/agent does (the real ReportWriter). */
export class TestAgent {
  readonly writer: ReportWriter;
  constructor(
    cluster: Cluster,
    trace: TraceObject,
    readonly node: string,
  ) {
    this.writer = new ReportWriter(cluster.custom, { trace: trace.metadata.name, traceUid: trace.metadata.uid, node }, silentLogger, {
      backoff: { initialMs: 20, maxMs: 200 },
    });
  }

  async report(status: DropTraceReportStatus): Promise<void> {
    this.writer.submit(status);
    if (!(await this.writer.flush(Date.now() + 10_000))) throw new Error(`agent ${this.node} could not write its report`);
  }
}

export function agents(cluster: Cluster, trace: TraceObject, ...nodes: string[]): TestAgent[] {
  return nodes.map((n) => new TestAgent(cluster, trace, n));
}

/** Waits for the trace's status to reach `phase`, and returns the trace. */
export function untilPhase(cluster: Cluster, name: string, phase: string): Promise<TraceObject> {
  return until(`${name} to be ${phase}`, async () => {
    const t = await getTrace(cluster, name);
    return t?.status?.phase === phase ? t : undefined;
  });
}

export async function eventsAbout(cluster: Cluster, trace: string): Promise<CoreV1Event[]> {
  const list = await cluster.core.listNamespacedEvent({ namespace: "default", fieldSelector: `involvedObject.name=${trace}` });
  return list.items;
}

export function statusWrites(cluster: Cluster): number {
  return cluster.server.requests.filter((r) => r.method === "PUT" && /\/droptraces\/[^/]+\/status$/.test(r.path) && r.status === 200).length;
}

export function condition(trace: TraceObject | undefined, type: string) {
  return trace?.status?.conditions?.find((c) => c.type === type);
}
