// Harness for the process tests: the stand-in stap and staprun in test/trace/fakes, a host that
// looks like the kernel-7.2-udp-neigh fixture's machine, a module table backed by the stand-ins'
// module file, and checks that no stand-in process outlives its test.
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { HostView } from "../../src/trace/preflight.js";
import type { ModuleTable } from "../../src/probe/loaded-modules.js";
import type { TraceDeps, TraceRequest } from "../../src/trace/session.js";
import { silentLogger } from "../../src/cli/log.js";
import { readFixture, readFixtureKallsyms } from "./fixture.js";

export const FAKES_DIR = path.resolve(import.meta.dirname, "fakes");
export const FAKE_STAP = path.join(FAKES_DIR, "stap");
/** A bash front that answers `-V` and execs ./staprun-replay (same pid) for module runs. */
export const FAKE_STAPRUN = path.join(FAKES_DIR, "staprun");
/** The fixture's kernel. */
export const RELEASE = "7.2.13+deb14-amd64";
/** `stap --version` of the capture in test/fixtures/kernel-guest (Debian's 5.6-1). */
export const SYSTEMTAP_VERSION = "5.6/0.196";

// ---- what the stand-ins replay ------------------------------------------------------------------

export type Step = { out: string[] } | { raw: string } | { err: string } | { sleepMs: number } | { exit: number } | { killSelf: true };

export interface StaprunScenario {
  insertError?: { stderr: string; exitCode: number };
  /** When the probe prints its armed record after inserting (default at once); never, with neverArm. */
  armDelayMs?: number;
  neverArm?: boolean;
  steps?: Step[];
  sigintDelayMs?: number;
  ignoreSigint?: boolean;
  onSigint?: Step[];
}

/** A compile that fails with `stderr` and `exitCode`. */
export interface StapScenario {
  exitCode: number;
  stderr: string;
}

/** Drop locations of the fixture's boot (stap-output.tsv), and one in the veth module (kallsyms). */
export const LOC = {
  udpRcv: "0xffffffffac2fa632", // udp_rcv+0x452
  neighInvalidate: "0xffffffffac1d1200", // neigh_invalidate+0x90
  ip6McInput: "0xffffffffac38171c", // ip6_mc_input+0x18c
  tcfKfreeSkbList: "0xffffffffac244fa2", // __tcf_kfree_skb_list+0x62
  vethXmit: "0xffffffffc0535cd3", // veth_xmit+0x1c3 [veth]
} as const;

/** Network namespace inodes, as test/fixtures/kernel-guest/netns-inums.txt recorded them (the root one is the kernel's fixed PROC_NET_INIT_INO). */
export const NETNS = { root: 4026531833, a: 4026532111, b: 4026532202 } as const;

/** This kernel's reason numbers (kfree_skb.format). */
export const REASON = { NOT_SPECIFIED: 2, NO_SOCKET: 3, NEIGH_FAILED: 58, QDISC_DROP: 64 } as const;

export function row(count: number, location: string, iface: string, netns: number, reason: number): string {
  return `R\t${count}\t${location}\t${iface}\t${netns}\t${reason}`;
}

export function stackLine(count: number, location: string, reason: number, frames: readonly string[]): string {
  return `S\t${count}\t${location}\t${reason}\t${frames.join(",")}`;
}

/** The guard's record: the probe stopped itself, its handler time `sharePpm` of the node's CPUs over the last second. */
export function overloadLine(sharePpm: number, limitPercent: number): string {
  return `O\t${sharePpm}\t${limitPercent}`;
}

/** What an interval record says besides its rows; by default no stacks and a cost that follows the rows. */
export interface IntervalExtras {
  stacks?: readonly string[];
  stackOverflow?: number;
  /** Default: the rows' drops plus 10 filtered out. */
  hits?: number;
  /** Default: 250 ns a hit. */
  probeNs?: number;
  /** Default: one second. */
  elapsedNs?: number;
}

/** Nanoseconds the stand-in probe's handler takes per hit, unless an interval says otherwise. */
export const STAND_IN_NS_PER_HIT = 250;

/** Numbers the probe's interval and end records as the real probe does. */
export class ProbeOutput {
  #seq = 0;

  /** The rows of one interval, its stacks and its `I` record, with the handler's cost. */
  interval(rows: readonly string[], overflow = 0, extras: IntervalExtras = {}): string[] {
    this.#seq += 1;
    const stacks = extras.stacks ?? [];
    const hits = extras.hits ?? rows.reduce((sum, line) => sum + Number(line.split("\t")[1]), 0) + 10;
    const probeNs = extras.probeNs ?? hits * STAND_IN_NS_PER_HIT;
    const elapsedNs = extras.elapsedNs ?? 1_000_000_000;
    return [
      ...rows,
      ...stacks,
      `I\t${this.#seq}\t${rows.length}\t${overflow}\t${stacks.length}\t${extras.stackOverflow ?? 0}\t${hits}\t${probeNs}\t${elapsedNs}`,
    ];
  }

  end(): string {
    return `E\t${this.#seq}`;
  }
}

/**
 * The fixture's drops in three intervals, the third printed by the end probe on SIGINT:
 * 309, then 202 more (511), then 40 more (551).
 */
export function fixtureIntervals(): { first: string[]; second: string[]; last: string[] } {
  const out = new ProbeOutput();
  const first = out.interval([
    row(300, LOC.udpRcv, "lo", NETNS.root, REASON.NO_SOCKET),
    row(5, LOC.ip6McInput, "vb", NETNS.b, REASON.NOT_SPECIFIED),
    row(4, LOC.ip6McInput, "va", NETNS.a, REASON.NOT_SPECIFIED),
  ]);
  const second = out.interval([
    row(190, LOC.udpRcv, "vb", NETNS.b, REASON.NO_SOCKET),
    row(1, LOC.ip6McInput, "vb", NETNS.b, REASON.NOT_SPECIFIED),
    row(1, LOC.ip6McInput, "va", NETNS.a, REASON.NOT_SPECIFIED),
    row(3, LOC.tcfKfreeSkbList, "va", NETNS.a, REASON.QDISC_DROP),
    row(7, LOC.vethXmit, "va", NETNS.a, REASON.NOT_SPECIFIED),
  ]);
  const last = [...out.interval([row(40, LOC.neighInvalidate, "va", NETNS.a, REASON.NEIGH_FAILED)]), out.end()];
  return { first, second, last };
}

/** fixtureIntervals() as report rows, largest first. */
export const FIXTURE_ROWS = [
  { count: 300, symbol: "udp_rcv+0x452", interface: "lo", netns: NETNS.root, module: "kernel", reason: "NO_SOCKET", class: "depends" },
  { count: 190, symbol: "udp_rcv+0x452", interface: "vb", netns: NETNS.b, module: "kernel", reason: "NO_SOCKET", class: "depends" },
  { count: 40, symbol: "neigh_invalidate+0x90", interface: "va", netns: NETNS.a, module: "kernel", reason: "NEIGH_FAILED", class: "fault" },
  { count: 7, symbol: "veth_xmit+0x1c3", interface: "va", netns: NETNS.a, module: "veth", reason: "NOT_SPECIFIED", class: "depends" },
  { count: 6, symbol: "ip6_mc_input+0x18c", interface: "vb", netns: NETNS.b, module: "kernel", reason: "NOT_SPECIFIED", class: "depends" },
  { count: 5, symbol: "ip6_mc_input+0x18c", interface: "va", netns: NETNS.a, module: "kernel", reason: "NOT_SPECIFIED", class: "depends" },
  { count: 3, symbol: "__tcf_kfree_skb_list+0x62", interface: "va", netns: NETNS.a, module: "kernel", reason: "QDISC_DROP", class: "depends" },
] as const;

/** The first interval alone, as report rows. */
export const FIRST_INTERVAL_ROWS = [
  { count: 300, symbol: "udp_rcv+0x452", interface: "lo", netns: NETNS.root, module: "kernel", reason: "NO_SOCKET", class: "depends" },
  { count: 5, symbol: "ip6_mc_input+0x18c", interface: "vb", netns: NETNS.b, module: "kernel", reason: "NOT_SPECIFIED", class: "depends" },
  { count: 4, symbol: "ip6_mc_input+0x18c", interface: "va", netns: NETNS.a, module: "kernel", reason: "NOT_SPECIFIED", class: "depends" },
] as const;

const GUEST_DIR = path.resolve(import.meta.dirname, "../fixtures/kernel-guest");
/**
 * A later boot of the same 7.2 kernel with the probe that reads flows and sockets
 * (test/fixtures/kernel-guest-flows/README.md): the walkthrough's node-a replays it.
 */
export const GUEST_FLOWS_DIR = path.resolve(import.meta.dirname, "../fixtures/kernel-guest-flows");

/** A file SystemTap wrote on a real kernel (test/fixtures/kernel-guest/README.md says how). */
function captured(name: string, dir: string = GUEST_DIR): string {
  const file = path.join(dir, name);
  if (!existsSync(file)) throw new Error(`${file} is missing: the real SystemTap texts these tests replay live there`);
  return readFileSync(file, "utf8");
}

/** The captured texts name the guest's module path; the stand-in says the one it was given, as staprun does. */
const withModule = (text: string, ko: string) => text.replaceAll(/'[^']*\.ko'/g, `'${ko}'`);

/**
 * SystemTap's error texts, as captured on a real kernel in test/fixtures/kernel-guest, except
 * two that capture has no case for: a module refused for want of a signature (written in the
 * captured insert error's form, with the kernel's EKEYREJECTED text) and a pass-2 compile
 * failure (its last lines as kernel-notes.md quotes them for SystemTap 5.1 on 6.12).
 */
export const SYSTEMTAP_TEXT = {
  /** modules-disabled.err: sysctl kernel.modules_disabled=1. */
  insertNotPermitted: (ko: string) => withModule(captured("modules-disabled.err"), ko),
  insertKeyRejected: (ko: string) => `ERROR: Couldn't insert module '${ko}': Key was rejected by service\n`,
  /** dup-second.err: the same module loaded twice. */
  insertFileExists: (ko: string) => withModule(captured("dup-second.err"), ko),
  /** dt_map_overflow.err: SystemTap's fatal error for a full map. */
  mapOverflow: captured("dt_map_overflow.err"),
  /** dt_overload.err: SystemTap stopped the probe for its overhead. */
  overload: captured("dt_overload.err"),
  /** badsetting.err: the probe's own `probe begin` refusing a setting. */
  badSetting: captured("badsetting.err"),
  /** flood.err: staprun's last words after a run that skipped a probe hit. */
  skipped: captured("flood.err"),
  pass2Failure:
    "semantic error: while resolving probe point: identifier 'kernel' at /usr/share/droptrace/stap/droptrace.stp:137:7\n" +
    '        source: probe kernel.trace("kfree_skb") {\n' +
    "                      ^\n\n" +
    "semantic error: resolution failed in tracepoint builder\n\n" +
    "Pass 2: analysis failed.  [man error::pass2]\n",
  /** compile-error-no-headers.txt: stap's own lines (not the capture script's), for this release. */
  headersMissing: (release: string) =>
    captured("compile-error-no-headers.txt")
      .split("\n")
      .filter((line) => !line.startsWith("compile-in-chroot:"))
      .join("\n")
      .replaceAll("0.0.0-nosuch", release),
};

// ---- one test's stand-in world ------------------------------------------------------------------

export interface LogEntry {
  tool: "stap" | "staprun";
  pid: number;
  event: string;
  argv?: string[];
  cwd?: string;
  module?: string;
  params?: string[];
  code?: number;
}

const ENV_KEYS = [
  "FAKE_SYSTEMTAP_LOG",
  "FAKE_MODULES_FILE",
  "FAKE_STAPRUN_SCENARIO",
  "FAKE_STAP_STDERR",
  "FAKE_STAP_EXIT",
  "FAKE_STAP_VERSION",
  "FAKE_STAPRUN_VERSION",
] as const;
type EnvKey = (typeof ENV_KEYS)[number];

export interface HostOptions {
  uid?: number;
  /** False: no `stap` on this machine. */
  stap?: boolean;
  /** False: no kernel headers for RELEASE. */
  headers?: boolean;
  /** The kfree_skb tracepoint's format file, when not the fixture's. */
  tracepointFormat?: string;
  /** /proc/kallsyms, when not the fixture's. */
  kallsyms?: string;
  /** /proc/modules, when not the fixture's. */
  procModules?: string;
  /**
   * The node's /proc/<pid>/net files, read each time (so a test can move counters): by default
   * test/fixtures/proc-net-6.18 as captured, unchanging. Served under /proc/1/net and /host/proc/1/net.
   */
  procNet?: (file: string) => string | undefined;
  /** The node's network namespace inode (pid 1's), default the fixture rows' own namespace of lo. */
  hostNetns?: number;
}

const PROC_NET_DIR = path.resolve(import.meta.dirname, "../fixtures/proc-net-6.18");
/** The captured /proc/net files of test/fixtures/proc-net-6.18. */
export function capturedProcNet(file: string): string | undefined {
  const at = path.join(PROC_NET_DIR, file);
  return existsSync(at) ? readFileSync(at, "utf8") : undefined;
}

export interface FakeModuleTable extends ModuleTable {
  removed: string[];
  /** Makes remove() fail with this text. */
  failRemove?: string;
}

/**
 * A temporary directory with the module cache, the stand-ins' module file and log, and the
 * scenarios; the stand-ins find them through the environment, which `use()` sets (and `dispose()`
 * restores) for the stand-ins this process starts.
 */
export class StandIns {
  readonly dir: string;
  readonly cacheDir: string;
  readonly modulesFile: string;
  readonly logFile: string;
  readonly #env: Partial<Record<EnvKey, string>>;
  readonly #saved: Partial<Record<EnvKey, string | undefined>> = {};

  private constructor(dir: string) {
    this.dir = dir;
    this.cacheDir = path.join(dir, "cache");
    this.modulesFile = path.join(dir, "modules");
    this.logFile = path.join(dir, "systemtap.log");
    this.#env = { FAKE_SYSTEMTAP_LOG: this.logFile, FAKE_MODULES_FILE: this.modulesFile };
    for (const key of ENV_KEYS) this.#saved[key] = process.env[key];
    this.#apply();
  }

  static async create(): Promise<StandIns> {
    return new StandIns(await mkdtemp(path.join(tmpdir(), "droptrace-standins-")));
  }

  /** The environment the stand-ins read, for a child process. */
  get env(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.#env));
  }

  async staprun(scenario: StaprunScenario): Promise<void> {
    const file = path.join(this.dir, `staprun-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
    await writeFile(file, JSON.stringify(scenario));
    this.#env.FAKE_STAPRUN_SCENARIO = file;
    this.#apply();
  }

  async stap(scenario: StapScenario): Promise<void> {
    const file = path.join(this.dir, "stap-stderr.txt");
    await writeFile(file, scenario.stderr);
    this.#env.FAKE_STAP_STDERR = file;
    this.#env.FAKE_STAP_EXIT = String(scenario.exitCode);
    this.#apply();
  }

  #apply(): void {
    for (const key of ENV_KEYS) {
      const value = this.#env[key];
      if (value === undefined) Reflect.deleteProperty(process.env, key);
      else process.env[key] = value;
    }
  }

  log(): LogEntry[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as LogEntry);
  }

  /** Every staprun that was asked to load a module (not `-V`), with its argv. */
  probeRuns(): LogEntry[] {
    return this.log().filter((e) => e.tool === "staprun" && e.event === "start" && e.argv?.[0] !== "-V");
  }

  /** stap invocations that compiled (not `--version`). */
  compiles(): LogEntry[] {
    return this.log().filter((e) => e.tool === "stap" && e.event === "start" && e.argv?.[0] !== "--version");
  }

  events(pid: number): string[] {
    return this.log()
      .filter((e) => e.pid === pid)
      .map((e) => e.event);
  }

  /** Modules the stand-in staprun has loaded and not unloaded. */
  loadedModules(): string[] {
    return readModulesFile(this.modulesFile);
  }

  /** A ModuleTable over the stand-ins' module file, remembering what it removed. */
  moduleTable(): FakeModuleTable {
    return moduleTableOver(this.modulesFile);
  }

  /** The fixture's machine: root, kernel RELEASE with headers, tracefs, kallsyms, and the stand-ins installed. */
  host(options: HostOptions = {}): HostView {
    return fixtureHost(options);
  }

  deps(overrides: Partial<TraceDeps> & { host?: HostView; modules?: ModuleTable } = {}): TraceDeps {
    return {
      host: this.host(),
      modules: this.moduleTable(),
      log: silentLogger,
      stapCommand: FAKE_STAP,
      staprunCommand: FAKE_STAPRUN,
      stopGraceMs: 3_000,
      ...overrides,
    };
  }

  request(overrides: Partial<TraceRequest> = {}): TraceRequest {
    // Long: a case ends when the stand-in exits or the test aborts; a case about the duration sets its own.
    return {
      durationSeconds: 60,
      intervalSeconds: 1,
      interfaces: [],
      reasons: [],
      stacks: false,
      maxProbeCPUPercent: 5,
      cacheDir: this.cacheDir,
      owner: "run",
      rowCap: 1000,
      ...overrides,
    };
  }

  /** Stand-in processes of this test still alive (or unreaped). */
  livePids(): number[] {
    return [...new Set(this.log().map((e) => e.pid))].filter(isAlive);
  }

  /** Kills what is left (so one failing test cannot leak into the next), restores the environment, removes the directory. */
  async dispose(): Promise<number[]> {
    const live = this.livePids();
    for (const pid of live) process.kill(pid, "SIGKILL");
    for (const key of ENV_KEYS) {
      const value = this.#saved[key];
      if (value === undefined) Reflect.deleteProperty(process.env, key);
      else process.env[key] = value;
    }
    await rm(this.dir, { recursive: true, force: true });
    return live;
  }
}

function readModulesFile(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "");
}

/** The stand-ins' /proc/modules: the file the stand-in staprun adds its module to and removes it from. */
export function moduleTableOver(modulesFile: string): FakeModuleTable {
  const table: FakeModuleTable = {
    removed: [],
    loaded: () => Promise.resolve(new Set(readModulesFile(modulesFile))),
    remove: async (name) => {
      if (table.failRemove !== undefined) return table.failRemove;
      table.removed.push(name);
      await writeFile(
        modulesFile,
        readModulesFile(modulesFile)
          .filter((n) => n !== name)
          .map((n) => `${n}\n`)
          .join(""),
      );
      return undefined;
    },
  };
  return table;
}

/**
 * True while the process exists. A zombie counts when it is this process's own child (a child the
 * agent never reaped is a leak), not when it was handed to init after its parent was killed.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
  const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return state !== "Z" || Number(ppid) === process.pid;
}

/** The fixture machine's CPUs: /proc/stat's per-CPU lines (the summary line first). */
export const FIXTURE_CPUS = 4;
const PROC_STAT = `cpu  4705 150 1120 16250 520 0 40 0 0 0\n${Array.from({ length: FIXTURE_CPUS }, (_, i) => `cpu${i} 1180 40 280 4060 130 0 10 0 0 0\n`).join("")}intr 114250 9 0\n`;

let kallsymsText: string | undefined;

export function fixtureHost(options: HostOptions = {}): HostView {
  if (options.kallsyms === undefined) kallsymsText ??= readFixtureKallsyms();
  const files: Record<string, string> = {
    "/proc/modules": options.procModules ?? readFixture("proc-modules.txt"),
    "/proc/sys/kernel/modules_disabled": "0\n",
    "/sys/kernel/security/lockdown": "[none] integrity confidentiality\n",
    "/sys/kernel/tracing/events/skb/kfree_skb/format": options.tracepointFormat ?? readFixture("kfree_skb.format"),
    "/proc/kallsyms": options.kallsyms ?? kallsymsText ?? "",
    "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nID=debian\n',
    // The machine's online CPUs, as the agent reads them through the host's /proc.
    "/proc/stat": PROC_STAT,
    "/host/proc/stat": PROC_STAT,
  };
  const dirs = options.headers === false ? [] : [`/lib/modules/${RELEASE}/build`];
  const installed: Record<string, string> = { staprun: FAKE_STAPRUN, ...(options.stap === false ? {} : { stap: FAKE_STAP }) };
  return {
    uid: () => options.uid ?? 0,
    kernelRelease: () => RELEASE,
    readText: (p) => {
      const net = /^(?:\/host)?\/proc\/1\/net\/(\w+)$/.exec(p)?.[1];
      return Promise.resolve(net === undefined ? files[p] : (options.procNet ?? capturedProcNet)(net));
    },
    readBytes: (p) => Promise.resolve(files[p] === undefined ? undefined : Buffer.from(files[p], "utf8")),
    exists: (p) => Promise.resolve(dirs.includes(p) || p in files),
    readLink: (p) => Promise.resolve(/^(?:\/host)?\/proc\/1\/ns\/net$/.test(p) ? `net:[${String(options.hostNetns ?? 4026531833)}]` : undefined),
    // As the real host does: run the command (found "on PATH" here: the stand-ins), stdout and stderr when it exits 0.
    commandOutput: async (command, args) => {
      const file = path.isAbsolute(command) ? command : installed[command];
      if (file === undefined) return undefined;
      const result = await execa(file, args, { reject: false, timeout: 10_000, stdin: "ignore" });
      return result.exitCode === 0 ? `${result.stdout}\n${result.stderr}` : undefined;
    },
  };
}

/**
 * The machine of the kernel-guest capture (test/fixtures/kernel-guest, a boot of the same 7.2
 * kernel with stap/droptrace.stp itself): its kallsyms, modules and tracepoint format, against
 * which its .tsv outputs symbolize.
 */
export function guestHost(options: HostOptions = {}, dir: string = GUEST_DIR): HostView {
  return fixtureHost({
    kallsyms: gunzipSync(readFileSync(path.join(dir, "kallsyms.txt.gz"))).toString("utf8"),
    procModules: captured("proc-modules.txt", dir),
    tracepointFormat: captured("kfree_skb.format", dir),
    ...options,
  });
}

/**
 * A staprun scenario replaying one of the kernel-guest capture's outputs (`all.tsv`): its
 * intervals `gapMs` apart, and its end record (with any interval after the last pause) on SIGINT,
 * as the probe prints its last interval when stopped.
 */
export function replayCapture(name: string, gapMs: number, intervalsBeforeStop: number, dir: string = GUEST_DIR): StaprunScenario {
  const intervals: string[][] = [[]];
  let end: string | undefined;
  for (const line of captured(name, dir).split("\n")) {
    // The stand-in staprun prints its own armed record when it starts: a capture's is left out.
    if (line === "" || line === "A") continue;
    if (line.startsWith("E\t")) end = line;
    else intervals[intervals.length - 1]?.push(line);
    if (line.startsWith("I\t")) intervals.push([]);
  }
  const complete = intervals.filter((i) => i.length > 0);
  const before = complete.slice(0, intervalsBeforeStop);
  const after = complete.slice(intervalsBeforeStop).flat();
  return {
    steps: before.flatMap((out, i) => (i === 0 ? [{ out }] : [{ sleepMs: gapMs }, { out }])),
    onSigint: [{ out: [...after, ...(end === undefined ? [] : [end])] }, { exit: 0 }],
  };
}
