// Reconcile(name): level-based, keyed by DropTrace name, reading only from the caches. Gets the
// trace (gone: nothing to do, its owner references take everything with it), refuses a spec
// the CRD let through, keeps its DaemonSet as wanted, merges its nodes' reports into status,
// writes status when it changed (at most once per report interval, phase changes at once),
// and once the trace is over deletes the DaemonSet and, after its TTL, the trace. Returns when
// to look again, or throws: the queue retries with backoff.
import type { KubernetesObject, V1DaemonSet } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ANNOTATIONS } from "../api/constants.js";
import { DropTraceSpecSchema, effectiveReportIntervalSeconds, specChanged, type DropTraceSpec, type DropTraceStatus } from "../api/droptrace.js";
import { parseDurationSeconds } from "../api/duration.js";
import { describeFieldErrors, fieldErrors } from "../api/field-errors.js";
import { daemonSetName, labelValue } from "../api/names.js";
import type { ControllerMetrics } from "../api/metrics.js";
import type { ClusterWriter } from "./cluster-writer.js";
import { statusWriteTiming } from "./status/write-timing.js";
import { CONDITION, REASON, type Reason } from "../api/conditions.js";
import type { ControllerTimings } from "./defaults.js";
import { desiredDaemonSet, OWNED_DAEMONSET_SELECTOR, type AgentPodSettings } from "./daemonset.js";
import { appliedSpecOf, desiredScheduledOf, ownership, templateHashOf } from "./daemonset-state.js";
import { EventRecorder } from "./event-recorder.js";
import { agentStartEvent, addressesUnnamedEvent, nodeFailureEvent, nodeStoppedEarlyEvent, phaseEvent } from "./events.js";
import { apiMessageIn, apiStatusIn, timeMs, rfc3339, type Clock } from "../kube/api.js";
import { agentStartProblems, describeAgentStartProblem, type AgentPodView, type DaemonSetEventView } from "./status/agent-start.js";
import { mergeReports, type MergeOptions } from "./status/merge.js";
import type { AddressNamer } from "./status/flow-sums.js";
import { countNodes, type NodeState } from "./status/node-states.js";
import { decidePhase, isFinal, type PhaseOutcome } from "./status/phase.js";
import type { ReportView } from "./status/report-view.js";
import { buildStatus, EMPTY_MERGE, NO_NODES, sameStatus, type StatusInput } from "./status/status.js";
import { readTraceObject, ttlSecondsOf, type TraceObject } from "./trace-object.js";

/** What the reconciler reads: the informer caches (caches.ts), or a fake in the tests and the benchmark. */
export interface TraceSource {
  trace(name: string): KubernetesObject | undefined;
  reportsOf(trace: string, uid: string): readonly ReportView[];
  daemonSet(name: string): V1DaemonSet | undefined;
  /** The agent pods of this trace's DaemonSet (by its uid: not those of an earlier trace of the same name). */
  agentPods(trace: string, daemonSetUid: string): readonly AgentPodView[];
  /** The DaemonSet controller's FailedCreate Events about this DaemonSet. */
  daemonSetEvents(daemonSet: string, daemonSetUid: string): readonly DaemonSetEventView[];
  /** Whose an address is, for flows in status (address-index.ts); absent or undefined: addresses stay unnamed. */
  addressName?: AddressNamer;
  /** Why addresses may stay unnamed now (the index's watches failing); undefined when they can be named. */
  addressProblem?: () => string | undefined;
}

export interface ReconcileResult {
  /** Look again after this long even if nothing changes (deadlines, TTLs, the next status window). */
  requeueAfterMs?: number;
}

export interface ReconcilerDeps {
  source: TraceSource;
  writer: ClusterWriter;
  settings: AgentPodSettings & { identity: string };
  timings: Pick<ControllerTimings, "deadlineGraceMs" | "statusIntervalMs" | "agentStartWaitMs">;
  clock: Clock;
  log: Logger;
  metrics: ControllerMetrics;
}

/** What this process remembers about a trace between reconciles; all of it can be lost safely. */
interface TraceMemory {
  uid: string;
  lastWriteAtMs?: number;
  /** Our last status write: until the cache shows it, the cache's status is older than the truth. */
  written?: {
    /** The cache's version the first of our writes was based on, and every version our writes made since. */
    ours: Set<string | undefined>;
    /** The version our last write made, and what it wrote. */
    resourceVersion: string | undefined;
    status: DropTraceStatus;
  };
  /** When we created a DaemonSet the cache has not shown yet: it is not created twice while the cache catches up. */
  daemonSetCreatedAtMs?: number | undefined;
}

/** How long a DaemonSet we created may stay missing from the cache before we believe it is gone. */
const CACHE_CATCH_UP_MS = 10_000;

const after = (ms: number): ReconcileResult => ({ requeueAfterMs: Math.max(0, Math.ceil(ms)) });

/** What came of making the DaemonSet what this trace wants. */
type Ensured =
  | { kind: "ready" }
  | { kind: "wait"; result: ReconcileResult }
  /** The API server refused it for good (a 4xx other than a conflict): admission, RBAC. */
  | { kind: "refused"; detail: string }
  /** A server error or no answer: retried with backoff. */
  | { kind: "unavailable"; detail: string; err: unknown };

/** A 4xx other than a conflict (409) or too many requests (429) will be answered the same next time. */
function isRefusal(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && status !== 409 && status !== 429;
}

export class Reconciler {
  readonly #deps: ReconcilerDeps;
  readonly #memory = new Map<string, TraceMemory>();
  readonly #events: EventRecorder;

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
    this.#events = new EventRecorder(deps.writer, { clock: deps.clock, instance: deps.settings.identity, metrics: deps.metrics });
  }

  /** Drops everything remembered: after a leadership change another replica may have written meanwhile. */
  forgetAll(): void {
    this.#memory.clear();
    this.#events.forgetAll();
  }

  async reconcile(name: string): Promise<ReconcileResult> {
    const raw = this.#deps.source.trace(name);
    if (raw === undefined) {
      const gone = this.#memory.get(name);
      if (gone !== undefined) this.#events.forget(gone.uid);
      this.#memory.delete(name);
      return {};
    }
    const trace = readTraceObject(raw);
    // Being deleted: the garbage collector removes the DaemonSet and reports it owns.
    if (trace.deleting) return {};
    const log = this.#deps.log.child({ trace: name });
    if (trace.statusProblem !== undefined) log.warn({ problem: trace.statusProblem }, "the stored status does not parse; it will be rewritten");
    const memory = this.#memoryOf(trace);
    const current = this.#currentStatus(trace, memory);

    if (current !== undefined && isFinal(current.phase)) return this.#finished(trace, await this.#mergeLate(trace, current, memory, log), log);

    const spec = DropTraceSpecSchema.safeParse(trace.spec);
    if (!spec.success) {
      return this.#refuse(trace, current, memory, REASON.invalidSpec, describeFieldErrors(fieldErrors(spec.error, "spec")), log);
    }
    const dsName = daemonSetName(name);
    const cached = this.#deps.source.daemonSet(dsName);
    const owned = ownership(cached, trace);
    if (owned === "ours") memory.daemonSetCreatedAtMs = undefined;
    const daemonSet = owned === "ours" ? cached : undefined;
    const applied = appliedSpecOf(daemonSet);
    if (applied !== undefined && specChanged(applied, spec.data)) {
      return this.#refuse(trace, current, memory, REASON.specChanged, undefined, log);
    }

    const nowMs = this.#deps.clock();
    const daemonSetRef = `${this.#deps.settings.namespace}/${dsName}`;
    // The deadline counts from the first reconcile that decided to run the trace, and that start
    // is written before anything else can fail (a refused DaemonSet, an unreachable API server):
    // every later reconcile, in this replica or another, then computes the same deadline. Read
    // back from the status because it happens once; a DaemonSet from before this rule stands in.
    let status = current;
    const starting = status?.startTime === undefined;
    if (status?.startTime === undefined) {
      const startMs = timeMs(daemonSet?.metadata?.creationTimestamp) ?? nowMs;
      status = await this.#recordStart(trace, status, memory, startMs, daemonSetRef, log);
    }
    const startMs = timeMs(status.startTime) ?? nowMs;
    const deadlineMs = startMs + (parseDurationSeconds(spec.data.duration) ?? 0) * 1000 + this.#deps.timings.deadlineGraceMs;
    const startWaitEndMs = startMs + this.#deps.timings.agentStartWaitMs;

    const reports = this.#deps.source.reportsOf(name, trace.uid);
    const nodes = reports.map(nodeState);
    const desiredScheduled = desiredScheduledOf(daemonSet);
    const counts = countNodes(nodes, desiredScheduled);
    const pods = daemonSet?.metadata?.uid === undefined ? [] : this.#deps.source.agentPods(name, daemonSet.metadata.uid);
    const problems = agentStartProblems({
      pods,
      events: daemonSet?.metadata?.uid === undefined ? [] : this.#deps.source.daemonSetEvents(dsName, daemonSet.metadata.uid),
      reported: new Set(reports.map((r) => r.node)),
      desired: desiredScheduled,
      current: daemonSet?.status?.currentNumberScheduled,
    });
    const where = { namespace: this.#deps.settings.namespace, daemonSet: dsName, image: this.#deps.settings.agentImage, traceLabel: labelValue(name) };
    const agentStart = problems.map((p) => ({ reason: p.cause, description: describeAgentStartProblem(p, where), nodes: p.count }));
    const first = problems[0];
    const outcome = decidePhase({
      counts,
      reported: reports.length,
      desiredScheduled,
      nowMs,
      deadlineMs,
      startWaitEndMs,
      ...(first === undefined ? {} : { notStarting: { nodes: problems.reduce((sum, p) => sum + p.count, 0), cause: first.cause } }),
    });

    if (!isFinal(outcome.phase)) {
      const ensured = await this.#ensureDaemonSet(trace, spec.data, cached, owned, memory, log);
      if (ensured.kind === "wait") return ensured.result;
      if (ensured.kind === "refused") return this.#refuse(trace, status, memory, REASON.agentsRefused, ensured.detail, log);
      if (ensured.kind === "unavailable") {
        // Say so in the status, then let the queue retry with backoff.
        await this.#write(
          trace,
          status,
          this.#status(trace, status, { phase: outcome.phase, reason: REASON.waitingForApiServer }, { detail: ensured.detail, nodes, counts }),
          memory,
          log,
        );
        throw new Error(`the agents' DaemonSet ${daemonSetRef} could not be written: ${ensured.detail}`, { cause: ensured.err });
      }
    }

    const timing = statusWriteTiming({
      // News a person waits for goes out at once: a phase, a new generation, why the trace waits
      // (Ready's reason), agents that do not start (Degraded's); counts wait for the window.
      // Starting: the start was just written, and what follows it (the Event, the DaemonSet) goes out now too.
      urgent:
        starting ||
        outcome.phase !== status.phase ||
        status.observedGeneration !== trace.generation ||
        outcome.reason !== conditionOf(status, CONDITION.ready)?.reason ||
        (first !== undefined && first.cause !== conditionOf(status, CONDITION.degraded)?.reason),
      lastWriteAtMs: memory.lastWriteAtMs,
      intervalMs: this.#deps.timings.statusIntervalMs ?? effectiveReportIntervalSeconds(spec.data) * 1000,
      nowMs,
    });
    if (!timing.writeNow) {
      // The merge waits for the next window too: on thousands of nodes it is the expensive part.
      this.#deps.metrics.statusWritesDeferredTotal.inc();
      return after(Math.min(timing.waitMs, deadlineMs - nowMs));
    }
    const next = reports.length === 0 && nowMs < startWaitEndMs ? Math.min(startWaitEndMs, deadlineMs) : deadlineMs;

    const missing = counts.desired - reports.length;
    const reported = new Set(reports.map((r) => r.node));
    // Nodes with an agent pod and no report: named once the trace is over, with why where the pod says.
    const silent =
      isFinal(outcome.phase) && missing > 0 ? [...new Set(pods.flatMap((p) => (p.node === undefined || reported.has(p.node) ? [] : [p.node])))].sort() : [];
    const written = this.#status(trace, status, outcome, {
      nodes,
      counts,
      merged: mergeReports(reports, spec.data.topN, this.#mergeOptions()),
      notReporting: isFinal(outcome.phase) && missing > 0 ? { count: missing, names: silent } : { count: 0, names: [] },
      notStarted: problems.flatMap((p) => p.nodes.map((node) => ({ node, reason: p.cause, message: p.message }))),
      agentStart,
      startTime: status.startTime,
    });
    await this.#write(trace, status, written, memory, log);
    await this.#announce(trace, outcome, written, log);
    for (const node of nodes) {
      // Node failures and early stops share one budget of Events per trace: Degraded counts them all.
      if (node.phase === "Failed") await this.#events.nodeFailure(trace, nodeFailureEvent(node), log);
      else if (node.phase === "Completed" && node.reason === REASON.probeOverload) await this.#events.nodeFailure(trace, nodeStoppedEarlyEvent(node), log);
    }
    if (!isFinal(outcome.phase)) for (const problem of agentStart) await this.#events.phase(trace, agentStartEvent(problem), log);
    const addressProblem = this.#deps.source.addressProblem?.();
    if (addressProblem !== undefined && (written.drops ?? []).some((d) => (d.flows?.length ?? 0) > 0)) {
      await this.#events.phase(trace, addressesUnnamedEvent(addressProblem), log);
    }

    if (isFinal(outcome.phase)) return this.#finished(trace, written, log);
    return after(next - nowMs);
  }

  /**
   * A finished trace keeps its phase, but counts that arrive after it ended are not lost: an
   * agent whose final report was delayed (API errors past the deadline's grace, a slow probe
   * stop) still writes it, and the merged drops, node counts and conditions take it in.
   */
  #mergeOptions(): MergeOptions {
    const addressName = this.#deps.source.addressName;
    return addressName === undefined ? {} : { addressName };
  }

  async #mergeLate(trace: TraceObject, current: DropTraceStatus, memory: TraceMemory, log: Logger): Promise<DropTraceStatus> {
    const spec = DropTraceSpecSchema.safeParse(trace.spec);
    const reports = this.#deps.source.reportsOf(trace.name, trace.uid);
    const phase = current.phase;
    const readyReason = current.conditions?.find((c) => c.type === CONDITION.ready)?.reason as Reason | undefined;
    // A trace the controller refused ran nothing of what its spec asked: its reports are not its result.
    const refused = readyReason === REASON.invalidSpec || readyReason === REASON.specChanged || readyReason === REASON.agentsRefused;
    if (!spec.success || reports.length === 0 || phase === undefined || refused) return current;
    const nodes = reports.map(nodeState);
    const merged = mergeReports(reports, spec.data.topN, this.#mergeOptions());
    // The DaemonSet is gone: the node count is the one the trace ended with.
    const counts = countNodes(nodes, current.nodes?.desired);
    const before = current.nodes;
    if (
      merged.totalDrops === current.totalDrops &&
      merged.uncountedDrops === current.uncountedDrops &&
      counts.completed === before?.completed &&
      counts.failed === before.failed
    ) {
      return current;
    }
    // The phase stays; its reason is the one the late reports give, where that phase agrees.
    const decided = decidePhase({ counts, reported: reports.length, desiredScheduled: counts.desired, nowMs: Number.POSITIVE_INFINITY, deadlineMs: 0 });
    const outcome: PhaseOutcome = decided.phase === phase ? decided : { phase, reason: readyReason ?? decided.reason };
    const reported = new Set(reports.map((r) => r.node));
    const silentNames = (current.nodeSummary ?? []).filter((n) => n.phase === "NotReporting" && !reported.has(n.node)).map((n) => n.node);
    const status = this.#status(trace, current, outcome, {
      nodes,
      counts,
      merged,
      notReporting: { count: Math.max(0, counts.desired - reports.length), names: silentNames },
      startTime: current.startTime,
    });
    log.info({ totalDrops: merged.totalDrops, before: current.totalDrops }, "merged reports that arrived after the trace ended");
    await this.#write(trace, current, status, memory, log);
    return status;
  }

  /** Completed or Failed: no agent may keep running; after the TTL the trace itself goes. */
  async #finished(trace: TraceObject, status: DropTraceStatus | undefined, log: Logger): Promise<ReconcileResult> {
    const dsName = daemonSetName(trace.name);
    const daemonSet = this.#deps.source.daemonSet(dsName);
    if (ownership(daemonSet, trace) === "ours") {
      await this.#deps.writer.deleteDaemonSet(dsName, daemonSet?.metadata?.uid);
      log.info({ daemonSet: dsName }, "deleted the agents' DaemonSet: the trace has ended; its reports stay");
    }
    const ttl = ttlSecondsOf(trace.spec);
    const completedMs = timeMs(status?.completionTime);
    if (ttl === undefined || completedMs === undefined) return {};
    const dueMs = completedMs + ttl * 1000;
    const nowMs = this.#deps.clock();
    if (nowMs < dueMs) return after(dueMs - nowMs);
    await this.#deps.writer.deleteTrace(trace.name, trace.uid);
    log.info({ ttlSecondsAfterFinished: ttl }, "deleted the DropTrace: its TTL after finishing has passed");
    return {};
  }

  /**
   * A trace the controller will not run (its spec) or cannot (the API server refused its
   * DaemonSet): Failed at once, with why, nothing left running.
   */
  async #refuse(
    trace: TraceObject,
    current: DropTraceStatus | undefined,
    memory: TraceMemory,
    reason: Reason,
    detail: string | undefined,
    log: Logger,
  ): Promise<ReconcileResult> {
    const outcome: PhaseOutcome = { phase: "Failed", reason };
    const status = this.#status(trace, current, outcome, { ...(detail === undefined ? {} : { detail }), startTime: current?.startTime });
    await this.#write(trace, current, status, memory, log);
    await this.#announce(trace, outcome, status, log);
    return this.#finished(trace, status, log);
  }

  /**
   * The status for `outcome`, from what the caller knows of the world (nothing: no nodes, no
   * rows). The current status is read only for what happens once: start and completion
   * times, and when each condition last changed (buildStatus).
   */
  #status(
    trace: TraceObject,
    current: DropTraceStatus | undefined,
    outcome: PhaseOutcome,
    world: Partial<Pick<StatusInput, "nodes" | "counts" | "merged" | "notReporting" | "notStarted" | "agentStart" | "detail" | "startTime">>,
  ): DropTraceStatus {
    return buildStatus({
      current,
      generation: trace.generation,
      outcome,
      nodes: world.nodes ?? [],
      counts: world.counts ?? NO_NODES,
      merged: world.merged ?? EMPTY_MERGE,
      notReporting: world.notReporting ?? { count: 0, names: [] },
      ...(world.notStarted === undefined ? {} : { notStarted: world.notStarted }),
      ...(world.agentStart === undefined ? {} : { agentStart: world.agentStart }),
      ...(world.detail === undefined ? {} : { detail: world.detail }),
      // Happens once: kept from the current status unless the caller says otherwise.
      startTime: world.startTime ?? current?.startTime,
      nowMs: this.#deps.clock(),
      daemonSet: `${this.#deps.settings.namespace}/${daemonSetName(trace.name)}`,
    });
  }

  /** Writes the trace's start, Pending, before it is run: see reconcile(). Returns the status written. */
  async #recordStart(
    trace: TraceObject,
    current: DropTraceStatus | undefined,
    memory: TraceMemory,
    startMs: number,
    daemonSet: string,
    log: Logger,
  ): Promise<DropTraceStatus> {
    const status = this.#status(trace, current, { phase: "Pending", reason: REASON.waitingForAgents }, { startTime: rfc3339(startMs) });
    await this.#write(trace, current, status, memory, log);
    log.debug({ startTime: status.startTime, daemonSet }, "recorded the trace's start");
    return status;
  }

  async #ensureDaemonSet(
    trace: TraceObject,
    spec: DropTraceSpec,
    cached: V1DaemonSet | undefined,
    owned: ReturnType<typeof ownership>,
    memory: TraceMemory,
    log: Logger,
  ): Promise<Ensured> {
    const desired = desiredDaemonSet({ name: trace.name, uid: trace.uid, spec }, this.#deps.settings);
    const name = desired.metadata?.name ?? "";
    try {
      return await this.#writeDaemonSet(trace, spec, desired, cached, owned, memory, log);
    } catch (err) {
      const status = apiStatusIn(err);
      const words = apiMessageIn(err);
      if (isRefusal(status)) {
        log.warn({ err, daemonSet: name, status }, "the API server refused the agents' DaemonSet");
        return { kind: "refused", detail: `${words}; ${refusalAdvice(status, words, this.#deps.settings.namespace)}` };
      }
      if (status === undefined || status >= 500 || status === 429)
        return { kind: "unavailable", detail: status === undefined ? words : `HTTP ${status}: ${words}`, err };
      throw err;
    }
  }

  async #writeDaemonSet(
    trace: TraceObject,
    spec: DropTraceSpec,
    desired: V1DaemonSet,
    cached: V1DaemonSet | undefined,
    owned: ReturnType<typeof ownership>,
    memory: TraceMemory,
    log: Logger,
  ): Promise<Ensured> {
    const name = desired.metadata?.name ?? "";
    switch (owned) {
      case "earlierTrace":
        log.info({ daemonSet: name }, "waiting for the garbage collector to remove the DaemonSet of an earlier DropTrace of this name");
        return { kind: "wait", result: after(1000) };
      case "foreign":
        throw new Error(`DaemonSet ${this.#deps.settings.namespace}/${name} exists and is not this DropTrace's: delete it, or give the trace another name`);
      case "absent":
        if (memory.daemonSetCreatedAtMs !== undefined && this.#deps.clock() - memory.daemonSetCreatedAtMs < CACHE_CATCH_UP_MS) return { kind: "ready" };
        if ((await this.#deps.writer.createDaemonSet(desired)) === "exists") {
          // Not in the cache, which holds every DaemonSet labelled as ours: someone else's, or ours with its labels removed.
          throw new Error(
            `DaemonSet ${this.#deps.settings.namespace}/${name} exists but is not labelled ${OWNED_DAEMONSET_SELECTOR}: delete it, or give the trace another name`,
          );
        }
        memory.daemonSetCreatedAtMs = this.#deps.clock();
        log.info({ daemonSet: name, image: this.#deps.settings.agentImage }, "created the agents' DaemonSet");
        return { kind: "ready" };
      case "ours": {
        const annotations = desired.metadata?.annotations ?? {};
        if (
          templateHashOf(cached) === annotations[ANNOTATIONS.templateHash] &&
          cached?.metadata?.annotations?.[ANNOTATIONS.spec] === annotations[ANNOTATIONS.spec]
        ) {
          return { kind: "ready" };
        }
        await this.#deps.writer.replaceDaemonSet(
          desiredDaemonSet({ name: trace.name, uid: trace.uid, spec }, this.#deps.settings, cached?.metadata?.resourceVersion),
        );
        log.info({ daemonSet: name }, "replaced the agents' DaemonSet: its template was not the one this controller wants");
        return { kind: "ready" };
      }
    }
  }

  async #write(trace: TraceObject, current: DropTraceStatus | undefined, status: DropTraceStatus, memory: TraceMemory, log: Logger): Promise<void> {
    if (sameStatus(current, status)) return;
    const { metrics } = this.#deps;
    // A second write before the cache shows the first (in one reconcile: the start, then the
    // DaemonSet's refusal) is conditional on the version the first one made, not the cache's.
    const earlier = memory.written?.ours.has(trace.resourceVersion) === true ? memory.written : undefined;
    const resourceVersion = earlier === undefined ? trace.resourceVersion : earlier.resourceVersion;
    let resourceVersionAfter: string | undefined;
    try {
      resourceVersionAfter = await this.#deps.writer.writeStatus(trace.raw, resourceVersion, status);
    } catch (err) {
      metrics.statusWritesTotal.inc({ result: err instanceof Error && err.name === "StatusConflictError" ? "conflict" : "error" });
      throw err;
    }
    metrics.statusWritesTotal.inc({ result: "ok" });
    memory.lastWriteAtMs = this.#deps.clock();
    memory.written = { ours: new Set([...(earlier?.ours ?? [trace.resourceVersion]), resourceVersionAfter]), resourceVersion: resourceVersionAfter, status };
    if (status.phase !== current?.phase)
      log.info({ phase: status.phase, from: current?.phase ?? "none", progress: status.nodeProgress, totalDrops: status.totalDrops }, "phase changed");
    else log.debug({ progress: status.nodeProgress, totalDrops: status.totalDrops }, "status written");
  }

  /** The Event for the phase the status shows, with its Ready condition's reason and message. */
  async #announce(trace: TraceObject, outcome: PhaseOutcome, status: DropTraceStatus, log: Logger): Promise<void> {
    const ready = status.conditions?.find((c) => c.type === CONDITION.ready);
    await this.#events.phase(trace, phaseEvent(outcome, ready?.message ?? outcome.reason), log);
  }

  #memoryOf(trace: TraceObject): TraceMemory {
    const known = this.#memory.get(trace.name);
    if (known?.uid === trace.uid) return known;
    if (known !== undefined) this.#events.forget(known.uid);
    const fresh: TraceMemory = { uid: trace.uid };
    this.#memory.set(trace.name, fresh);
    return fresh;
  }

  /** The cache may not have seen our own last write yet: then that write is the current status. */
  #currentStatus(trace: TraceObject, memory: TraceMemory): DropTraceStatus | undefined {
    const written = memory.written;
    if (written?.ours.has(trace.resourceVersion) === true) return written.status;
    return trace.status;
  }
}

const conditionOf = (status: DropTraceStatus, type: string) => status.conditions?.find((c) => c.type === type);

function nodeState(report: ReportView): NodeState {
  return { node: report.node, phase: report.phase, reason: report.reason, message: report.message, totalDrops: report.totalDrops };
}

/** What to do about a refused DaemonSet: RBAC (the controller's own rights) or a policy on privileged pods. */
function refusalAdvice(status: number | undefined, words: string, namespace: string): string {
  if (status === 403 && /cannot (create|update) resource "daemonsets"/.test(words)) {
    return `the controller's service account may not write DaemonSets in ${namespace}: install the chart's RBAC again (helm upgrade)`;
  }
  return `the agents run privileged with read-only host mounts, as a kernel probe must: allow that for DaemonSets in namespace ${namespace} (the API server's --allow-privileged=true, or an exception in the policy that refused it), then apply the DropTrace again`;
}
