// `droptrace run` with the stand-in SystemTap: what the user reads and the exit code they get.
import path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCommand, type RunIo } from "../../src/cli/run.js";
import { parseRunFlags, type RunFlags, type RunSettings } from "../../src/cli/run-options.js";
import { DropTraceReportStatusSchema } from "../../src/api/report.js";
import { loadProbeScript } from "../../src/probe/script.js";
import type { TraceDeps } from "../../src/trace/session.js";
import { until } from "../support/until.js";
import { readFixture } from "../trace/fixture.js";
import { FIXTURE_ROWS, FAKE_STAP, FAKE_STAPRUN, fixtureIntervals, RELEASE, StandIns, SYSTEMTAP_TEXT, SYSTEMTAP_VERSION } from "../trace/stand-ins.js";

const script = loadProbeScript();
let standIns: StandIns;

beforeEach(async () => {
  standIns = await StandIns.create();
});

afterEach(async () => {
  expect(await standIns.dispose()).toEqual([]);
});

/** Flags as the CLI parses them, the duration then cut to a second: the stand-in needs no longer. */
function settings(flags: Partial<RunFlags> = {}, durationSeconds = 1): RunSettings {
  const parsed = parseRunFlags({ duration: "5s", interface: [], reason: [], output: "table", cacheDir: standIns.cacheDir, ...flags });
  return { ...parsed, durationSeconds };
}

function deps(overrides: Partial<TraceDeps> = {}): Partial<TraceDeps> {
  return {
    host: standIns.host(),
    modules: standIns.moduleTable(),
    script,
    stapCommand: FAKE_STAP,
    staprunCommand: FAKE_STAPRUN,
    stopGraceMs: 3_000,
    ...overrides,
  };
}

function capture(): RunIo & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: (text) => (out += text),
    stderr: (text) => (err += text),
    out: () => out,
    err: () => err,
  };
}

async function fixtureScenario(): Promise<void> {
  const { first, second, last } = fixtureIntervals();
  await standIns.staprun({ steps: [{ out: first }, { sleepMs: 100 }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
}

describe("droptrace run", () => {
  it("prints the table, rows sorted by count, and exits 0", async () => {
    await fixtureScenario();
    const io = capture();

    expect(await runCommand(settings(), deps(), io)).toBe(0);

    const lines = io.out().split("\n");
    const counts = lines
      .map((line) => /^│ (\d+) /.exec(line)?.[1])
      .filter((c) => c !== undefined)
      .map(Number);
    expect(counts).toEqual(FIXTURE_ROWS.map((r) => r.count));
    expect(counts).toEqual([300, 190, 40, 7, 6, 5, 3]);
    expect(lines.find((line) => line.includes("veth_xmit+0x1c3"))).toMatch(/│ 7 +│ veth_xmit\+0x1c3 +│ va +│ 4026532111 +│ veth +│ NOT_SPECIFIED +│/);
    expect(lines.find((line) => line.includes(" lo "))).toMatch(/│ 300 +│ udp_rcv\+0x452 +│ lo +│ 4026531833 +│ kernel +│ NO_SOCKET +│/);
    expect(io.out()).toContain("551 drops in 3 intervals\n");
    // Progress goes to stderr: when the probe is armed, then one line per interval.
    const progress = io.err().split("\n");
    expect(progress[0]).toMatch(/^armed: counting drops from now on, for 1s \(the probe took \d+\.\ds to load and arm\)$/);
    expect(progress.slice(1).map((l) => /^tracing: .* (\d+) drops so far$/.exec(l)?.[1])).toEqual(["309", "511", "551", undefined]);
  });

  it("--output json prints the final report status, valid against the API's schema", async () => {
    await fixtureScenario();
    const io = capture();

    expect(await runCommand(settings({ output: "json" }), deps(), io)).toBe(0);

    const status = DropTraceReportStatusSchema.parse(JSON.parse(io.out()));
    expect(status).toMatchObject({ phase: "Completed", kernelRelease: RELEASE, intervals: 3, totalDrops: 551, otherRows: 0, otherDrops: 0, uncountedDrops: 0 });
    expect(status.rows).toEqual(FIXTURE_ROWS);
    expect(status.probe).toMatchObject({ systemtapVersion: SYSTEMTAP_VERSION, cacheHit: false });
    expect(status.reason).toBeUndefined();
    // stdout holds the JSON alone; progress goes to stderr.
    expect(io.err()).not.toContain("{");
  });

  it("exits 2 for a reason name this kernel does not have", async () => {
    await fixtureScenario();
    const io = capture();
    // An older kernel: no NEIGH_FAILED in its tracepoint's reason table.
    const olderKernel = readFixture("kfree_skb.format").replace('{ 58, "NEIGH_FAILED" }, ', "");
    const host = standIns.host({ tracepointFormat: olderKernel });
    expect(await runCommand(settings({ reason: ["NO_SOCKET", "NEIGH_FAILED"] }), deps({ host }), io)).toBe(2);
    expect(io.err()).toMatch(/^droptrace run: ReasonUnknown: .*NEIGH_FAILED/);
    expect(io.out()).toBe("");
    expect(standIns.probeRuns()).toEqual([]);
  });

  it("exits 3 with every reason this machine cannot trace, and what to do", async () => {
    await fixtureScenario();
    const io = capture();
    const host = standIns.host({ uid: 1000, stap: false, headers: false });
    expect(await runCommand(settings(), deps({ host }), io)).toBe(3);
    expect(io.err()).toMatch(/^droptrace run: this machine cannot trace \(NotRoot\):\n/);
    expect(io.err()).toContain("  - loading a kernel module needs root: run droptrace with sudo");
    expect(io.err()).toContain("stap is not installed to compile one: `apt-get install systemtap`");
    expect(io.err()).toContain(`\`apt-get install linux-headers-${RELEASE}\``);
    expect(io.out()).toBe("");
  });

  it("exits 3 when the kernel refuses the module", async () => {
    const ko = path.join(standIns.cacheDir, RELEASE, "x.ko");
    await standIns.staprun({ insertError: { stderr: SYSTEMTAP_TEXT.insertNotPermitted(ko), exitCode: 1 } });
    const io = capture();
    expect(await runCommand(settings({}, 60), deps(), io)).toBe(3);
    expect(io.err()).toMatch(/^droptrace run: ModuleRejected: the kernel did not let the module load/);
  });

  it("exits 1 when staprun dies mid-run, still printing what was counted", async () => {
    await standIns.staprun({ steps: [{ out: fixtureIntervals().first }, { sleepMs: 50 }, { killSelf: true }] });
    const io = capture();
    expect(await runCommand(settings({ output: "table" }, 60), deps(), io)).toBe(1);
    expect(io.out()).toContain("309 drops in 1 intervals\n");
    expect(io.err()).toMatch(/^droptrace run: ProbeKilled: staprun was killed \(SIGKILL\)/m);
  });

  it("stops cleanly on Ctrl-C (SIGINT to droptrace) and prints everything counted", async () => {
    await fixtureScenario();
    const child = execa(process.execPath, ["--import", "tsx", path.resolve(import.meta.dirname, "run-process.ts")], {
      reject: false,
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: { ...standIns.env, RUN_TEST_CACHE_DIR: standIns.cacheDir },
    });
    try {
      // Wait for the probe's second interval, then interrupt droptrace alone (not its staprun).
      let progress = "";
      child.stderr.on("data", (chunk: Buffer) => {
        progress += chunk.toString();
      });
      await until("the second interval's progress line", () => progress.includes("511 drops so far"), { timeoutMs: 15_000, everyMs: 50 });
      child.kill("SIGINT");
      const result = await child;
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toContain("551 drops in 3 intervals");
      expect(standIns.events(standIns.probeRuns()[0]?.pid ?? 0)).toEqual(["start", "inserted", "sigint", "exit"]);
    } finally {
      child.kill("SIGKILL");
      await child;
    }
  });
});
