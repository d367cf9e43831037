// What the agent memory benchmarks in this folder share: running the built agent under the bench
// workload while sampling its RSS, and printing what came out. Each script beside this one is one
// measurement and says in its header what it measures and how to run it; this module measures
// nothing by itself.
//
// How a run works: the measured process is the built droptrace, unmodified, started as the
// image's agent target starts it (`node <the ENTRYPOINT's flags> dist/bundle/droptrace.mjs agent`,
// flags and environment read from the Dockerfile), against the in-process test API server, with
// the fixture kernel's 211k-line /proc/kallsyms and the stand-in staprun of test/trace/fakes
// replaying thousands of rows a second. RSS is read from /proc/<pid>/status every 200 ms; heap
// figures come from the agent's own /metrics and, when asked, from ./hooks.ts loaded into it. This
// process (tsx, the API server, the workload) is not measured, nor is the stand-in staprun (a node
// process of its own; the real one is a small C program).
//
// It imports from test/ on purpose, rather than keeping copies: test/agent/built-agent.ts (the
// built agent's command line on a machine made to look like the fixture's, the image's ENTRYPOINT
// and ENV), test/trace/stand-ins.ts (the stand-in staprun and the probe's output format),
// test/trace/fixture.ts (the fixture kernel's files) and test/support/apiserver.ts (the test API
// server). The bundle's tests run the agent through the same harness, so what is measured here is
// what they prove works.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ParseArgsConfig } from "node:util";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { z } from "zod";
import { API_VERSION, DROPTRACE_REPORT, GROUP, MAX_REPORT_ROWS, VERSION } from "../../../src/api/constants.js";
import { parseKfreeSkbFormat } from "../../../src/trace/kernel-reasons.js";
import { BUILT, builtAgent, imageAgent, requireBuilt, stripTypes, type BuiltAgentCommand, type ImageAgent } from "../../../test/agent/built-agent.js";
import { startTestApiServer } from "../../../test/support/apiserver.js";
import { readFixture, readFixtureKallsyms } from "../../../test/trace/fixture.js";
import { ProbeOutput, row, StandIns } from "../../../test/trace/stand-ins.js";
import { dropKeys, random } from "../workload.js";

export const repoRoot = path.resolve(fileURLToPath(new URL("../../..", import.meta.url)));
export const DIST_SRC = path.join(repoRoot, "dist", "src");
const HOOKS_SOURCE = path.join(import.meta.dirname, "hooks.ts");
export const MiB = 2 ** 20;
const SAMPLE_MS = 200;
/** Quiet time between the probe's start (kallsyms loaded) and its first interval. */
const PRELUDE_MS = 2500;
const SCRAPE_EVERY_MS = 5000;

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

// ---- flags -----------------------------------------------------------------------------------------

/** The parseArgs options every script takes: the stream the stand-in replays, and how many runs. */
export const RUN_OPTIONS = {
  seconds: { type: "string", default: "30" },
  rows: { type: "string", default: "3000" },
  keys: { type: "string", default: "4000" },
  repeat: { type: "string", default: "1" },
} satisfies ParseArgsOptionsConfig;

/** --env and --kallsyms: the what-ifs that make sense both on this machine's node and in the image. */
export const TWEAK_OPTIONS = {
  env: { type: "string", multiple: true, default: [] as string[] },
  kallsyms: { type: "string", default: "full" },
} satisfies ParseArgsOptionsConfig;

const count = (flag: string) =>
  z.coerce
    .number({ error: `--${flag} takes a positive integer` })
    .int()
    .positive();

export const RunSettingsSchema = z.object({
  seconds: count("seconds"),
  rows: count("rows"),
  keys: count("keys"),
  repeat: count("repeat"),
});
export type RunSettings = z.infer<typeof RunSettingsSchema>;

export const TweakSchema = z.object({
  env: z
    .array(z.string().regex(/^\w+=/, { error: "--env takes NAME=value" }))
    .transform((pairs) => Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]))),
  kallsyms: z.enum(["full", "tiny"], { error: "--kallsyms is full or tiny" }),
});

/** The flags parseArgs read, checked against `schema`; a mistake stops the bench before it starts anything. */
export function parseFlags<T extends z.ZodType>(schema: T, values: unknown): z.infer<T> {
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw new Error(`bad flags:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

// ---- the machine, the image and the build ----------------------------------------------------------

function machine(): string {
  const debian = existsSync("/etc/debian_version") ? `Debian ${readFileSync("/etc/debian_version", "utf8").trim()}` : os.type();
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `${String(os.availableParallelism())} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${debian}, kernel ${os.release()}, node ${process.version}`;
}

/** src files changed since `entry` was built: the numbers would be the older build's. */
function staleBuild(entry: string): string[] {
  const stale: string[] = [];
  const bundleTime = statSync(entry).mtimeMs;
  const walk = (dir: string): void => {
    for (const item of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, item.name);
      if (item.isDirectory()) walk(file);
      else if (item.name.endsWith(".ts")) {
        const built = entry === BUILT.bundle ? entry : path.join(DIST_SRC, path.relative(path.join(repoRoot, "src"), file)).replace(/\.ts$/, ".js");
        const builtTime = built === entry ? bundleTime : existsSync(built) ? statSync(built).mtimeMs : 0;
        if (builtTime < statSync(file).mtimeMs) stale.push(path.relative(repoRoot, file));
      }
    }
  };
  walk(path.join(repoRoot, "src"));
  return stale;
}

/** The "measured:" line for a build run on this machine's node, warning when src/ is newer than it. */
export function measuredBuild(entry: string): string {
  requireBuilt(entry);
  const stale = staleBuild(entry);
  return (
    `measured: ${path.relative(repoRoot, entry)} (built ${new Date(statSync(entry).mtimeMs).toISOString()}), run by plain node, no tsx` +
    (stale.length > 0
      ? `; WARNING: ${String(stale.length)} src files are newer than the build (${stale.slice(0, 4).join(", ")}...): run \`npm run build\``
      : "")
  );
}

// ---- the workload: the fixture kernel's drop sites, a few thousand keys --------------------------

interface ProbeWorkload {
  intervals: string[][];
  /** The end probe's output on SIGINT: a last partial interval and the end record. */
  last: string[];
  total: number;
}

function probeWorkload(kallsymsText: string, settings: RunSettings): ProbeWorkload {
  const next = random(42);
  const reasons = parseKfreeSkbFormat(readFixture("kfree_skb.format"));
  const keys = dropKeys(kallsymsText, reasons, settings.keys, next);
  const out = new ProbeOutput();
  let total = 0;
  const interval = (rows: number): string[] => {
    const start = Math.floor(next() * keys.length);
    const lines: string[] = [];
    // One interval prints each key once, so at most every key.
    for (let i = 0; i < Math.min(rows, keys.length); i += 1) {
      const [location, iface, netns, reason] = keys[(start + i) % keys.length] ?? ["", "", 0, 0];
      const drops = 1 + Math.floor(next() * 50);
      total += drops;
      lines.push(row(drops, location, iface, netns, reason));
    }
    return out.interval(lines);
  };
  const intervals = Array.from({ length: settings.seconds }, () => interval(settings.rows));
  const last = [...interval(Math.floor(settings.rows / 3)), out.end()];
  return { intervals, last, total };
}

// ---- the measured process ------------------------------------------------------------------------

interface Status {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

function readStatus(pid: number): Status | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${String(pid)}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? "NaN") * 1024;
  const rss = kib("VmRSS");
  return Number.isNaN(rss) ? undefined : { rss, hwm: kib("VmHWM"), anon: kib("RssAnon"), file: kib("RssFile") };
}

/** utime + stime from /proc/<pid>/stat, in seconds (USER_HZ is 100 on Linux). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

interface Sample extends Status {
  t: number;
}

type Metrics = Record<string, number>;

async function scrape(port: number): Promise<Metrics | undefined> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
    const metrics: Metrics = {};
    for (const line of text.split("\n")) {
      const match = /^droptrace_agent_(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
      if (match?.[1] !== undefined && match[3] !== undefined) metrics[`${match[1]}${match[2] ?? ""}`] = Number(match[3]);
    }
    return metrics;
  } catch {
    return undefined;
  }
}

/** A port nothing listens on now, for the agent's /metrics. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== "object" || address === null) throw new Error("no free port");
  return address.port;
}

/** How the agent is started: its build, node's flags, its environment and the kallsyms it reads. */
export interface Variant {
  name: string;
  build: "bundle" | "dist";
  nodeFlags: string[];
  env: Record<string, string>;
  kallsyms: "full" | "tiny";
}

/** The agent as the image's agent target starts it: the bundle, the ENTRYPOINT's flags, the ENV. */
export function asImage(image: ImageAgent): Variant {
  return { name: "as the image runs it", build: "bundle", nodeFlags: image.nodeFlags, env: image.env, kallsyms: "full" };
}

/** A started agent and the PID to sample (in a container, the host PID of its node, known later). */
export interface Started {
  child: ChildProcess;
  pid: Promise<number | undefined>;
}

/** Starts the agent's command; the default runs it on this machine's node. */
export type Launcher = (agent: BuiltAgentCommand, scratch: string) => Started;

const onThisNode: Launcher = (agent) => {
  const child = spawn(agent.file, agent.args, { env: agent.env, stdio: ["ignore", "ignore", "pipe"] });
  return { child, pid: Promise.resolve(child.pid) };
};

export interface MeasureOptions {
  /** Run with --expose-gc and ask the agent for process.memoryUsage() after full collections at each observation. */
  collect?: boolean;
  /** Write a heap snapshot three quarters into tracing (samples after it are no longer the agent's own). */
  snapshot?: boolean;
  launch?: Launcher;
}

interface Usage {
  label: string;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  rssAnon: number;
  rssFile: number;
  collected: boolean;
  spaces: Record<string, { size: number; used: number }>;
}

export interface Run {
  variant: Variant;
  samples: Sample[];
  events: Map<string, number>;
  usages: Usage[];
  scrapes: { t: number; label: string; metrics: Metrics }[];
  snapshotFile?: string;
  exitCode: number | null;
  /** User and system CPU seconds of the agent, at the end. */
  cpuSeconds: number;
  reportCheck: string;
  warnings: string[];
}

/** What every run of one script reuses: the preloaded hooks, the kallsyms files, the workload. */
export interface Prepared {
  settings: RunSettings;
  hooks: string;
  kallsyms: Record<Variant["kallsyms"], string>;
  work: ProbeWorkload;
  scratch: string;
}

/** One trace by the agent, start to exit, with its RSS sampled throughout. */
export async function measure(variant: Variant, prepared: Prepared, options: MeasureOptions = {}): Promise<Run> {
  const { seconds } = prepared.settings;
  const standIns = await StandIns.create();
  const server = await startTestApiServer();
  const children: ChildProcess[] = [];
  try {
    const api = server.kubeConfig.makeApiClient(CustomObjectsApi);
    const trace = "bench";
    const created = (await api.createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: "droptraces",
      body: { apiVersion: API_VERSION, kind: "DropTrace", metadata: { name: trace }, spec: { duration: `${String(seconds + 10)}s` } },
    })) as { metadata: { uid: string } };

    const steps = [{ sleepMs: PRELUDE_MS }, ...prepared.work.intervals.flatMap((lines) => [{ out: lines }, { sleepMs: 1000 }])];
    await standIns.staprun({ steps, onSigint: [{ out: prepared.work.last }, { exit: 0 }] });

    const commandFile = path.join(standIns.dir, "bench-command");
    const port = await freePort();
    const agent = await builtAgent({
      entry: variant.build === "bundle" ? BUILT.bundle : BUILT.dist,
      nodeFlags: [...variant.nodeFlags, ...(options.collect === true ? ["--expose-gc"] : [])],
      standIns,
      kubeConfig: server.kubeConfig,
      // The probe's quiet start, the intervals, and a second for the last one.
      trace: { name: trace, uid: created.metadata.uid, duration: `${String(Math.ceil(PRELUDE_MS / 1000) + seconds + 1)}s` },
      metricsPort: port,
      kallsymsFile: prepared.kallsyms[variant.kallsyms],
      preloads: [prepared.hooks],
      announceReads: true,
      env: { ...variant.env, DROPTRACE_BENCH_HOOKS: commandFile },
    });

    const run: Run = {
      variant,
      samples: [],
      events: new Map(),
      usages: [],
      scrapes: [],
      exitCode: null,
      cpuSeconds: Number.NaN,
      reportCheck: "",
      warnings: [],
    };
    const t0 = performance.now();
    const now = () => performance.now() - t0;
    const started = (options.launch ?? onThisNode)(agent, prepared.scratch);
    const child = started.child;
    children.push(child);
    const pid = await started.pid;
    const stderr = child.stderr;
    if (pid === undefined || stderr === null) throw new Error("the agent process did not start");
    const exited = new Promise<number | null>((resolve) => {
      child.on("exit", (code) => {
        resolve(code);
      });
    });

    const waiters = new Map<string, () => void>();
    const mark = (event: string): void => {
      if (!run.events.has(event)) run.events.set(event, now());
      waiters.get(event)?.();
    };
    const waitFor = (event: string, timeoutMs: number): Promise<void> =>
      run.events.has(event)
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
              reject(new Error(`the agent did not get to "${event}" within ${String(timeoutMs / 1000)} s: ${run.warnings.join(" | ")}`));
            }, timeoutMs);
            waiters.set(event, () => {
              clearTimeout(timer);
              resolve();
            });
            void exited.then(() => {
              clearTimeout(timer);
              reject(new Error(`the agent exited before "${event}": ${run.warnings.join(" | ")}`));
            });
          });
    const snapshotDone = new Promise<void>((resolve) => waiters.set("snapshot", resolve));

    createInterface({ input: stderr }).on("line", (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        run.warnings.push(line);
        return;
      }
      const bench = entry["bench"];
      if (entry["fixtureMachine"] === "read") mark("first host read");
      else if (bench === "usage") run.usages.push(entry as unknown as Usage);
      else if (bench === "snapshot") {
        run.snapshotFile = String(entry["file"]);
        mark("snapshot");
      } else {
        if (typeof entry["level"] === "number" && entry["level"] >= 40) run.warnings.push(String(entry["msg"]));
        if (typeof entry["msg"] === "string") mark(entry["msg"]);
      }
    });

    const sampler = setInterval(() => {
      const status = readStatus(pid);
      if (status !== undefined) run.samples.push({ t: now(), ...status });
    }, SAMPLE_MS);
    const at = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const command = async (text: string): Promise<void> => {
      await writeFile(commandFile, text);
      process.kill(pid, "SIGUSR2");
    };
    const observe = async (label: string): Promise<void> => {
      if (options.collect === true) await command(`usage ${label}`);
      const metrics = await scrape(port);
      if (metrics !== undefined) run.scrapes.push({ t: now(), label, metrics });
    };

    try {
      await waitFor("probe armed: counting", 60_000);
      await at(PRELUDE_MS / 2);
      await observe("kallsyms");
      const tracingStart = (run.events.get("probe armed: counting") ?? 0) + PRELUDE_MS;
      const tracingMs = seconds * 1000;
      let snapshotTaken = false;
      for (let t = SCRAPE_EVERY_MS; t < tracingMs; t += SCRAPE_EVERY_MS) {
        await at(Math.max(0, tracingStart + t - now()));
        if (options.snapshot === true && !snapshotTaken && t >= tracingMs * 0.75) {
          snapshotTaken = true;
          // Writing a snapshot costs as much memory again: later samples are no longer the agent's own.
          mark("snapshot requested");
          await command(`snapshot ${path.join(prepared.scratch, `agent-${String(pid)}.heapsnapshot`)}`);
          await snapshotDone;
        }
        await observe(`tracing+${String(t / 1000)}s`);
      }
      await waitFor("probe stopped", 60_000);
      await waitFor("trace finished", 60_000);
      await at(2000);
      await observe("finished");
      run.cpuSeconds = cpuSeconds(pid);
      mark("sigterm");
      child.kill("SIGTERM");
      run.exitCode = await Promise.race([exited, at(30_000).then(() => null)]);
    } finally {
      clearInterval(sampler);
    }

    const reports = (await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE_REPORT.plural })) as {
      items: { status?: { phase?: string; totalDrops?: number; rows?: unknown[] } }[];
    };
    const status = reports.items[0]?.status;
    run.reportCheck =
      `report: phase ${status?.phase ?? "none"}, totalDrops ${String(status?.totalDrops ?? 0)} (replayed ${String(prepared.work.total)}), ` +
      `${String(status?.rows?.length ?? 0)} rows`;
    return run;
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await server.close();
    const leftovers = await standIns.dispose();
    if (leftovers.length > 0) console.log(`(killed stand-in processes left running: ${leftovers.join(", ")})`);
  }
}

async function bareNode(): Promise<Status | undefined> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 3000)"], { stdio: "ignore" });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const status = child.pid === undefined ? undefined : readStatus(child.pid);
  child.kill("SIGKILL");
  await new Promise((resolve) => child.on("exit", resolve));
  return status;
}

// ---- one script's session --------------------------------------------------------------------------

/**
 * Prints the machine, the image's agent and `measured(image)`; writes the hooks, the kallsyms files
 * and the workload into a scratch directory; prints the workload and a bare node's RSS for scale;
 * then runs `body`, and removes the scratch directory whatever happens.
 */
export async function benchSession(
  settings: RunSettings,
  measured: (image: ImageAgent) => string,
  body: (prepared: Prepared, image: ImageAgent) => Promise<void>,
): Promise<void> {
  const image = imageAgent();
  console.log(`machine: ${machine()}`);
  console.log(`the image's agent: ENTRYPOINT ${image.entrypoint}, ENV ${JSON.stringify(image.env)}`);
  if (image.entry !== BUILT.bundle) throw new Error(`the image runs ${image.entry}, not the bundle ${BUILT.bundle}: this bench needs updating`);
  console.log(measured(image));

  const scratch = path.join(os.tmpdir(), `droptrace-memory-bench-${String(process.pid)}`);
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    const hooks = await stripTypes(HOOKS_SOURCE, path.join(scratch, "hooks.mjs"));
    const kallsymsText = readFixtureKallsyms();
    const kallsyms: Prepared["kallsyms"] = { full: path.join(scratch, "kallsyms"), tiny: path.join(scratch, "kallsyms-tiny") };
    writeFileSync(kallsyms.full, kallsymsText);
    // The fixture's four drop sites' functions only: every other address comes out unknown.
    writeFileSync(
      kallsyms.tiny,
      kallsymsText
        .split("\n")
        .filter((l) => / T (udp_rcv|neigh_invalidate|ip6_mc_input|__tcf_kfree_skb_list|_stext|_etext)$/.test(l))
        .join("\n") + "\n",
    );
    const work = probeWorkload(kallsymsText, settings);
    console.log(
      `workload: fixture kallsyms ${String(kallsymsText.split("\n").length - 1)} lines, ${mib(statSync(kallsyms.full).size)} MiB ` +
        `(what-if: tiny, ${String(statSync(kallsyms.tiny).size)} bytes); ` +
        `stand-in staprun: ${String(settings.seconds)} intervals of ${String(Math.min(settings.rows, settings.keys))} rows, 1 s apart, ` +
        `over ${String(settings.keys)} distinct keys; rowCap ${String(MAX_REPORT_ROWS)}`,
    );
    const bare = await bareNode();
    console.log(`bare node (node -e, idle): rss ${mib(bare?.rss)} MiB (anon ${mib(bare?.anon)}, file ${mib(bare?.file)})`);
    await body({ settings, hooks, kallsyms, work, scratch }, image);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The "agent:" line for a variant run on this machine's node. */
export function agentCommandLine(variant: Variant, options: MeasureOptions = {}): string {
  const entry = variant.build === "bundle" ? BUILT.bundle : BUILT.dist;
  const flags = [...variant.nodeFlags, ...(options.collect === true ? ["--expose-gc"] : []), ...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`)];
  return `agent: node ${flags.join(" ")} ${path.relative(repoRoot, entry)} agent (kallsyms: ${variant.kallsyms})`;
}

/** settings.repeat runs of one variant, each described in full; with more than one, the median steady state. */
export async function measureRepeatedly(prepared: Prepared, variant: Variant, options: MeasureOptions = {}, afterRun?: (run: Run) => void): Promise<void> {
  const { repeat } = prepared.settings;
  const steady: number[] = [];
  for (let r = 1; r <= repeat; r += 1) {
    if (repeat > 1) console.log(`run ${String(r)} of ${String(repeat)}:`);
    const run = await measure(variant, prepared, options);
    describe(run);
    steady.push(phases(run).steady);
    afterRun?.(run);
  }
  if (repeat > 1) {
    console.log(
      `steady state while tracing over ${String(repeat)} runs: median ${mib(median(steady))} MiB, min ${mib(Math.min(...steady))}, max ${mib(Math.max(...steady))} ` +
        `(runs: ${steady.map((s) => mib(s)).join(", ")})`,
    );
  }
}

// ---- the numbers ---------------------------------------------------------------------------------

export const mib = (bytes: number | undefined): string => (bytes === undefined || Number.isNaN(bytes) ? "-" : (bytes / MiB).toFixed(1));

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface Phases {
  start: Sample | undefined;
  kallsyms: Sample | undefined;
  peak: Sample | undefined;
  steady: number;
  steadyMin: number;
  steadyMax: number;
  finished: Sample | undefined;
  hwm: number;
}

/** RSS at the moments that matter: started, kallsyms loaded, peak and steady state while tracing, idle after. */
export function phases(run: Run): Phases {
  const event = (name: string): number => run.events.get(name) ?? Number.NaN;
  const lastBefore = (t: number): Sample | undefined => run.samples.filter((s) => s.t < t).at(-1);
  const tracingStart = event("probe armed: counting") + PRELUDE_MS;
  const tracingEnd = Math.min(event("probe stopped"), run.events.get("snapshot requested") ?? Infinity);
  const tracing = run.samples.filter((s) => s.t >= tracingStart && s.t <= tracingEnd);
  const secondHalf = tracing.filter((s) => s.t >= (tracingStart + tracingEnd) / 2).map((s) => s.rss);
  let peak: Sample | undefined;
  for (const s of tracing) if (peak === undefined || s.rss > peak.rss) peak = s;
  return {
    start: lastBefore(event("first host read")),
    kallsyms: lastBefore(tracingStart - 100),
    peak,
    steady: median(secondHalf),
    steadyMin: Math.min(...secondHalf),
    steadyMax: Math.max(...secondHalf),
    finished: lastBefore(event("sigterm")),
    hwm: Math.max(...run.samples.map((s) => s.hwm)),
  };
}

function describe(run: Run): void {
  const p = phases(run);
  const line = (label: string, s: Sample | undefined) => {
    console.log(`  ${label.padEnd(38)} ${mib(s?.rss).padStart(6)} MiB   (anon ${mib(s?.anon)}, file ${mib(s?.file)})`);
  };
  line("after start (imports, /metrics up)", p.start);
  line("after kallsyms is loaded (probe idle)", p.kallsyms);
  line("peak while tracing (sampled)", p.peak);
  console.log(
    `  ${"steady state while tracing".padEnd(38)} ${mib(p.steady).padStart(6)} MiB   (median of the second half; range ${mib(p.steadyMin)} to ${mib(p.steadyMax)})`,
  );
  line("after the final report (idle)", p.finished);
  console.log(`  ${"VmHWM (the kernel's peak RSS)".padEnd(38)} ${mib(p.hwm).padStart(6)} MiB`);

  console.log("  RSS over time (every 2 s from the probe's start; t=0 is the first interval):");
  const tracingStart = (run.events.get("probe armed: counting") ?? 0) + PRELUDE_MS;
  const series: string[] = [];
  for (const s of run.samples.filter((x) => x.t >= tracingStart - PRELUDE_MS)) {
    const second = Math.round((s.t - tracingStart) / 1000);
    if (second % 2 === 0 && !series.some((x) => x.startsWith(`${String(second)}s:`))) series.push(`${String(second)}s:${mib(s.rss)}`);
  }
  console.log(`    ${series.join(" ")}`);

  if (run.scrapes.length > 0) {
    console.log("  the agent's /metrics (MiB): label: process_resident_memory / heap used of total / external");
    for (const { label, metrics } of run.scrapes) {
      console.log(
        `    ${label.padEnd(14)} rss ${mib(metrics["process_resident_memory_bytes"])}  heap ${mib(metrics["nodejs_heap_size_used_bytes"])} of ${mib(metrics["nodejs_heap_size_total_bytes"])}` +
          `  external ${mib(metrics["nodejs_external_memory_bytes"])}  rows ${String(metrics["rows"] ?? "-")}  drops ${String(metrics["drops_total"] ?? "-")}`,
      );
    }
  }
  for (const u of run.usages) {
    const spaces = Object.entries(u.spaces)
      .filter(([, s]) => s.size >= MiB / 2)
      .map(([name, s]) => `${name.replace(/_space$/, "")} ${mib(s.used)}/${mib(s.size)}`)
      .join(", ");
    console.log(
      `  memoryUsage at ${u.label}${u.collected ? " (after gc)" : ""}: rss ${mib(u.rss)} (anon ${mib(u.rssAnon)}, file ${mib(u.rssFile)}), ` +
        `heap ${mib(u.heapUsed)} used of ${mib(u.heapTotal)}, external ${mib(u.external)} (arrayBuffers ${mib(u.arrayBuffers)}); spaces used/size: ${spaces}`,
    );
  }
  console.log(`  ${run.reportCheck}; agent exit code ${String(run.exitCode)}; agent CPU ${run.cpuSeconds.toFixed(1)} s`);
  if (run.warnings.length > 0) console.log(`  agent warnings: ${run.warnings.slice(0, 5).join(" | ")}`);
}
