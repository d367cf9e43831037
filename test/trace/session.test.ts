// runTrace against the stand-in stap and staprun (test/trace/fakes): real processes, real
// signals, the fixture kernel's symbols and reason names. Each case ends with the outcome a user
// would read and no stand-in process left behind.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { compileCommand } from "../../src/cli/compile.js";
import { LoadedModuleRecord } from "../../src/probe/loaded-modules.js";
import { reportStatus } from "../../src/trace/report-status.js";
import { runTrace, type TraceHooks, type TraceState } from "../../src/trace/session.js";
import { moduleName } from "../../src/probe/cache.js";
import { loadProbeScript } from "../../src/probe/script.js";
import {
  FAKE_STAP,
  FIRST_INTERVAL_ROWS,
  FIXTURE_CPUS,
  FIXTURE_ROWS,
  fixtureIntervals,
  LOC,
  NETNS,
  overloadLine,
  stackLine,
  ProbeOutput,
  REASON,
  RELEASE,
  row,
  StandIns,
  SYSTEMTAP_TEXT,
  SYSTEMTAP_VERSION,
  isAlive,
} from "./stand-ins.js";

const script = loadProbeScript();
const MODULE = moduleName({ kernelRelease: RELEASE, probeHash: script.hash, systemtapVersion: SYSTEMTAP_VERSION });
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The name staprun -R loads MODULE under: same length, the tail replaced by `_<pid>`. */
const STAPRUN_LOADS = (pid: number) => `${MODULE.slice(0, MODULE.length - String(pid).length - 1)}_${pid}`;

let standIns: StandIns;

beforeEach(async () => {
  standIns = await StandIns.create();
});

afterEach(async () => {
  // Every case must end with no stand-in process: a leftover staprun is a probe left in the kernel.
  expect(await standIns.dispose()).toEqual([]);
});

interface Update {
  phase: TraceState["phase"];
  intervals: number;
  total: number;
}

function recorder() {
  const updates: Update[] = [];
  return {
    updates,
    onUpdate: (state: TraceState) => {
      updates.push({ phase: state.phase, intervals: state.snapshot.intervals, total: state.snapshot.total });
    },
  };
}

/** Stops the trace (as SIGTERM would) once the probe has printed `intervals` intervals. */
function stopAfter(intervals: number, onStop?: () => void): TraceHooks {
  const controller = new AbortController();
  return {
    signal: controller.signal,
    onUpdate: (state) => {
      if (state.snapshot.intervals >= intervals && !controller.signal.aborted) {
        onStop?.();
        controller.abort();
      }
    },
  };
}

/** The one staprun that loaded a module, with its pid. */
function theProbeRun() {
  const runs = standIns.probeRuns();
  expect(runs).toHaveLength(1);
  const run = runs[0];
  if (run === undefined) throw new Error("no staprun run");
  return run;
}

describe("runTrace with the stand-in SystemTap", () => {
  it("traces for the duration, stops staprun with SIGINT and reports the fixture's drops exactly", async () => {
    const { first, second, last } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { sleepMs: 50 }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
    const { updates, onUpdate } = recorder();
    const started = Date.now();

    const state = await runTrace(standIns.request({ durationSeconds: 1 }), standIns.deps({ script }), { onUpdate });

    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.phase).toBe("Completed");
    expect(state.kernelRelease).toBe(RELEASE);
    expect(state.snapshot.rows).toEqual(FIXTURE_ROWS);
    expect(state.snapshot.total).toBe(551);
    expect(state.snapshot.intervals).toBe(3);
    expect(state.snapshot.finished).toBe(true);
    expect(state.snapshot.protocolErrors).toBe(0);
    expect(state.probe).toMatchObject({ moduleName: MODULE, systemtapVersion: SYSTEMTAP_VERSION, cacheHit: false });
    expect(state.notes).toEqual([]);
    // One update when the probe is armed (the trace's clock starts), one per interval as it arrives, then the final one.
    expect(updates).toEqual([
      { phase: "Running", intervals: 0, total: 0 },
      { phase: "Running", intervals: 1, total: 309 },
      { phase: "Running", intervals: 2, total: 511 },
      { phase: "Running", intervals: 3, total: 551 },
      { phase: "Completed", intervals: 3, total: 551 },
    ]);
    const run = theProbeRun();
    expect(standIns.events(run.pid)).toEqual(["start", "inserted", "sigint", "exit"]);
    expect(standIns.loadedModules()).toEqual([]);
    // The leftover-module record is gone once the module is.
    expect(await new LoadedModuleRecord(standIns.cacheDir, "run").read()).toBeUndefined();
  });

  it("starts the trace's clock when SystemTap has armed the probe, not when staprun started", async () => {
    const { first, second, last } = fixtureIntervals();
    await standIns.staprun({ armDelayMs: 1_500, steps: [{ out: first }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
    const started = Date.now();
    let armedAt: number | undefined;
    const state = await runTrace(standIns.request({ durationSeconds: 1 }), standIns.deps({ script }), {
      onUpdate: (s) => {
        if (s.phase === "Running" && s.snapshot.intervals === 0) armedAt = Date.now();
      },
    });
    const stoppedAt = Date.now();
    expect(state.outcome).toEqual({ phase: "Completed" });
    // Pending for the whole arming delay; the full duration counted from the armed record on.
    expect((state.startTime?.getTime() ?? 0) - started).toBeGreaterThanOrEqual(1_500);
    expect(armedAt).toBeDefined();
    expect(stoppedAt - (state.startTime?.getTime() ?? 0)).toBeGreaterThanOrEqual(1_000);
    expect(state.snapshot.total).toBe(551);
  });

  it("fails ProbeNotArmed, unloading the module, when SystemTap never arms the probe", async () => {
    await standIns.staprun({ neverArm: true, onSigint: [{ out: ["E\t0"] }, { exit: 0 }] });
    const state = await runTrace(standIns.request({ durationSeconds: 60 }), standIns.deps({ script, armTimeoutMs: 300 }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ProbeNotArmed", cannotTrace: true });
    expect(state.outcome?.phase === "Failed" && state.outcome.message).toMatch(/did not arm its probes within 0s, so nothing was counted/);
    expect(state.startTime).toBeUndefined();
    expect(standIns.loadedModules()).toEqual([]);
  });

  it("gives staprun only the validated module parameters, reasons as this kernel's numbers", async () => {
    const out = new ProbeOutput();
    await standIns.staprun({ steps: [{ out: out.interval([]) }], onSigint: [{ out: [out.end()] }, { exit: 0 }] });

    const state = await runTrace(
      standIns.request({ intervalSeconds: 5, interfaces: ["lo", "v*"], reasons: ["NO_SOCKET", "NEIGH_FAILED"] }),
      standIns.deps({ script }),
      stopAfter(1),
    );

    expect(state.outcome).toEqual({ phase: "Completed" });
    const ko = path.join(standIns.cacheDir, RELEASE, `${MODULE}.ko`);
    expect(theProbeRun().argv).toEqual([
      "-R",
      ko,
      "interval_s=5",
      "interfaces=lo,v*",
      `reasons=${REASON.NO_SOCKET},${REASON.NEIGH_FAILED}`,
      "max_cpu_pct=5",
      `cpus=${FIXTURE_CPUS}`,
    ]);
    // stap got the fixed script and nothing from the request.
    // The script's own stap-flags line (lock and skip limits) goes to stap; nothing else does.
    expect(standIns.compiles().map((e) => e.argv)).toEqual([
      ["-r", RELEASE, "-p4", "-m", MODULE, "-DMAXTRYLOCK=1000", "-DMAXSKIPPED=1000000", "-DMAXBACKTRACE=24", script.path],
    ]);
  });

  it("with stacks on, asks the probe for them and reports the top rows' stacks from udp_rcv outwards, and the probe's cost", async () => {
    const out = new ProbeOutput();
    // callers() as the probe prints it: the tracepoint's iterator and sk_skb_reason_drop, then
    // udp_rcv at the drop's own location, then its callers.
    const frames = ["0xffffffffac22073c", "0xffffffffac1987f1", LOC.udpRcv, "0xffffffffac2a39ab", "0xffffffffac2a3b6c", "0xffffffffac1c315d"];
    await standIns.staprun({
      steps: [
        {
          out: out.interval([row(300, LOC.udpRcv, "lo", NETNS.root, REASON.NO_SOCKET)], 0, {
            stacks: [stackLine(300, LOC.udpRcv, REASON.NO_SOCKET, frames)],
            stackOverflow: 2,
            hits: 400,
            probeNs: 120_000,
            elapsedNs: 1_000_000_000,
          }),
        },
      ],
      onSigint: [{ out: [out.end()] }, { exit: 0 }],
    });
    const state = await runTrace(standIns.request({ stacks: true, maxProbeCPUPercent: 20 }), standIns.deps({ script }), stopAfter(1));

    expect(theProbeRun().argv?.slice(2)).toEqual(["interval_s=1", "stacks=1", "max_cpu_pct=20", `cpus=${FIXTURE_CPUS}`]);
    // The module with the stacks handler is another build: the script argument, its own name.
    const compiled = standIns.compiles().map((e) => e.argv);
    expect(compiled).toHaveLength(1);
    expect(compiled[0]?.at(-1)).toBe("stacks");
    expect(compiled[0]?.at(-2)).toBe(script.path);
    expect(compiled[0]?.[4]).not.toBe(MODULE);
    const report = reportStatus(state);
    expect(report.rows[0]?.stacks).toEqual([
      {
        count: 300,
        frames: ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0xab", "ip_local_deliver_finish+0x7c", "__netif_receive_skb_one_core+0x8d"],
      },
    ]);
    expect(report.probeCost).toEqual({
      hits: 400,
      handlerNanoseconds: 120_000,
      elapsedNanoseconds: 1_000_000_000,
      cpus: FIXTURE_CPUS,
      nanosecondsPerHit: 300,
      cpuPercent: 0.003,
      peakIntervalCPUPercent: 0.003,
      notCounted: { mapFull: 0, skipped: 0, stackTableFull: 2 },
    });
    expect(report.message).toContain("2 stack samples not stored: the probe's stack table was full");
  });

  it("refuses an interface filter that is not a valid name before any staprun starts", async () => {
    await standIns.staprun({});
    await expect(runTrace(standIns.request({ interfaces: ['eth0"; system("reboot")'] }), standIns.deps({ script }))).rejects.toThrow(/interfaces/);
    expect(standIns.probeRuns()).toEqual([]);
  });

  it("stops early on abort (SIGTERM) and keeps the counts so far, the last partial interval included", async () => {
    const { first, second, last } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
    const controller = new AbortController();
    const { updates } = recorder();
    const started = Date.now();

    const state = await runTrace(standIns.request({ durationSeconds: 60 }), standIns.deps({ script }), {
      signal: controller.signal,
      onUpdate: (s) => {
        updates.push({ phase: s.phase, intervals: s.snapshot.intervals, total: s.snapshot.total });
        if (s.snapshot.intervals === 2) controller.abort();
      },
    });

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.snapshot.rows).toEqual(FIXTURE_ROWS);
    expect(state.snapshot.total).toBe(551);
    expect(state.snapshot.intervals).toBe(3);
    expect(updates.at(-1)).toEqual({ phase: "Completed", intervals: 3, total: 551 });
    expect(standIns.events(theProbeRun().pid)).toEqual(["start", "inserted", "sigint", "exit"]);
  });

  it("does not load the probe at all when stopped before it started (SIGTERM while compiling)", async () => {
    await standIns.staprun({ steps: [{ out: fixtureIntervals().first }], onSigint: [{ exit: 0 }] });
    const state = await runTrace(standIns.request({ durationSeconds: 60 }), standIns.deps({ script }), { signal: AbortSignal.abort() });
    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.notes).toEqual(["stopped before the probe started: nothing was counted"]);
    expect(state.snapshot.total).toBe(0);
    expect(standIns.compiles()).toHaveLength(1);
    expect(standIns.probeRuns()).toEqual([]);
  });

  it("waits for a staprun slow to flush, within the grace period", async () => {
    const { first, second, last } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: [...first, ...second] }], sigintDelayMs: 400, onSigint: [{ out: last }, { exit: 0 }] });
    const state = await runTrace(standIns.request(), standIns.deps({ script, stopGraceMs: 5_000 }), stopAfter(2));
    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.snapshot.total).toBe(551);
  });
});

describe("the module cache", () => {
  it("compiles on a miss, then loads the cached module without stap", async () => {
    const out = new ProbeOutput();
    await standIns.staprun({
      steps: [{ out: out.interval([row(1, LOC.udpRcv, "lo", NETNS.root, REASON.NO_SOCKET)]) }],
      onSigint: [{ out: [out.end()] }, { exit: 0 }],
    });

    const first = await runTrace(standIns.request(), standIns.deps({ script }), stopAfter(1));
    expect(first.outcome).toEqual({ phase: "Completed" });
    expect(first.probe?.cacheHit).toBe(false);
    expect(first.probe?.compileSeconds).toBeGreaterThanOrEqual(0);
    expect(standIns.compiles()).toHaveLength(1);
    expect(existsSync(path.join(standIns.cacheDir, RELEASE, `${MODULE}.ko`))).toBe(true);
    expect(existsSync(path.join(standIns.cacheDir, RELEASE, `${MODULE}.json`))).toBe(true);

    const second = await runTrace(standIns.request(), standIns.deps({ script }), stopAfter(1));
    expect(second.outcome).toEqual({ phase: "Completed" });
    expect(second.probe).toEqual({ moduleName: MODULE, systemtapVersion: SYSTEMTAP_VERSION, cacheHit: true, compileSeconds: 0 });
    expect(standIns.compiles()).toHaveLength(1);
    expect(standIns.probeRuns()).toHaveLength(2);
  });

  it("reports a compile as a cache miss however fast stap was", async () => {
    const out = new ProbeOutput();
    await standIns.staprun({ steps: [{ out: out.interval([]) }], onSigint: [{ out: [out.end()] }, { exit: 0 }] });
    const state = await runTrace(standIns.request(), standIns.deps({ script }), stopAfter(1));
    expect(state.probe?.cacheHit).toBe(false);
    expect(standIns.compiles()).toHaveLength(1);
  });

  it("fails CompileFailed with stap's own text when stap cannot compile, and starts no staprun", async () => {
    await standIns.stap({ exitCode: 1, stderr: SYSTEMTAP_TEXT.pass2Failure });
    await standIns.staprun({});
    const state = await runTrace(standIns.request(), standIns.deps({ script }));
    expect(state.phase).toBe("Failed");
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "CompileFailed", cannotTrace: true });
    const message = state.outcome?.phase === "Failed" ? state.outcome.message : "";
    expect(message).toContain(`stap could not compile the probe for kernel ${RELEASE}`);
    expect(message).toContain("semantic error: resolution failed in tracepoint builder");
    expect(message).toContain("Pass 2: analysis failed.  [man error::pass2]");
    expect(standIns.probeRuns()).toEqual([]);
    expect(existsSync(path.join(standIns.cacheDir, RELEASE, `${MODULE}.ko`))).toBe(false);
  });

  it("loads a module `droptrace compile` built, on a node without stap or headers", async () => {
    const printed: string[] = [];
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    let compiled: number;
    let again: number;
    try {
      compiled = await compileCommand({ kernelRelease: RELEASE, cacheDir: standIns.cacheDir }, FAKE_STAP);
      again = await compileCommand({ kernelRelease: RELEASE, cacheDir: standIns.cacheDir }, FAKE_STAP);
    } finally {
      stdout.mockRestore();
    }
    const ko = path.join(standIns.cacheDir, RELEASE, `${MODULE}.ko`);
    expect(compiled).toBe(0);
    expect(again).toBe(0);
    expect(printed).toEqual([
      expect.stringMatching(new RegExp(`^${escapeRegExp(ko)} \\(compiled in [0-9.]+s; SystemTap ${escapeRegExp(SYSTEMTAP_VERSION)}\\)\n$`)),
      `${ko} (already in the cache; SystemTap ${SYSTEMTAP_VERSION})\n`,
    ]);
    expect(standIns.compiles()).toHaveLength(1);

    const { first, second, last } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
    const bare = standIns.host({ stap: false, headers: false });
    const state = await runTrace(standIns.request(), standIns.deps({ script, host: bare, stapCommand: "/nonexistent/stap" }), stopAfter(2));

    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.probe).toEqual({ moduleName: MODULE, systemtapVersion: SYSTEMTAP_VERSION, cacheHit: true, compileSeconds: 0 });
    expect(state.snapshot.total).toBe(551);
    expect(theProbeRun().argv?.[1]).toBe(ko);
    expect(standIns.compiles()).toHaveLength(1);
  });

  it("fails HeadersMissing when stap finds no build tree", async () => {
    await standIns.stap({ exitCode: 1, stderr: SYSTEMTAP_TEXT.headersMissing(RELEASE) });
    await standIns.staprun({});
    const state = await runTrace(standIns.request(), standIns.deps({ script }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "HeadersMissing", cannotTrace: true });
    expect(state.outcome?.phase === "Failed" ? state.outcome.message : "").toContain(`apt-get install linux-headers-${RELEASE}`);
  });
});

describe("how staprun fails", () => {
  it("fails ModuleRejected (cannot trace) when the kernel refuses the module at insert", async () => {
    const ko = path.join(standIns.cacheDir, RELEASE, `${MODULE}.ko`);
    await standIns.staprun({ insertError: { stderr: SYSTEMTAP_TEXT.insertNotPermitted(ko), exitCode: 1 } });
    const state = await runTrace(standIns.request(), standIns.deps({ script }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ModuleRejected", cannotTrace: true });
    const message = state.outcome?.phase === "Failed" ? state.outcome.message : "";
    expect(message).toContain("run as root with CAP_SYS_MODULE");
    expect(message).toContain(`Couldn't insert module '${ko}': Operation not permitted`);
    expect(state.snapshot.intervals).toBe(0);
    expect(standIns.loadedModules()).toEqual([]);
  });

  it("names Secure Boot when the kernel wants a signed module", async () => {
    const ko = path.join(standIns.cacheDir, RELEASE, `${MODULE}.ko`);
    await standIns.staprun({ insertError: { stderr: SYSTEMTAP_TEXT.insertKeyRejected(ko), exitCode: 1 } });
    const state = await runTrace(standIns.request(), standIns.deps({ script }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ModuleRejected", cannotTrace: true });
    expect(state.outcome?.phase === "Failed" ? state.outcome.message : "").toMatch(/Secure Boot/);
  });

  it("fails ModuleInUse when a module of the same name is loaded", async () => {
    const ko = path.join(standIns.cacheDir, RELEASE, `${MODULE}.ko`);
    await standIns.staprun({ insertError: { stderr: SYSTEMTAP_TEXT.insertFileExists(ko), exitCode: 1 } });
    const state = await runTrace(standIns.request(), standIns.deps({ script }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ModuleInUse", cannotTrace: false });
  });

  it("fails ProbeError with SystemTap's text when the probe stops on an error mid-run, keeping the counts so far", async () => {
    const { first, second } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { out: second }, { sleepMs: 50 }, { err: SYSTEMTAP_TEXT.mapOverflow }, { exit: 1 }] });
    const state = await runTrace(standIns.request(), standIns.deps({ script }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ProbeError", cannotTrace: false });
    expect(state.outcome?.phase === "Failed" ? state.outcome.message : "").toContain("ERROR: Array overflow, check MAXMAPENTRIES");
    expect(state.snapshot.intervals).toBe(2);
    expect(state.snapshot.total).toBe(511);
    expect(standIns.loadedModules()).toEqual([]);
  });

  it("ends ProbeOverload, completed with the counts so far, when SystemTap's own overload check stops the probe", async () => {
    await standIns.staprun({ steps: [{ out: fixtureIntervals().first }, { sleepMs: 50 }, { err: SYSTEMTAP_TEXT.overload }, { exit: 1 }] });
    const state = await runTrace(standIns.request(), standIns.deps({ script }));
    expect(state.outcome).toMatchObject({ phase: "Completed", stoppedEarly: { reason: "ProbeOverload" } });
    const message = state.outcome?.phase === "Completed" ? (state.outcome.stoppedEarly?.message ?? "") : "";
    // dt_overload.err: 1504130 of 1000000 cycles, over a threshold of 200000.
    expect(message).toMatch(
      /^SystemTap stopped the probe: its handlers took 150\.4% of one CPU \(1504130 of the last 1000000 cycles\), over SystemTap's own threshold of 20\.0%: stopped after \d+ s; /,
    );
    // This stand-in printed no end record, as SystemTap skips end probes after an error.
    expect(message).toContain("the probe stopped before printing its last interval, so its counts are missing");
    expect(state.snapshot.total).toBe(309);
    const report = reportStatus(state);
    expect(report).toMatchObject({ phase: "Completed", reason: "ProbeOverload", totalDrops: 309 });
    expect(report.message?.startsWith(message)).toBe(true);
    expect(standIns.loadedModules()).toEqual([]);
  });

  it("ends ProbeOverload, completed with every count, when the probe's own guard stops it", async () => {
    const out = new ProbeOutput();
    await standIns.staprun({
      steps: [
        { out: out.interval([row(300, LOC.udpRcv, "lo", NETNS.root, REASON.NO_SOCKET)]) },
        { sleepMs: 1100 },
        // The guard stops the trace; the probe then ends normally: the last interval, then E.
        { out: [overloadLine(73_000, 5), ...out.interval([row(40, LOC.neighInvalidate, "va", NETNS.a, REASON.NEIGH_FAILED)]), out.end()] },
        { exit: 0 },
      ],
    });
    const state = await runTrace(standIns.request({ maxProbeCPUPercent: 5 }), standIns.deps({ script }));
    expect(state.outcome).toEqual({
      phase: "Completed",
      stoppedEarly: {
        reason: "ProbeOverload",
        message: expect.stringMatching(
          /^the probe used 7\.3% of the node's CPU \(limit 5%, spec\.maxProbeCPUPercent\): stopped after [1-9]\d* s; counts so far are kept$/,
        ) as string,
      },
    });
    expect(state.snapshot).toMatchObject({ total: 340, intervals: 2, finished: true, protocolErrors: 0 });
    expect(reportStatus(state)).toMatchObject({ phase: "Completed", reason: "ProbeOverload", totalDrops: 340 });
  });

  it("fails ProbeError when the probe refuses a setting as it starts (staprun exits 1 at once)", async () => {
    await standIns.staprun({ steps: [{ err: SYSTEMTAP_TEXT.badSetting }, { exit: 1 }] });
    const state = await runTrace(standIns.request(), standIns.deps({ script }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ProbeError", cannotTrace: false });
    expect(state.outcome?.phase === "Failed" ? state.outcome.message : "").toContain("ERROR: droptrace: bad interface pattern 'bad/name'");
    expect(state.snapshot.intervals).toBe(0);
    expect(standIns.loadedModules()).toEqual([]);
  });

  it("fails ProbeKilled when staprun dies mid-run, keeps the counts so far and unloads the module it left", async () => {
    const { first } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { sleepMs: 50 }, { killSelf: true }] });
    const modules = standIns.moduleTable();
    const state = await runTrace(standIns.request(), standIns.deps({ script, modules }));

    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ProbeKilled", cannotTrace: false });
    expect(state.outcome?.phase === "Failed" ? state.outcome.message : "").toContain("staprun was killed (SIGKILL)");
    expect(state.snapshot.rows).toEqual(FIRST_INTERVAL_ROWS);
    expect(state.snapshot.total).toBe(309);
    const run = theProbeRun();
    expect(isAlive(run.pid)).toBe(false);
    // A killed staprun leaves its module loaded (under staprun -R's name for it): the agent removes it.
    expect(modules.removed).toEqual([STAPRUN_LOADS(run.pid)]);
    expect(standIns.loadedModules()).toEqual([]);
    expect(await new LoadedModuleRecord(standIns.cacheDir, "run").read()).toBeUndefined();
  });

  it("kills a staprun that ignores SIGINT past the grace period: ProbeKilled, no process and no module left", async () => {
    const { first } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }], ignoreSigint: true });
    const modules = standIns.moduleTable();
    let stopped = Date.now();
    const state = await runTrace(
      standIns.request(),
      standIns.deps({ script, modules, stopGraceMs: 600 }),
      stopAfter(1, () => (stopped = Date.now())),
    );

    expect(Date.now() - stopped).toBeGreaterThanOrEqual(600);
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ProbeKilled" });
    expect(state.outcome?.phase === "Failed" ? state.outcome.message : "").toMatch(/did not exit within \d+s of SIGINT and was killed/);
    expect(state.snapshot.total).toBe(309);
    const run = theProbeRun();
    expect(standIns.events(run.pid)).toEqual(["start", "inserted", "sigint"]);
    expect(isAlive(run.pid)).toBe(false);
    expect(modules.removed).toEqual([STAPRUN_LOADS(run.pid)]);
    expect(standIns.loadedModules()).toEqual([]);
  });

  it("fails ModuleLeftLoaded when the module a killed staprun left cannot be removed", async () => {
    await standIns.staprun({ steps: [{ killSelf: true }] });
    const modules = standIns.moduleTable();
    modules.failRemove = "ERROR: Couldn't remove module 'x': Device or resource busy.";
    const state = await runTrace(standIns.request(), standIns.deps({ script, modules }));
    // The kill is the first cause; the module still loaded must not go unmentioned either.
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ProbeKilled" });
    const run = theProbeRun();
    expect(standIns.loadedModules()).toEqual([STAPRUN_LOADS(run.pid)]);
    expect(reportStatus(state).message).toContain(`module ${STAPRUN_LOADS(run.pid)} is still loaded`);
  });

  it("fails ProbeOutputIncomplete when staprun stops cleanly without the end record", async () => {
    const { first } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }], onSigint: [{ exit: 0 }] });
    const state = await runTrace(standIns.request(), standIns.deps({ script }), stopAfter(1));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ProbeOutputIncomplete" });
    expect(state.snapshot.total).toBe(309);
  });

  it("counts the probe hits SystemTap skipped as uncounted drops, and says so", async () => {
    const out = new ProbeOutput();
    await standIns.staprun({ steps: [{ out: out.interval([]) }], onSigint: [{ out: [out.end()] }, { err: SYSTEMTAP_TEXT.skipped }, { exit: 0 }] });
    const state = await runTrace(standIns.request(), standIns.deps({ script }), stopAfter(1));
    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.notes).toEqual(["SystemTap skipped 1 probe hits under load: those drops are in uncountedDrops, not in any row"]);
    expect(reportStatus(state).uncountedDrops).toBe(1);
  });
});

describe("what the probe prints", () => {
  it("counts garbage lines as protocol errors in the report's message instead of dropping them", async () => {
    const out = new ProbeOutput();
    const first = out.interval([row(300, LOC.udpRcv, "lo", NETNS.root, REASON.NO_SOCKET)]);
    await standIns.staprun({
      steps: [{ out: first }, { out: ["WARNING: this went to stdout", "R\t12\tnot-an-address\tlo\t0\t3"] }, { raw: "R\t1\t0xffffffffac2fa6" }],
      // The row cut in two above ends here: it belongs to the second interval.
      onSigint: [{ raw: "32\tlo\t0\t3\n" }, { out: ["I\t2\t1\t0", "E\t2"] }, { exit: 0 }],
    });
    const state = await runTrace(standIns.request(), standIns.deps({ script }), stopAfter(1));

    expect(state.outcome).toEqual({ phase: "Completed" });
    // A line split across two writes is still one line; the two garbage lines are counted.
    expect(state.snapshot.total).toBe(301);
    expect(state.snapshot.intervals).toBe(2);
    expect(state.snapshot.protocolErrors).toBe(2);
    const message = reportStatus(state).message ?? "";
    expect(message).toMatch(/^2 malformed probe output lines, first: probe printed a malformed line "WARNING: this went to stdout"/);
  });

  it("fails ReasonUnknown (a bad request) for a reason name this kernel does not have, before loading anything", async () => {
    await standIns.staprun({});
    const state = await runTrace(standIns.request({ reasons: ["NO_SOCKET", "NO_SUCH_REASON"] }), standIns.deps({ script }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "ReasonUnknown", badRequest: true, cannotTrace: false });
    expect(state.outcome?.phase === "Failed" ? state.outcome.message : "").toContain("NO_SUCH_REASON");
    expect(standIns.probeRuns()).toEqual([]);
    expect(standIns.compiles()).toEqual([]);
  });

  it("fails NotRoot (cannot trace) from preflight, starting nothing", async () => {
    await standIns.staprun({});
    const state = await runTrace(standIns.request(), standIns.deps({ script, host: standIns.host({ uid: 1000 }) }));
    expect(state.outcome).toMatchObject({ phase: "Failed", reason: "NotRoot", cannotTrace: true });
    expect(standIns.probeRuns()).toEqual([]);
  });
});

describe("modules left by a killed run", () => {
  it("removes this owner's leftover module before starting, and says so", async () => {
    const leftover = STAPRUN_LOADS(4242);
    await new LoadedModuleRecord(standIns.cacheDir, "dt1").write(leftover);
    await new LoadedModuleRecord(standIns.cacheDir, "other-trace").write(STAPRUN_LOADS(4343));
    await writeFile(standIns.modulesFile, `${leftover}\n${STAPRUN_LOADS(4343)}\n`);
    const out = new ProbeOutput();
    await standIns.staprun({ steps: [{ out: out.interval([]) }], onSigint: [{ out: [out.end()] }, { exit: 0 }] });
    const modules = standIns.moduleTable();

    const state = await runTrace(standIns.request({ owner: "dt1" }), standIns.deps({ script, modules }), stopAfter(1));

    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.notes).toEqual([`removed module ${leftover}, left loaded by an earlier run that was killed`]);
    // Removed before staprun started, and only this owner's: another trace's live module stays.
    expect(modules.removed).toEqual([leftover]);
    expect(standIns.loadedModules()).toEqual([STAPRUN_LOADS(4343)]);
    expect(await new LoadedModuleRecord(standIns.cacheDir, "dt1").read()).toBeUndefined();
  });

  it("records the module staprun loaded while it runs, under the name staprun -R gives it", async () => {
    const { first, second, last } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
    const controller = new AbortController();
    let recorded: string | undefined;
    let loaded: string[] = [];
    await runTrace(standIns.request({ owner: "dt1", durationSeconds: 60 }), standIns.deps({ script }), {
      signal: controller.signal,
      onUpdate: async (s) => {
        if (s.phase !== "Running" || recorded !== undefined) return;
        recorded = await new LoadedModuleRecord(standIns.cacheDir, "dt1").read();
        loaded = standIns.loadedModules();
        controller.abort();
      },
    });
    expect(loaded).toHaveLength(1);
    expect(recorded).toBe(loaded[0]);
    expect(recorded).toBe(STAPRUN_LOADS(theProbeRun().pid));
  });
});
