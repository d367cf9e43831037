// `droptrace agent`: one node's part of a DropTrace, run by the trace's DaemonSet.
// It traces once, writes its DropTraceReport every interval and at the end, then stays
// idle until the controller deletes the DaemonSet (a DaemonSet restarts pods that exit,
// and a restart must not trace again).
import type { Logger } from "pino";
import type { ReportApi } from "./api-requests.js";
import { carryOver } from "./carry-over.js";
import { realHost } from "../trace/host.js";
import { procModules } from "../probe/loaded-modules.js";
import { reportStatus } from "../trace/report-status.js";
import { BackoffTimer, type Backoff } from "../kube/backoff.js";
import { DEFAULT_BACKOFF, ReportWriter } from "./report-writer.js";
import type { AgentSettings } from "./settings.js";
import { runTrace, type TraceDeps, type TraceState } from "../trace/session.js";
import { EMPTY_SNAPSHOT } from "../trace/accumulator.js";
import { agentMetrics, type AgentMetrics } from "../api/metrics.js";
import type { DropTraceReportStatus } from "../api/report.js";
import { EXIT } from "../api/exit-codes.js";
import { FINAL_WRITE_SECONDS } from "../api/constants.js";
import { attributeStatus, type Attributor } from "../trace/attribution.js";
import { filterStatus, type PodLabels } from "./pod-filter.js";

const noLabels: PodLabels = () => undefined;

const FINAL_PHASES = new Set(["Completed", "Failed"]);

export interface AgentDeps {
  api: ReportApi;
  log: Logger;
  trace?: Partial<TraceDeps>;
  metrics?: AgentMetrics;
  backoff?: Backoff;
  /** Aborted on SIGTERM: stop tracing, write the final report, exit. */
  signal: AbortSignal;
  /** Names each row's namespace (pod-attributor.ts), refreshed before every report; absent, rows carry no names. */
  attributor?: Attributor;
  /** The labels of the node's pods by UID (node-pods.ts), for filter.podSelector. */
  podLabels?: PodLabels;
}

export async function runAgent(settings: AgentSettings, deps: AgentDeps): Promise<number> {
  const log = deps.log.child({ trace: settings.trace, node: settings.node });
  const metrics = deps.metrics ?? agentMetrics();
  const writer = new ReportWriter(deps.api, settings, log, { metrics, ...(deps.backoff === undefined ? {} : { backoff: deps.backoff }) });

  const existing = await readWithRetry(writer, log, deps.signal, deps.backoff ?? DEFAULT_BACKOFF);
  const earlier = existing?.status;
  if (earlier !== undefined && FINAL_PHASES.has(earlier.phase)) {
    log.info({ phase: earlier.phase }, "this node already reported its final result; waiting to be stopped");
    await aborted(deps.signal);
    return EXIT.ok;
  }
  // A restart mid-trace continues the same trace: same deadline, earlier counts carried over.
  const startedAt = earlier?.startTime === undefined ? Date.now() : Date.parse(earlier.startTime);
  const remaining = Math.max(0, settings.durationSeconds - Math.floor((Date.now() - startedAt) / 1000));
  if (earlier !== undefined) log.info({ remainingSeconds: remaining, earlierDrops: earlier.totalDrops }, "continuing a trace this node had started");

  const toStatus = (state: TraceState): DropTraceReportStatus => {
    const now = reportStatus(state);
    return earlier === undefined ? now : carryOver(earlier, now, settings.rowCap);
  };
  // Counters grow by what each cumulative snapshot adds.
  let seen = { total: 0, uncounted: 0, intervals: 0 };
  const onUpdate = async (state: TraceState) => {
    const { total, uncounted, intervals } = state.snapshot;
    metrics.dropsTotal.inc(total - seen.total);
    metrics.uncountedDropsTotal.inc(uncounted - seen.uncounted);
    metrics.intervalsTotal.inc(intervals - seen.intervals);
    seen = { total, uncounted, intervals };
    metrics.rows.set(state.snapshot.rows.length + state.snapshot.otherRows);
    if (state.probe) metrics.compileSeconds.set(state.probe.compileSeconds);
    let status = toStatus(state);
    if (deps.attributor !== undefined && status.rows.length > 0) {
      // Names are applied to the cumulative rows as they are now: a namespace named late is named
      // in this and every later report, and its counts never waited for it.
      await deps.attributor.refresh();
      status = attributeStatus(status, deps.attributor);
    }
    // After the names, on the cumulative rows: a row left out now for want of a name is kept once named.
    if (settings.podFilter !== undefined) status = filterStatus(status, settings.podFilter, deps.podLabels ?? noLabels);
    writer.submit(status);
  };

  writer.submit(toStatus({ phase: "Pending", kernelRelease: realHostRelease(deps), snapshot: EMPTY_SNAPSHOT, notes: [] }));
  const state = await runTrace(
    {
      durationSeconds: remaining,
      // Continuing: the first start's deadline holds, however long the probe takes to arm again.
      ...(earlier?.startTime === undefined ? {} : { notAfter: new Date(startedAt + settings.durationSeconds * 1000) }),
      intervalSeconds: settings.intervalSeconds,
      interfaces: settings.interfaces,
      reasons: settings.reasons,
      stacks: settings.stacks,
      maxProbeCPUPercent: settings.maxProbeCPUPercent,
      cacheDir: settings.cacheDir,
      owner: settings.trace,
      rowCap: settings.rowCap,
    },
    { host: realHost, modules: procModules, log, procRoot: settings.hostProc, ...deps.trace },
    { signal: deps.signal, onUpdate },
  );

  // The final report must land: keep trying until it does, or until SIGTERM's grace runs out.
  const landed = await flushFinal(writer, deps.signal, log);
  log.info({ phase: state.phase, totalDrops: state.snapshot.total, landed }, "trace finished");
  if (!deps.signal.aborted) await aborted(deps.signal);
  return landed ? EXIT.ok : EXIT.failed;
}

function realHostRelease(deps: AgentDeps): string {
  return (deps.trace?.host ?? realHost).kernelRelease();
}

async function readWithRetry(writer: ReportWriter, log: Logger, signal: AbortSignal, backoff: Backoff) {
  const delays = new BackoffTimer(backoff);
  for (;;) {
    try {
      return await writer.read();
    } catch (err) {
      if (signal.aborted) throw err;
      const delay = delays.next();
      log.warn({ err, retryInMs: delay }, "cannot read this node's report yet");
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function flushFinal(writer: ReportWriter, signal: AbortSignal, log: Logger): Promise<boolean> {
  for (;;) {
    const deadline = Date.now() + FINAL_WRITE_SECONDS * 1000;
    if (await writer.flush(deadline)) return true;
    if (signal.aborted) {
      log.error("the final report could not be written before the agent had to stop");
      return false;
    }
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener(
      "abort",
      () => {
        resolve();
      },
      { once: true },
    );
  });
}
