// runAgent against the in-process test API server, tracing with the stand-in SystemTap: the
// node's DropTraceReport as the cluster sees it, through API failures, SIGTERM and restarts.
import path from "node:path";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { reportApi, type ReportApi } from "../../src/agent/api-requests.js";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runAgent } from "../../src/agent/agent.js";
import type { AgentSettings } from "../../src/agent/settings.js";
import { API_VERSION, DROPTRACE_REPORT, GROUP, VERSION } from "../../src/api/constants.js";
import { DropTraceReportSchema, type DropTraceReport } from "../../src/api/report.js";
import { silentLogger } from "../../src/cli/log.js";
import { agentMetrics } from "../../src/api/metrics.js";
import { loadProbeScript } from "../../src/probe/script.js";
import { startTestApiServer, type TestApiServer } from "../support/apiserver.js";
import { holdsFor, until } from "../support/until.js";
import { FlakyProxy } from "./flaky-proxy.js";
import { CoreV1Api, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { NodePods } from "../../src/agent/node-pods.js";
import { PodAttributor } from "../../src/agent/pod-attributor.js";
import type { PodLabels } from "../../src/agent/pod-filter.js";
import type { Attributor } from "../../src/trace/attribution.js";
import { model } from "../support/apiserver-test-helpers.js";
import { FakeProc } from "../trace/fake-proc.js";
import {
  FAKE_STAP,
  FAKE_STAPRUN,
  FIRST_INTERVAL_ROWS,
  FIXTURE_ROWS,
  fixtureIntervals,
  isAlive,
  LOC,
  NETNS,
  ProbeOutput,
  REASON,
  RELEASE,
  row,
  StandIns,
  SYSTEMTAP_VERSION,
  type StaprunScenario,
} from "../trace/stand-ins.js";

const script = loadProbeScript();
const REPORTS_KEY = `${GROUP}/${DROPTRACE_REPORT.plural}`;
const REPORTS_PATH = `/apis/${GROUP}/${VERSION}/${DROPTRACE_REPORT.plural}`;
const FAST_BACKOFF = { initialMs: 20, maxMs: 200 };
const AGENT_PROCESS = path.resolve(import.meta.dirname, "agent-process.ts");
const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

let server: TestApiServer;
let api: CustomObjectsApi;
let standIns: StandIns;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(async () => {
  server = await startTestApiServer();
  api = server.kubeConfig.makeApiClient(CustomObjectsApi);
  standIns = await StandIns.create();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server.close();
  expect(await standIns.dispose()).toEqual([]);
});

/** The owning DropTrace, as the controller would have created it; its uid goes into the agent's settings. */
async function createTrace(name: string): Promise<string> {
  const created = (await api.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: "droptraces",
    body: { apiVersion: API_VERSION, kind: "DropTrace", metadata: { name }, spec: { duration: "60s" } },
  })) as { metadata: { uid: string } };
  return created.metadata.uid;
}

function settingsFor(trace: string, uid: string, overrides: Partial<AgentSettings> = {}): AgentSettings {
  return {
    trace,
    traceUid: uid,
    node: "node-a",
    durationSeconds: 1,
    intervalSeconds: 1,
    interfaces: [],
    reasons: [],
    stacks: false,
    maxProbeCPUPercent: 5,
    cacheDir: standIns.cacheDir,
    metricsPort: 0,
    rowCap: 1000,
    hostProc: "/host/proc",
    hostCgroup: "/host/sys/fs/cgroup",
    ...overrides,
  };
}

interface Agent {
  controller: AbortController;
  metrics: ReturnType<typeof agentMetrics>;
  done: Promise<number>;
}

function startAgent(settings: AgentSettings, agentApi: ReportApi = reportApi(server.kubeConfig), attributor?: Attributor, podLabels?: PodLabels): Agent {
  const controller = new AbortController();
  const metrics = agentMetrics();
  const done = runAgent(settings, {
    api: agentApi,
    log: silentLogger,
    metrics,
    backoff: FAST_BACKOFF,
    signal: controller.signal,
    ...(attributor === undefined ? {} : { attributor }),
    ...(podLabels === undefined ? {} : { podLabels }),
    trace: { host: standIns.host(), modules: standIns.moduleTable(), script, stapCommand: FAKE_STAP, staprunCommand: FAKE_STAPRUN, stopGraceMs: 3_000 },
  });
  cleanups.push(async () => {
    controller.abort();
    await done.catch(() => undefined);
  });
  return { controller, metrics, done };
}

function report(name: string): DropTraceReport | undefined {
  const stored = server.store.get(REPORTS_KEY, "", name);
  return stored === undefined ? undefined : DropTraceReportSchema.parse(stored);
}

/** Every version of the report the server stored, oldest first. */
function history(name: string): { type: string; report: DropTraceReport }[] {
  return (server.store.eventsSince(REPORTS_KEY, server.store.compactedResourceVersion()) ?? [])
    .map((e) => ({ type: e.type, report: DropTraceReportSchema.parse(e.object) }))
    .filter((e) => e.report.metadata.name === name);
}

function written(name: string) {
  return history(name).map(({ report: r }) => ({ phase: r.status?.phase, intervals: r.status?.intervals, total: r.status?.totalDrops }));
}

const finalReport = (name: string) =>
  until(`${name} to be final`, () => {
    const r = report(name);
    return r?.status?.phase === "Completed" || r?.status?.phase === "Failed" ? r : undefined;
  });

/** Three intervals 300 ms apart, the last printed on SIGINT: 309, 511, then 551 drops. */
async function fixtureScenario(extra: Partial<StaprunScenario> = {}): Promise<void> {
  const { first, second, last } = fixtureIntervals();
  await standIns.staprun({ steps: [{ sleepMs: 100 }, { out: first }, { sleepMs: 300 }, { out: second }], onSigint: [{ out: last }, { exit: 0 }], ...extra });
}

function expectNonDecreasing(name: string): void {
  const totals = written(name).map((w) => w.total ?? -1);
  expect(totals).toEqual([...totals].sort((a, b) => a - b));
}

describe("the agent's DropTraceReport", () => {
  it("is created, then updated every interval with growing cumulative counts, and ends Completed", async () => {
    const uid = await createTrace("dt1");
    await fixtureScenario();
    const agent = startAgent(settingsFor("dt1", uid, { durationSeconds: 1.5 }));

    const final = await finalReport("dt1-node-a");

    // Pending while the probe loads; Running from the moment it is armed, with the trace's start.
    expect(written("dt1-node-a")).toEqual([
      { phase: "Pending", intervals: 0, total: 0 },
      { phase: "Running", intervals: 0, total: 0 },
      { phase: "Running", intervals: 1, total: 309 },
      { phase: "Running", intervals: 2, total: 511 },
      { phase: "Running", intervals: 3, total: 551 },
      { phase: "Completed", intervals: 3, total: 551 },
    ]);
    expect(history("dt1-node-a").map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED"]);
    expect(final.metadata.labels).toEqual({ "droptrace.io/trace": "dt1", "droptrace.io/node": "node-a", "app.kubernetes.io/managed-by": "droptrace" });
    expect(final.metadata["ownerReferences"]).toEqual([
      { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "dt1", uid, blockOwnerDeletion: false },
    ]);
    expect(final.spec).toEqual({ trace: "dt1", node: "node-a" });
    expect(final.status).toMatchObject({
      phase: "Completed",
      kernelRelease: RELEASE,
      intervals: 3,
      totalDrops: 551,
      uncountedDrops: 0,
      otherRows: 0,
      otherDrops: 0,
      rows: FIXTURE_ROWS,
      probe: { systemtapVersion: SYSTEMTAP_VERSION, cacheHit: false },
    });
    expect(final.status?.message).toBeUndefined();
    expect(Date.parse(final.status?.completionTime ?? "") - Date.parse(final.status?.startTime ?? "")).toBeGreaterThanOrEqual(1500);
    expect(await agent.metrics.registry.getSingleMetricAsString("droptrace_agent_drops_total")).toMatch(/droptrace_agent_drops_total 551$/m);

    // The agent stays idle until stopped, then exits 0; the module is gone.
    expect(standIns.probeRuns()).toHaveLength(1);
    agent.controller.abort();
    expect(await agent.done).toBe(0);
    expect(standIns.loadedModules()).toEqual([]);

    // The ownerReference names the real DropTrace: deleting it collects the report.
    await api.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: "droptraces", name: "dt1" });
    await until("the report to be garbage-collected", () => report("dt1-node-a") === undefined);
  });

  it("loses no counts when writes fail with 500: the next write that lands carries everything", async () => {
    const uid = await createTrace("dt1");
    await fixtureScenario();
    server.faults.failNext({ method: "POST", pathPrefix: REPORTS_PATH, status: 500, count: 1 });
    server.faults.failNext({ method: "PUT", pathPrefix: REPORTS_PATH, status: 500, count: 3 });
    const agent = startAgent(settingsFor("dt1", uid));

    const final = await finalReport("dt1-node-a");

    expect(final.status).toMatchObject({ phase: "Completed", intervals: 3, totalDrops: 551, rows: FIXTURE_ROWS });
    const failed = server.requests.filter((r) => r.status === 500);
    expect(failed.map((r) => r.method)).toEqual(["POST", "PUT", "PUT", "PUT"]);
    expectNonDecreasing("dt1-node-a");
    expect(await agent.metrics.registry.getSingleMetricAsString("droptrace_agent_report_writes_total")).toMatch(/result="error"} 4$/m);
  });

  it("loses no counts when the connection drops, before or after the server applied the write", async () => {
    const uid = await createTrace("dt1");
    await fixtureScenario();
    const proxy = await FlakyProxy.start(server.url);
    cleanups.push(() => proxy.close());
    // The create lands but its answer is lost; the next update never arrives; once counts are
    // in, one more update lands but its answer is lost, so the agent's resourceVersion is stale.
    proxy.cutNext("POST", REPORTS_PATH, "answer");
    proxy.cutNext("PUT", REPORTS_PATH, "request");
    startAgent(settingsFor("dt1", uid), proxy.api());
    await until("the first interval", () => report("dt1-node-a")?.status?.intervals === 1);
    proxy.cutNext("PUT", REPORTS_PATH, "answer");

    const final = await finalReport("dt1-node-a");

    expect(proxy.cut).toEqual([`POST ${REPORTS_PATH}`, `PUT ${REPORTS_PATH}/dt1-node-a`, `PUT ${REPORTS_PATH}/dt1-node-a`]);
    expect(final.status).toMatchObject({ phase: "Completed", intervals: 3, totalDrops: 551, rows: FIXTURE_ROWS });
    // The retried create met the report it had made (409) and carried on by replacing it; the
    // update whose answer was lost was retried on a stale resourceVersion (409), re-read, and landed.
    expect(server.requests.filter((r) => r.method === "POST" && r.path === REPORTS_PATH).map((r) => r.status)).toEqual([201, 409]);
    expect(server.requests.filter((r) => r.method === "PUT" && r.status === 409)).toHaveLength(1);
    expectNonDecreasing("dt1-node-a");
  });

  it("loses no counts when the API server answers slowly: updates are coalesced, the last one wins", async () => {
    const uid = await createTrace("dt1");
    await fixtureScenario();
    // Each update takes longer than the probe takes between intervals.
    server.faults.delay(600, { method: "PUT", pathPrefix: REPORTS_PATH });
    startAgent(settingsFor("dt1", uid));

    const final = await finalReport("dt1-node-a");

    expect(final.status).toMatchObject({ phase: "Completed", intervals: 3, totalDrops: 551, rows: FIXTURE_ROWS });
    expect(written("dt1-node-a").length).toBeLessThan(5);
    expectNonDecreasing("dt1-node-a");
  });

  it("writes a final Completed report with the counts so far when stopped (SIGTERM) mid-trace", async () => {
    const uid = await createTrace("dt1");
    await fixtureScenario();
    const agent = startAgent(settingsFor("dt1", uid, { durationSeconds: 600 }));
    await until("two intervals", () => report("dt1-node-a")?.status?.intervals === 2);

    const stopped = Date.now();
    agent.controller.abort();
    expect(await agent.done).toBe(0);

    expect(Date.now() - stopped).toBeLessThan(3_000);
    const final = report("dt1-node-a");
    expect(final?.status).toMatchObject({ phase: "Completed", intervals: 3, totalDrops: 551, rows: FIXTURE_ROWS });
    expect(final?.status?.completionTime).toBeDefined();
    const run = standIns.probeRuns()[0];
    expect(standIns.events(run?.pid ?? 0)).toEqual(["start", "inserted", "sigint", "exit"]);
    expect(standIns.loadedModules()).toEqual([]);
  });

  it("writes a Failed report with the reason when the probe fails, keeping the counts so far", async () => {
    const uid = await createTrace("dt1");
    await standIns.staprun({ steps: [{ out: fixtureIntervals().first }, { sleepMs: 100 }, { killSelf: true }] });
    startAgent(settingsFor("dt1", uid, { durationSeconds: 30 }));

    const final = await finalReport("dt1-node-a");

    expect(final.status).toMatchObject({ phase: "Failed", reason: "ProbeKilled", intervals: 1, totalDrops: 309 });
    expect(final.status?.message).toMatch(/^staprun was killed \(SIGKILL\)/);
    expect(standIns.loadedModules()).toEqual([]);
  });

  it("does not trace again when its report is already final", async () => {
    const uid = await createTrace("dt1");
    const body: DropTraceReport = {
      apiVersion: API_VERSION,
      kind: "DropTraceReport",
      metadata: {
        name: "dt1-node-a",
        labels: { "droptrace.io/trace": "dt1", "droptrace.io/node": "node-a", "app.kubernetes.io/managed-by": "droptrace" },
        ownerReferences: [{ apiVersion: API_VERSION, kind: "DropTrace", name: "dt1", uid, blockOwnerDeletion: false }],
      },
      spec: { trace: "dt1", node: "node-a" },
      status: { phase: "Completed", intervals: 3, totalDrops: 551, uncountedDrops: 0, otherRows: 0, otherDrops: 0, rows: [...FIXTURE_ROWS] },
    };
    await api.createClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE_REPORT.plural, body });
    const before = report("dt1-node-a")?.metadata.resourceVersion;
    await fixtureScenario();
    const agent = startAgent(settingsFor("dt1", uid));

    await until("the agent to read its report", () => server.requests.some((r) => r.method === "GET" && r.path === `${REPORTS_PATH}/dt1-node-a`));
    // Not tracing again is an absence, which no wait can show: had the agent decided to trace,
    // it would start the probe and write a Pending report at once. Watch for either for 500 ms.
    await holdsFor(
      "no probe started and no report written",
      500,
      () => standIns.log().length === 0 && server.writes().filter((r) => r.path.startsWith(REPORTS_PATH)).length === 1,
    );
    agent.controller.abort();

    expect(await agent.done).toBe(0);
    expect(standIns.log()).toEqual([]);
    expect(report("dt1-node-a")?.metadata.resourceVersion).toBe(before);
    expect(server.writes().filter((r) => r.path.startsWith(REPORTS_PATH))).toHaveLength(1);
  });
});

describe("an agent restarted mid-trace", () => {
  /** The report a killed agent left: Running, with the first interval's counts. */
  async function leftRunning(uid: string, startedAgoMs: number): Promise<void> {
    const body: DropTraceReport = {
      apiVersion: API_VERSION,
      kind: "DropTraceReport",
      metadata: {
        name: "dt1-node-a",
        labels: { "droptrace.io/trace": "dt1", "droptrace.io/node": "node-a", "app.kubernetes.io/managed-by": "droptrace" },
        ownerReferences: [{ apiVersion: API_VERSION, kind: "DropTrace", name: "dt1", uid, blockOwnerDeletion: false }],
      },
      spec: { trace: "dt1", node: "node-a" },
      status: {
        phase: "Running",
        kernelRelease: RELEASE,
        startTime: new Date(Date.now() - startedAgoMs).toISOString(),
        intervals: 1,
        totalDrops: 309,
        uncountedDrops: 0,
        otherRows: 0,
        otherDrops: 0,
        rows: [...FIRST_INTERVAL_ROWS],
      },
    };
    await api.createClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE_REPORT.plural, body });
  }

  it("keeps the first start's deadline, not a fresh duration, and adds to the earlier counts", async () => {
    const uid = await createTrace("dt1");
    await leftRunning(uid, 2_500);
    const startTime = report("dt1-node-a")?.status?.startTime;
    const { second, last } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: second }], onSigint: [{ out: last }, { exit: 0 }] });
    const agent = startAgent(settingsFor("dt1", uid, { durationSeconds: 4 }));

    const final = await finalReport("dt1-node-a");
    agent.controller.abort();
    expect(await agent.done).toBe(0);

    // 4 s from the first start (counted in whole seconds): a fresh 4 s would end 2.5 s later.
    const traced = Date.parse(final.status?.completionTime ?? "") - Date.parse(startTime ?? "");
    expect(traced).toBeGreaterThanOrEqual(4_000);
    expect(traced).toBeLessThan(5_800);
    // Its own intervals were numbered from 1 again; the report goes on from the earlier ones.
    expect(final.status).toMatchObject({ phase: "Completed", startTime, intervals: 3, totalDrops: 551, rows: FIXTURE_ROWS });
  });

  it("restarted after the deadline: writes the earlier counts as final without loading the probe", async () => {
    const uid = await createTrace("dt1");
    await leftRunning(uid, 10_000);
    await fixtureScenario();
    const agent = startAgent(settingsFor("dt1", uid, { durationSeconds: 4 }));

    const final = await finalReport("dt1-node-a");
    agent.controller.abort();
    expect(await agent.done).toBe(0);

    expect(final.status).toMatchObject({ phase: "Completed", intervals: 1, totalDrops: 309, rows: FIRST_INTERVAL_ROWS });
    expect(final.status?.reason).toBeUndefined();
    expect(final.status?.message).toBe("the trace's duration was over before the probe started: nothing more was counted");
    expect(standIns.probeRuns()).toEqual([]);
  });
});

describe("the agent as a process", () => {
  function spawnAgent(settings: AgentSettings) {
    const child = execa(process.execPath, ["--import", "tsx", AGENT_PROCESS], {
      detached: true,
      reject: false,
      cwd: REPO_ROOT,
      env: { ...standIns.env, DROPTRACE_TEST_AGENT: JSON.stringify({ settings, apiUrl: server.url }) },
    });
    cleanups.push(async () => {
      if (child.pid !== undefined && isAlive(child.pid)) process.kill(-child.pid, "SIGKILL");
      await child;
    });
    return child;
  }

  it("killed mid-trace and restarted: removes the module it left, carries the counts over, and stops at once on SIGTERM", async () => {
    const uid = await createTrace("dt1");
    const settings = settingsFor("dt1", uid, { durationSeconds: 600 });
    // The first agent counts two intervals, then its pod is killed outright (SIGKILL to every process in it).
    const { first, second } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { out: second }] });
    const killed = spawnAgent(settings);
    const earlier = await until(
      "the first agent's two intervals",
      () => {
        const r = report("dt1-node-a");
        return r?.status?.intervals === 2 ? r : undefined;
      },
      { timeoutMs: 15_000 },
    );
    process.kill(-(killed.pid ?? 0), "SIGKILL");
    expect((await killed).signal).toBe("SIGKILL");
    const firstRun = standIns.probeRuns()[0];
    const leftover = standIns.loadedModules();
    expect(leftover).toHaveLength(1);
    expect(isAlive(firstRun?.pid ?? 0)).toBe(false);

    // The restarted agent (same trace, same node) counts 40 drops, then 1 more on its way out.
    const out = new ProbeOutput();
    await standIns.staprun({
      steps: [{ out: out.interval([row(40, LOC.neighInvalidate, "va", NETNS.a, REASON.NEIGH_FAILED)]) }],
      onSigint: [{ out: [...out.interval([row(1, LOC.udpRcv, "lo", NETNS.root, REASON.NO_SOCKET)]), out.end()] }, { exit: 0 }],
    });
    const restarted = spawnAgent(settings);
    const midway = await until(
      "the restarted agent's first interval",
      () => {
        const r = report("dt1-node-a");
        return r?.status?.intervals === 3 ? r : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(midway.status).toMatchObject({ phase: "Running", totalDrops: 551, startTime: earlier.status?.startTime });

    const stopped = Date.now();
    restarted.kill("SIGTERM");
    const result = await restarted;
    expect(result.exitCode).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(3_000);

    const final = report("dt1-node-a");
    expect(final?.status).toMatchObject({
      phase: "Completed",
      intervals: 4,
      totalDrops: 552,
      startTime: earlier.status?.startTime,
      rows: [{ ...FIXTURE_ROWS[0], count: 301 }, ...FIXTURE_ROWS.slice(1)],
      probe: { cacheHit: true, compileSeconds: 0 },
      message: `removed module ${leftover[0] ?? ""}, left loaded by an earlier run that was killed`,
    });
    expect(standIns.loadedModules()).toEqual([]);
    expectNonDecreasing("dt1-node-a");
  });
});

describe("the agent names the pods behind its rows", () => {
  /** The fixture machine as a node: its own namespace (pid 1's), and namespace `a` a pod's sandbox; nobody in `b`. */
  async function podOnNodeA(): Promise<{ uid: string; proc: FakeProc }> {
    const core = server.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: model<V1Namespace>({ metadata: { name: "shop" } }) });
    const pod = await core.createNamespacedPod({
      namespace: "shop",
      body: model<V1Pod>({
        metadata: { name: "cart-0", labels: { app: "cart", track: "stable" } },
        spec: { nodeName: "node-a", containers: [{ name: "c", image: "registry.example.com/c:1" }] },
      }),
    });
    const uid = pod.metadata?.uid ?? "";
    const proc = await FakeProc.create([
      { pid: 1, netns: NETNS.root, cgroup: "/init.scope" },
      { pid: 4100, netns: NETNS.a, cgroup: `/kubepods/besteffort/pod${uid}/${"a".repeat(64)}` },
    ]);
    cleanups.push(() => proc.dispose());
    return { uid, proc };
  }

  function nodePods(): NodePods {
    const pods = new NodePods(server.kubeConfig, "node-a", silentLogger, { ...FAST_BACKOFF, resetAfterMs: 60_000 });
    pods.start();
    cleanups.push(() => pods.stop());
    return pods;
  }

  it("attributes each row by namespace: the pod, the node itself, or unknown, and counts every drop", async () => {
    const uid = await createTrace("dt1");
    const { uid: podUid, proc } = await podOnNodeA();
    await fixtureScenario();
    startAgent(settingsFor("dt1", uid), undefined, new PodAttributor(proc.root, nodePods()));

    const final = await finalReport("dt1-node-a");
    const cart = { pod: { namespace: "shop", name: "cart-0", uid: podUid }, workload: { kind: "Pod", name: "cart-0" } };
    expect(final.status?.rows).toEqual(
      FIXTURE_ROWS.map((row) =>
        row.netns === NETNS.root
          ? { ...row, attribution: "host" }
          : row.netns === NETNS.a
            ? { ...row, attribution: "netns", ...cart }
            : { ...row, attribution: "unknown" },
      ),
    );
    expect(final.status?.totalDrops).toBe(551);
    expect(final.status?.message).toBeUndefined();
  });

  it("with a pod list that keeps failing, leaves pod rows unknown, says why in the message, and loses no count", async () => {
    const uid = await createTrace("dt1");
    const { proc } = await podOnNodeA();
    server.faults.failNext({ method: "GET", pathPrefix: "/api/v1/pods", status: 503, count: 1_000_000, message: "etcdserver: request timed out" });
    await fixtureScenario();
    startAgent(settingsFor("dt1", uid), undefined, new PodAttributor(proc.root, nodePods()));

    const final = await finalReport("dt1-node-a");
    expect(final.status).toMatchObject({ phase: "Completed", intervals: 3, totalDrops: 551, rows: FIXTURE_ROWS });
    expect(final.status?.rows.map((r) => r.attribution)).toEqual(FIXTURE_ROWS.map((r) => (r.netns === NETNS.root ? "host" : "unknown")));
    expect(final.status?.rows.some((r) => r.pod !== undefined)).toBe(false);
    expect(final.status?.message).toMatch(/pod names unknown: listing the pods on node node-a failed \(.*503.*\), retrying/s);
  });

  const inPodA = FIXTURE_ROWS.filter((row) => row.netns === NETNS.a);
  const dropsInPodA = inPodA.reduce((sum, row) => sum + row.count, 0);

  it("with filter.namespaces and filter.podSelector, keeps the selected pod's rows and counts every other drop in filteredDrops", async () => {
    const uid = await createTrace("dt1");
    const { uid: podUid, proc } = await podOnNodeA();
    await fixtureScenario();
    const pods = nodePods();
    const podFilter = {
      namespaces: ["shop"],
      podSelector: { matchLabels: { app: "cart" }, matchExpressions: [{ key: "track", operator: "NotIn" as const, values: ["canary"] }] },
    };
    startAgent(settingsFor("dt1", uid, { podFilter }), undefined, new PodAttributor(proc.root, pods), (u) => pods.labels(u));

    const final = await finalReport("dt1-node-a");
    const cart = { pod: { namespace: "shop", name: "cart-0", uid: podUid }, workload: { kind: "Pod", name: "cart-0" } };
    expect(dropsInPodA).toBeGreaterThan(0);
    expect(final.status).toMatchObject({ phase: "Completed", totalDrops: dropsInPodA, filteredDrops: 551 - dropsInPodA });
    expect(final.status?.rows).toEqual(inPodA.map((row) => ({ ...row, attribution: "netns", ...cart })));
  });

  it("with a selector no pod matches, keeps no row and counts all 551 drops as filtered", async () => {
    const uid = await createTrace("dt1");
    const { proc } = await podOnNodeA();
    await fixtureScenario();
    const pods = nodePods();
    startAgent(settingsFor("dt1", uid, { podFilter: { podSelector: { matchLabels: { app: "db" } } } }), undefined, new PodAttributor(proc.root, pods), (u) =>
      pods.labels(u),
    );
    const final = await finalReport("dt1-node-a");
    expect(final.status).toMatchObject({ phase: "Completed", totalDrops: 0, filteredDrops: 551, rows: [] });
  });

  it("with a pod list that keeps failing, leaves out every row (none is named) and counts them all as filtered, none lost", async () => {
    const uid = await createTrace("dt1");
    const { proc } = await podOnNodeA();
    server.faults.failNext({ method: "GET", pathPrefix: "/api/v1/pods", status: 503, count: 1_000_000, message: "etcdserver: request timed out" });
    await fixtureScenario();
    const pods = nodePods();
    startAgent(settingsFor("dt1", uid, { podFilter: { namespaces: ["shop"] } }), undefined, new PodAttributor(proc.root, pods), (u) => pods.labels(u));
    const final = await finalReport("dt1-node-a");
    expect(final.status).toMatchObject({ phase: "Completed", totalDrops: 0, filteredDrops: 551, rows: [] });
    expect(final.status?.message).toMatch(/pod names unknown/);
  });
});
