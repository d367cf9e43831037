// One trace on one machine, from "can this machine trace?" to the final counts.
// `droptrace run` and `droptrace agent` both drive this; they differ only in where
// the updates go (a terminal, or the node's DropTraceReport).
import type { Logger } from "pino";
import type { ProbeFacts } from "../api/report.js";
import { findModuleForKernel, parseSystemTapVersion, type CachedModule } from "../probe/cache.js";
import { CompileError, compileProbe } from "../probe/compile.js";
import { moduleParams } from "../probe/module-params.js";
import { loadProbeScript, withStacks, type ProbeScript } from "../probe/script.js";
import { ProbeProcess, type ProbeExit } from "../probe/staprun.js";
import { DropAccumulator, EMPTY_SNAPSHOT, type DropSnapshot } from "./accumulator.js";
import { parseKfreeSkbFormat, UnknownDropReasonError } from "./kernel-reasons.js";
import { LoadedModuleRecord, removeLeftover, type ModuleTable } from "../probe/loaded-modules.js";
import { preflight, type HostView, type PreflightProblem } from "./preflight.js";
import { ProbeOutputReader } from "../probe/output.js";
import { CounterWatch } from "./kernel-counters.js";
import type { KernelCounters } from "../api/report.js";
import { REASON } from "../api/conditions.js";
import { onlineCpus } from "./cpu-count.js";
import { overloadMessage } from "./overload.js";

export interface TraceRequest {
  /** How long to count, from the moment the probe is armed. */
  durationSeconds: number;
  /** A deadline set earlier (an agent continuing a trace it had started): counting ends then at the latest. */
  notAfter?: Date;
  intervalSeconds: number;
  interfaces: readonly string[];
  /** Drop reason names; resolved to this kernel's numbers here. */
  reasons: readonly string[];
  /** Record the call stacks behind the drops (spec.stacks). */
  stacks: boolean;
  /** The probe's guard: it stops itself past this share of the node's CPU (spec.maxProbeCPUPercent). */
  maxProbeCPUPercent: number;
  cacheDir: string;
  /** Whose trace this is ("run", or the DropTrace's name): names the leftover-module record. */
  owner: string;
  /** Rows kept in snapshots; the rest is summed. */
  rowCap: number;
}

/**
 * How long the loaded probe may take to arm. Seconds are normal: SystemTap arms its probes only
 * once the module is initialized (measured up to 12 s on 6.12 under emulation, kernel-notes.md).
 */
const ARM_TIMEOUT_MS = 120_000;

export interface TraceDeps {
  host: HostView;
  modules: ModuleTable;
  log: Logger;
  script?: ProbeScript;
  stapCommand?: string;
  staprunCommand?: string;
  stopGraceMs?: number;
  /** Default ARM_TIMEOUT_MS. */
  armTimeoutMs?: number;
  /** Where the node's own /proc is ("/proc" on one machine, the host's mounted into the agent): its drop counters are read there. Without it, none are. */
  procRoot?: string;
  /** The node's online CPUs; default: counted in `<procRoot>/stat` (cpu-count.ts). */
  cpuCount?: number;
}

/**
 * Why a trace ended as it did; `cannotTrace` failures are the machine's, not the probe's. A trace
 * that `stoppedEarly` (ProbeOverload: the probe stopped itself for its CPU share) completed: its
 * counts so far are real and kept, it only covers less time than asked.
 */
export type Outcome =
  | { phase: "Completed"; stoppedEarly?: { reason: string; message: string } }
  | { phase: "Failed"; reason: string; message: string; cannotTrace: boolean; badRequest?: boolean; details?: string[] };

export interface TraceState {
  phase: "Pending" | "Running" | "Completed" | "Failed";
  kernelRelease: string;
  startTime?: Date;
  completionTime?: Date;
  probe?: ProbeFacts;
  snapshot: DropSnapshot;
  /** Set once the trace has ended. */
  outcome?: Outcome;
  /** Facts worth a line in the report: a removed leftover module, skipped probes. */
  notes: string[];
  /** Probe hits SystemTap skipped (lock contention, reentrancy): drops that reached no row. */
  skippedProbes?: number;
  /** The kernel's own drop counters since the probe was armed. */
  kernelCounters?: KernelCounters;
  /** The node's online CPUs, which the probe's cost is a share of; set once the probe is started. */
  cpus?: number;
}

export interface TraceHooks {
  /** After every completed probe interval, and once at the end. Awaited: keep it quick. */
  onUpdate?(state: TraceState): Promise<void> | void;
  /** Aborting stops the trace early (SIGTERM); the counts so far are kept and reported. */
  signal?: AbortSignal;
}

function describeProblems(problems: readonly PreflightProblem[]): string {
  return problems.map((p) => p.message).join("; ");
}

export async function runTrace(request: TraceRequest, deps: TraceDeps, hooks: TraceHooks = {}): Promise<TraceState> {
  const log = deps.log.child({ owner: request.owner });
  const state: TraceState = { phase: "Pending", kernelRelease: deps.host.kernelRelease(), snapshot: EMPTY_SNAPSHOT, notes: [] };
  const finish = async (outcome: Outcome): Promise<TraceState> => {
    state.outcome = outcome;
    state.phase = outcome.phase;
    state.completionTime = new Date();
    if (outcome.phase === "Failed") log.warn({ reason: outcome.reason }, outcome.message);
    await hooks.onUpdate?.(state);
    return state;
  };

  // Which module would this kernel load? A compiled one from the cache when there is one;
  // stap (the compiler) is needed only when there is none for this kernel and probe.
  // With stacks, the module built with the stacks handler (withStacks: its own cache key).
  const baseScript = deps.script ?? loadProbeScript();
  const script = request.stacks ? withStacks(baseScript) : baseScript;
  const compilerVersion = parseSystemTapVersion((await deps.host.commandOutput(deps.stapCommand ?? "stap", ["--version"])) ?? "");
  let cached: CachedModule | undefined = await findModuleForKernel(request.cacheDir, state.kernelRelease, script.hash, compilerVersion);

  const checked = await preflight(deps.host, { needCompile: cached === undefined, cacheDir: request.cacheDir, stacks: request.stacks });
  if (!checked.ok) {
    const first = checked.problems[0];
    return finish({
      phase: "Failed",
      reason: first?.reason ?? "CannotTrace",
      message: describeProblems(checked.problems),
      details: checked.problems.map((p) => p.message),
      cannotTrace: true,
    });
  }

  let reasonNumbers: number[];
  let accumulator: DropAccumulator;
  try {
    const reasons = parseKfreeSkbFormat(checked.facts.tracepointFormat);
    reasonNumbers = reasons.resolveReasonNames([...request.reasons]);
    accumulator = new DropAccumulator(checked.facts.kallsyms, reasons);
  } catch (err) {
    if (err instanceof UnknownDropReasonError) {
      return finish({ phase: "Failed", reason: "ReasonUnknown", message: err.message, cannotTrace: false, badRequest: true });
    }
    return finish({ phase: "Failed", reason: "KernelDataUnreadable", message: `cannot read this kernel's drop reasons: ${String(err)}`, cannotTrace: true });
  }

  let compileSeconds = 0;
  let cacheHit = true;
  if (cached === undefined) {
    log.info({ kernelRelease: state.kernelRelease }, "compiling the probe for this kernel (about a minute)");
    try {
      const compiled = await compileProbe({
        script,
        kernelRelease: state.kernelRelease,
        cacheDir: request.cacheDir,
        ...(deps.stapCommand === undefined ? {} : { stapCommand: deps.stapCommand }),
      });
      cached = compiled.module;
      compileSeconds = compiled.compileSeconds;
      cacheHit = compiled.cacheHit;
    } catch (err) {
      if (err instanceof CompileError) return finish({ phase: "Failed", reason: err.reason, message: err.message, cannotTrace: true });
      throw new Error("compiling the probe failed", { cause: err });
    }
  }
  state.probe = {
    moduleName: cached.meta.moduleName,
    systemtapVersion: cached.meta.systemtapVersion,
    cacheHit,
    compileSeconds,
  };

  const record = new LoadedModuleRecord(request.cacheDir, request.owner);
  try {
    const leftover = await removeLeftover(record, deps.modules);
    if (leftover !== undefined) {
      state.notes.push(`removed module ${leftover}, left loaded by an earlier run that was killed`);
      log.warn({ module: leftover }, "removed a leftover probe module");
    }
  } catch (err) {
    return finish({ phase: "Failed", reason: "LeftoverModule", message: err instanceof Error ? err.message : String(err), cannotTrace: true });
  }

  return traceWith({ module: cached, reasonNumbers, accumulator, record, request, deps, hooks, state, finish });
}

interface Ready {
  module: CachedModule;
  reasonNumbers: number[];
  accumulator: DropAccumulator;
  record: LoadedModuleRecord;
  request: TraceRequest;
  deps: TraceDeps;
  hooks: TraceHooks;
  state: TraceState;
  finish: (outcome: Outcome) => Promise<TraceState>;
}

async function traceWith({ module, reasonNumbers, accumulator, record, request, deps, hooks, state, finish }: Ready): Promise<TraceState> {
  const log = deps.log.child({ owner: request.owner });
  const reader = new ProbeOutputReader();
  const counters =
    deps.procRoot === undefined
      ? undefined
      : new CounterWatch(
          { procRoot: deps.procRoot, readText: (p) => deps.host.readText(p), readLink: (p) => deps.host.readLink(p) },
          request.interfaces.length > 0 || request.reasons.length > 0,
        );
  /** Reads the counters and puts them, or why they are missing, into this state. */
  const withCounters = async (at: TraceState) => {
    if (counters === undefined) return;
    await counters.read();
    const result = counters.result(at.snapshot.rows);
    if (result !== undefined) {
      at.kernelCounters = result;
      state.kernelCounters = result;
    } else if (counters.problem !== undefined && !at.notes.includes(counters.problem)) {
      at.notes.push(counters.problem);
      if (!state.notes.includes(counters.problem)) state.notes.push(counters.problem);
    }
  };
  // Interval updates are chained so they never overlap and never outlive the trace.
  let updates: Promise<void> = Promise.resolve();
  const queueUpdate = () => {
    state.snapshot = accumulator.snapshot(request.rowCap);
    // The state as of this record: when the next record comes in the same stdout chunk, this
    // update still says what was true here (armed with no interval yet, say).
    const asOfNow: TraceState = { ...state, notes: [...state.notes] };
    updates = updates
      .then(() => withCounters(asOfNow))
      .then(() => hooks.onUpdate?.(asOfNow))
      .catch((err: unknown) => {
        log.error({ err }, "an interval update failed; the next one carries the same cumulative counts");
      });
  };
  const consume = (results: ReturnType<ProbeOutputReader["push"]>) => {
    for (const result of results) {
      if (!result.ok) {
        accumulator.noteProtocolError(result.error.message);
        continue;
      }
      accumulator.add(result.record);
      if (result.record.kind === "overload") overloadAt ??= new Date();
      if (result.record.kind === "armed" && state.startTime === undefined) {
        // The trace's clock starts here, not when staprun started: SystemTap arms its probes
        // only after the whole module is initialized, seconds later under load or emulation.
        state.startTime = new Date();
        state.phase = "Running";
        armed();
        queueUpdate();
      }
      if (result.record.kind === "interval") queueUpdate();
    }
  };

  // Stopped while compiling, or no time left (an agent restarted after its trace's deadline):
  // loading the probe only to unload it at once would race its start.
  if (hooks.signal?.aborted || request.durationSeconds <= 0) {
    state.notes.push(
      hooks.signal?.aborted
        ? "stopped before the probe started: nothing was counted"
        : "the trace's duration was over before the probe started: nothing more was counted",
    );
    return finish({ phase: "Completed" });
  }
  let overloadAt: Date | undefined;
  state.cpus = deps.cpuCount ?? (await onlineCpus((p) => deps.host.readText(p), deps.procRoot ?? "/proc"));
  let armed: () => void = () => undefined;
  const armedOnce = new Promise<void>((resolve) => {
    armed = resolve;
  });
  const probe = ProbeProcess.start({
    modulePath: module.path,
    moduleName: module.meta.moduleName,
    params: moduleParams({
      intervalSeconds: request.intervalSeconds,
      interfaces: [...request.interfaces],
      reasons: reasonNumbers,
      stacks: request.stacks,
      maxCpuPercent: request.maxProbeCPUPercent,
      cpus: state.cpus,
    }),
    onStdout: (chunk) => {
      consume(reader.push(chunk));
    },
    ...(deps.staprunCommand === undefined ? {} : { staprunCommand: deps.staprunCommand }),
    ...(deps.stopGraceMs === undefined ? {} : { stopGraceMs: deps.stopGraceMs }),
  });
  await record.write(probe.loadedName, probe.pid);
  log.info({ module: probe.loadedName, durationSeconds: request.durationSeconds }, "probe loading; the trace starts once SystemTap has armed it");

  const armTimeoutMs = deps.armTimeoutMs ?? ARM_TIMEOUT_MS;
  const stopReason = await new Promise<"duration" | "signal" | "exited" | "notArmed">((resolve) => {
    // Until the probe is armed, the arm timeout runs; from then on, the trace's duration.
    let timer = setTimeout(() => {
      resolve("notArmed");
    }, armTimeoutMs);
    void armedOnce.then(() => {
      clearTimeout(timer);
      log.info({ module: probe.loadedName }, "probe armed: counting");
      const durationMs = request.durationSeconds * 1000;
      const leftMs = request.notAfter === undefined ? durationMs : Math.min(durationMs, request.notAfter.getTime() - Date.now());
      timer = setTimeout(
        () => {
          resolve("duration");
        },
        Math.max(0, leftMs),
      );
    });
    const onAbort = () => {
      resolve("signal");
    };
    hooks.signal?.addEventListener("abort", onAbort, { once: true });
    if (hooks.signal?.aborted) resolve("signal");
    void probe.exited.finally(() => {
      clearTimeout(timer);
      hooks.signal?.removeEventListener("abort", onAbort);
      resolve("exited");
    });
  });
  const exit: ProbeExit = stopReason === "exited" ? await probe.exited : await probe.stop();
  consume(reader.end());
  await updates;
  state.snapshot = accumulator.snapshot(request.rowCap);
  // The last reading, once the probe is gone: both sides then end at about the same moment.
  if (state.startTime !== undefined) await withCounters(state);
  log.info({ stopReason, exitCode: exit.exitCode, total: state.snapshot.total }, "probe stopped");

  if (exit.skippedProbes > 0) {
    state.skippedProbes = exit.skippedProbes;
    state.notes.push(`SystemTap skipped ${exit.skippedProbes} probe hits under load: those drops are in uncountedDrops, not in any row`);
  }
  const unloadProblem = await ensureUnloaded(probe.loadedName, deps.modules);
  await record.clear();

  // Stopped for not arming: that is the cause, however staprun took being stopped that early.
  if (stopReason === "notArmed") {
    const notArmed =
      `the probe module loaded but SystemTap did not arm its probes within ${Math.round(armTimeoutMs / 1000)}s, so nothing was counted; ` +
      "the node may be overloaded, or its kernel refuses the kfree_skb tracepoint (dmesg shows SystemTap's own messages)";
    return finish({
      phase: "Failed",
      reason: "ProbeNotArmed",
      message: unloadProblem === undefined ? notArmed : `${notArmed}; ${unloadProblem}`,
      cannotTrace: true,
    });
  }
  // The probe's guard stopped it (an O record), or SystemTap's own overload check did: the node
  // completed early, every count so far kept. Never a raw error.
  const overloaded = state.snapshot.overload !== undefined || exit.failure?.reason === REASON.probeOverload;
  if (overloaded && state.startTime !== undefined) {
    const stoppedAfterMs = (overloadAt ?? new Date()).getTime() - state.startTime.getTime();
    const words = overloadMessage({ guard: state.snapshot.overload, systemTapStderr: exit.stderrTail, stoppedAfterMs, finished: state.snapshot.finished });
    if (unloadProblem !== undefined) return finish({ phase: "Failed", reason: "ModuleLeftLoaded", message: `${unloadProblem}; ${words}`, cannotTrace: false });
    return finish({ phase: "Completed", stoppedEarly: { reason: REASON.probeOverload, message: words } });
  }
  if (exit.failure !== undefined) {
    const message = unloadProblem === undefined ? exit.failure.message : `${exit.failure.message}; ${unloadProblem}`;
    return finish({
      phase: "Failed",
      reason: exit.failure.reason,
      message,
      cannotTrace: state.snapshot.intervals === 0 && exit.failure.reason === "ModuleRejected",
    });
  }
  if (unloadProblem !== undefined) return finish({ phase: "Failed", reason: "ModuleLeftLoaded", message: unloadProblem, cannotTrace: false });
  if (!state.snapshot.finished) {
    return finish({
      phase: "Failed",
      reason: "ProbeOutputIncomplete",
      message: "the probe stopped without printing its final record: the last interval's counts may be missing",
      cannotTrace: false,
    });
  }
  return finish({ phase: "Completed" });
}

/** After staprun exits the module should be gone; if not, remove it, and say so if that fails. */
async function ensureUnloaded(name: string, modules: ModuleTable): Promise<string | undefined> {
  if (!(await modules.loaded()).has(name)) return undefined;
  const error = await modules.remove(name);
  return error === undefined ? undefined : `module ${name} is still loaded and could not be removed (${error}): run \`rmmod ${name}\``;
}
