// `droptrace run` with the stand-in SystemTap: what the user reads and the exit code they get.
import path from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCommand, type RunDeps, type RunIo } from "../../src/cli/run.js";
import { ContainerAttributor } from "../../src/trace/container-attributor.js";
import { FakeProc } from "../trace/fake-proc.js";
import { parseRunFlags, type RunFlags, type RunSettings } from "../../src/cli/run-options.js";
import { DropTraceReportStatusSchema } from "../../src/api/report.js";
import { DROP_EXPLANATIONS } from "../../src/api/drop-explanations.js";
import { loadProbeScript } from "../../src/probe/script.js";
import type { TraceDeps } from "../../src/trace/session.js";
import { until } from "../support/until.js";
import { readFixture } from "../trace/fixture.js";
import {
  FIXTURE_ROWS,
  FAKE_STAP,
  FAKE_STAPRUN,
  fixtureIntervals,
  LOC,
  NETNS,
  overloadLine,
  ProbeOutput,
  REASON,
  RELEASE,
  row,
  stackLine,
  StandIns,
  SYSTEMTAP_TEXT,
  SYSTEMTAP_VERSION,
} from "../trace/stand-ins.js";
import { UsageError } from "../../src/api/exit-codes.js";

const script = loadProbeScript();
let standIns: StandIns;
let proc: FakeProc;

/** The fixture machine's processes: its own namespace (pid 1's), and a containerd container in namespace `a`; nobody in `b`. */
const CONTAINER = "4f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const CONTAINER_CGROUP = `/system.slice/cri-containerd-${CONTAINER}.scope`;

beforeEach(async () => {
  standIns = await StandIns.create();
  proc = await FakeProc.create([
    { pid: 1, netns: NETNS.root, cgroup: "/init.scope" },
    { pid: 2210, netns: NETNS.a, cgroup: CONTAINER_CGROUP },
  ]);
});

afterEach(async () => {
  await proc.dispose();
  expect(await standIns.dispose()).toEqual([]);
});

/** Flags as the CLI parses them, the duration then cut to a second: the stand-in needs no longer. */
function settings(flags: Partial<RunFlags> = {}, durationSeconds = 1): RunSettings {
  const parsed = parseRunFlags({ duration: "5s", interface: [], reason: [], output: "table", cacheDir: standIns.cacheDir, ...flags });
  return { ...parsed, durationSeconds };
}

function deps(overrides: Partial<TraceDeps> = {}): RunDeps {
  return {
    attributor: new ContainerAttributor(proc.root),
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
    expect(lines.find((line) => line.includes("veth_xmit+0x1c3"))).toMatch(
      /│ 7 +│ veth_xmit\+0x1c3 +│ va +│ 4026532111 +│ veth +│ NOT_SPECIFIED +│ depends +│/,
    );
    expect(lines.find((line) => line.includes(" lo "))).toMatch(/│ 300 +│ udp_rcv\+0x452 +│ lo +│ 4026531833 +│ kernel +│ NO_SOCKET +│ depends +│ host +│$/);
    expect(lines.find((line) => line.includes("neigh_invalidate"))).toMatch(/│ NEIGH_FAILED +│ fault +│ containerd:\/\/4f1e2d3c4b5a +│$/);
    // Namespace a is the container's; nothing on this machine lives in namespace b.
    expect(lines.find((line) => line.includes("veth_xmit"))).toMatch(/│ veth +│ NOT_SPECIFIED +│ depends +│ containerd:\/\/4f1e2d3c4b5a +│$/);
    expect(lines.find((line) => line.includes(" vb ") && line.includes("NO_SOCKET"))).toMatch(/│ NO_SOCKET +│ depends +│ - +│$/);
    expect(io.out()).toContain("551 drops in 3 intervals\n");
    // Under the table: each distinct reason of the rows, in their order, with its class, meaning and next step.
    const explained = lines.slice(lines.indexOf("What the top reasons mean:") + 1);
    expect(explained.filter((line) => !line.startsWith("  ")).map((line) => /^([A-Z_]+) \((\w+)\): /.exec(line)?.slice(1, 3) ?? line)).toEqual([
      ["NO_SOCKET", "depends"],
      ["NEIGH_FAILED", "fault"],
      ["NOT_SPECIFIED", "depends"],
      ["QDISC_DROP", "depends"],
      "",
    ]);
    expect(explained[0]).toBe(`NO_SOCKET (depends): ${DROP_EXPLANATIONS.NO_SOCKET.meaning}`);
    expect(explained[1]).toBe(`  next: ${DROP_EXPLANATIONS.NO_SOCKET.nextStep ?? ""}`);
    expect(explained[1]).toMatch(/targetPort/);
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
    const container = { id: CONTAINER, runtime: "containerd", cgroup: CONTAINER_CGROUP };
    expect(status.rows).toEqual(
      FIXTURE_ROWS.map((row) =>
        row.netns === NETNS.root
          ? { ...row, attribution: "host" }
          : row.netns === NETNS.a
            ? { ...row, attribution: "netns", container }
            : { ...row, attribution: "unknown" },
      ),
    );
    // Counted rows are never dropped for want of a name.
    expect(status.rows.reduce((sum, r) => sum + r.count, 0)).toBe(551);
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

  it("with --stacks prints the top rows' code paths once per drop site and reason, and what the probe cost", async () => {
    const out = new ProbeOutput();
    const frames = ["0xffffffffac22073c", LOC.udpRcv, "0xffffffffac2a39ab", "0xffffffffac2a3b6c"];
    await standIns.staprun({
      steps: [
        {
          out: out.interval([row(300, LOC.udpRcv, "lo", NETNS.root, REASON.NO_SOCKET), row(190, LOC.udpRcv, "vb", NETNS.b, REASON.NO_SOCKET)], 0, {
            stacks: [stackLine(480, LOC.udpRcv, REASON.NO_SOCKET, frames), stackLine(10, LOC.udpRcv, REASON.NO_SOCKET, frames.slice(0, 3))],
            hits: 12_345,
            probeNs: 14_814_000,
            elapsedNs: 10_000_000_000,
          }),
        },
      ],
      onSigint: [{ out: [out.end()] }, { exit: 0 }],
    });
    const io = capture();
    expect(await runCommand(settings({ stacks: true }), deps(), io)).toBe(0);
    expect(standIns.probeRuns()[0]?.argv).toContain("stacks=1");
    const text = io.out();
    // 14,814,000 ns over 10 s on 4 CPUs: 0.037%; 1,200 ns a hit.
    expect(text).toContain(
      "490 drops in 1 intervals\nprobe: 12,345 hits, 1.2 µs per hit handler time, 0.04% of CPU (handler time excludes SystemTap's own entry and exit)\n",
    );
    expect(text).toContain(
      [
        "Code paths of the top rows (per drop site and reason, on any interface; count, then the dropping function and its callers):",
        "udp_rcv+0x452 NO_SOCKET:",
        "  480  udp_rcv+0x452",
        "       ip_protocol_deliver_rcu+0xab",
        "       ip_local_deliver_finish+0x7c",
        "   10  udp_rcv+0x452",
        "       ip_protocol_deliver_rcu+0xab",
        "",
      ].join("\n"),
    );
    // Both rows share the site's stacks: printed once.
    expect(text.split("udp_rcv+0x452 NO_SOCKET:")).toHaveLength(2);
  });

  it("exits 1 when the probe's guard stops it for its CPU cost, printing every count and why it stopped", async () => {
    const out = new ProbeOutput();
    await standIns.staprun({
      steps: [{ out: [...out.interval([row(300, LOC.udpRcv, "lo", NETNS.root, REASON.NO_SOCKET)]), overloadLine(123_400, 10), out.end()] }, { exit: 0 }],
    });
    const io = capture();
    expect(await runCommand(settings({ maxProbeCpuPercent: "10" }, 60), deps(), io)).toBe(1);
    expect(standIns.probeRuns()[0]?.argv).toContain("max_cpu_pct=10");
    expect(io.out()).toContain("300 drops in 1 intervals\n");
    expect(io.err()).toMatch(
      /^droptrace run: ProbeOverload: the probe used 12\.3% of the node's CPU \(limit 10%, spec\.maxProbeCPUPercent\): stopped after \d+ s; counts so far are kept$/m,
    );
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

describe("droptrace run's stack and CPU-limit flags", () => {
  const flags = (more: Partial<RunFlags>): RunFlags => ({ duration: "30s", interface: [], reason: [], output: "table", ...more });

  it("default to no stacks and a 5% limit", () => {
    expect(parseRunFlags(flags({})).spec).toMatchObject({ stacks: false, maxProbeCPUPercent: 5 });
    expect(parseRunFlags(flags({ stacks: true, maxProbeCpuPercent: "50" })).spec).toMatchObject({ stacks: true, maxProbeCPUPercent: 50 });
  });

  it.each([
    ["0", /^--max-probe-cpu-percent: /],
    ["51", /^--max-probe-cpu-percent: /],
    ["2.5", /^--max-probe-cpu-percent must be a whole number of percent, not "2\.5"$/],
    ["five", /^--max-probe-cpu-percent must be a whole number/],
  ])("refuses --max-probe-cpu-percent %s with exit 2", (value, message) => {
    let thrown: unknown;
    try {
      parseRunFlags(flags({ maxProbeCpuPercent: value }));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).exitCode).toBe(2);
    expect((thrown as UsageError).message).toMatch(message);
  });
});
