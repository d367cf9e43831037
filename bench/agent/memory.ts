// The agent's resident memory while tracing (goal: under 80 MB). Prints numbers, asserts nothing.
//
//   npm run build && npx tsx bench/agent/memory.ts        # one run, as the image runs the agent
//   npx tsx bench/agent/memory.ts --breakdown --snapshot  # where it goes: import costs, live heap
//                                                         # after forced collections, a heap snapshot
//   npx tsx bench/agent/memory.ts --options --repeat 3    # candidate savings, medians of 3 runs each
//                                                         # (--only 0,3,10 picks rows of that table)
//   npx tsx bench/agent/memory.ts --node-flag=--optimize-for-size --env=MALLOC_ARENA_MAX=2
//   npx tsx bench/agent/memory.ts --kube-client minimal --kallsyms tiny   # what-ifs, see Variant
//   npx tsx bench/agent/memory.ts --seconds 120 --rows 10000 --keys 20000 # longer, heavier stream
//
// The measured process is the BUILT agent (dist/src, so `npm run build` first), run by plain
// `node` without tsx, through bench/agent/memory-agent.ts: it loads dist/src/cli.js as the
// image's entrypoint does and then does what agentCommand does, against the in-process test API
// server, with the fixture kernel's 211k-line /proc/kallsyms and the stand-in staprun of
// test/agent/fakes replaying a stream of thousands of rows a second. Its RSS is read from
// /proc/<pid>/status every 200 ms; heap figures come from the agent's own /metrics.
// This process (tsx, the API server, the stand-ins' generator) is not measured, nor is the
// stand-in staprun (a node process of its own, where the real one is a small C program).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { cp, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { CustomObjectsApi } from "@kubernetes/client-node";
import ts from "typescript";
import { parseKfreeSkbFormat } from "../../src/agent/drop-reasons.js";
import { API_VERSION, DROPTRACE_REPORT, GROUP, MAX_REPORT_ROWS, VERSION } from "../../src/api/constants.js";
import { readFixture, readFixtureKallsyms } from "../../test/agent/fixture.js";
import { FAKE_STAP, FAKE_STAPRUN, ProbeOutput, RELEASE, row, StandIns } from "../../test/agent/stand-ins.js";
import { startTestApiServer } from "../../test/support/apiserver.js";
import type { Config } from "./memory-agent.js";
import { dropKeys, random } from "./workload.js";

const repoRoot = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const DIST_SRC = path.join(repoRoot, "dist", "src");
const AGENT_SOURCE = path.join(repoRoot, "bench", "agent", "memory-agent.ts");
const SHIM_SOURCE = path.join(repoRoot, "bench", "agent", "memory-kube-shim.ts");
const MiB = 2 ** 20;
const SAMPLE_MS = 200;
const START_PAUSE_MS = 1500;
/** Quiet time between the probe's start (kallsyms loaded) and its first interval. */
const PRELUDE_MS = 2500;
const SCRAPE_EVERY_MS = 5000;

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    rows: { type: "string", default: "3000" },
    keys: { type: "string", default: "4000" },
    "node-flag": { type: "string", multiple: true, default: [] },
    env: { type: "string", multiple: true, default: [] },
    imports: { type: "string", default: "cli" },
    kallsyms: { type: "string", default: "full" },
    breakdown: { type: "boolean", default: false },
    snapshot: { type: "boolean", default: false },
    "kube-client": { type: "string", default: "real" },
    options: { type: "boolean", default: false },
    only: { type: "string" },
    repeat: { type: "string", default: "1" },
  },
});

const SECONDS = Number(args.seconds);
const ROWS_PER_INTERVAL = Number(args.rows);
const DISTINCT_KEYS = Number(args.keys);
const REPEAT = Number(args.repeat);
if (![SECONDS, ROWS_PER_INTERVAL, DISTINCT_KEYS, REPEAT].every((n) => Number.isInteger(n) && n > 0)) throw new Error("--seconds, --rows and --keys take positive integers");
if (args.imports !== "cli" && args.imports !== "agent") throw new Error("--imports is cli or agent");
if (!["full", "code", "tiny"].includes(args.kallsyms)) throw new Error("--kallsyms is full, code or tiny");
if (!["real", "minimal"].includes(args["kube-client"])) throw new Error("--kube-client is real or minimal");

// ---- the machine and the build -------------------------------------------------------------------

function machine(): string {
  const debian = existsSync("/etc/debian_version") ? `Debian ${readFileSync("/etc/debian_version", "utf8").trim()}` : os.type();
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `${String(os.availableParallelism())} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${debian}, kernel ${os.release()}, node ${process.version}`;
}

/** src files changed since they were built: the numbers would be the older build's. */
function staleBuild(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith(".ts")) {
        const built = path.join(DIST_SRC, path.relative(path.join(repoRoot, "src"), file)).replace(/\.ts$/, ".js");
        if (!existsSync(built) || statSync(built).mtimeMs < statSync(file).mtimeMs) stale.push(path.relative(repoRoot, file));
      }
    }
  };
  walk(path.join(repoRoot, "src"));
  return stale;
}

// ---- the workload: the fixture kernel's drop sites, a few thousand keys --------------------------

interface Workload {
  intervals: string[][];
  /** The end probe's output on SIGINT: a last partial interval and the end record. */
  last: string[];
  total: number;
}

function workload(kallsymsText: string): Workload {
  const next = random(42);
  const reasons = parseKfreeSkbFormat(readFixture("kfree_skb.format"));
  const keys = dropKeys(kallsymsText, reasons, DISTINCT_KEYS, next);
  const out = new ProbeOutput();
  let total = 0;
  const interval = (rows: number): string[] => {
    const start = Math.floor(next() * keys.length);
    const lines: string[] = [];
    // One interval prints each key once, so at most every key.
    for (let i = 0; i < Math.min(rows, keys.length); i += 1) {
      const [location, iface, netns, reason] = keys[(start + i) % keys.length] ?? ["", "", 0, 0];
      const count = 1 + Math.floor(next() * 50);
      total += count;
      lines.push(row(count, location, iface, netns, reason));
    }
    return out.interval(lines);
  };
  const intervals = Array.from({ length: SECONDS }, () => interval(ROWS_PER_INTERVAL));
  const last = [...interval(Math.floor(ROWS_PER_INTERVAL / 3)), out.end()];
  return { intervals, last, total };
}

/** A what-if kallsyms: code lines as they are, data boundaries nameless, everything else gone. */
function codeOnlyKallsyms(text: string): string {
  const kept: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = line.charAt(line.indexOf(" ") + 1);
    if ("tTwW".includes(type)) kept.push(line);
    else if ("bBdDrRgGsSvV".includes(type)) kept.push(`${line.slice(0, line.indexOf(" ") + 2)} _`);
  }
  return `${kept.join("\n")}\n`;
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

interface Variant {
  name: string;
  nodeFlags: string[];
  env: Record<string, string>;
  imports: "cli" | "agent";
  kallsyms: "full" | "code" | "tiny";
  /** "minimal": memory-kube-shim.ts in place of @kubernetes/client-node (implies agent-only imports). */
  kubeClient: "real" | "minimal";
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

interface Run {
  variant: Variant;
  samples: Sample[];
  events: Map<string, number>;
  imports: (Usage & { step: string })[];
  usages: Usage[];
  scrapes: { t: number; label: string; metrics: Metrics }[];
  snapshotFile?: string;
  exitCode: number | null;
  /** User and system CPU seconds of the agent, at the end. */
  cpuSeconds: number;
  reportCheck: string;
  warnings: string[];
}

interface Prepared {
  agentJs: string;
  /** dist/src of a scratch copy of the build whose @kubernetes/client-node is the shim. */
  minimalDist: string;
  kallsyms: Record<Variant["kallsyms"], string>;
  work: Workload;
  scratch: string;
}

async function measure(variant: Variant, prepared: Prepared): Promise<Run> {
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
      body: { apiVersion: API_VERSION, kind: "DropTrace", metadata: { name: trace }, spec: { duration: `${String(SECONDS + 10)}s` } },
    })) as { metadata: { uid: string } };

    const steps = [{ sleepMs: PRELUDE_MS }, ...prepared.work.intervals.flatMap((lines) => [{ out: lines }, { sleepMs: 1000 }])];
    await standIns.staprun({ steps, onSigint: [{ out: prepared.work.last }, { exit: 0 }] });

    const file = (name: string, text: string): string => {
      const target = path.join(standIns.dir, name);
      writeFileSync(target, text);
      return target;
    };
    const files = {
      "/proc/kallsyms": prepared.kallsyms[variant.kallsyms],
      "/proc/modules": file("proc-modules", readFixture("proc-modules.txt")),
      "/proc/sys/kernel/modules_disabled": file("modules_disabled", "0\n"),
      "/sys/kernel/security/lockdown": file("lockdown", "[none] integrity confidentiality\n"),
      "/sys/kernel/tracing/events/skb/kfree_skb/format": file("kfree_skb.format", readFixture("kfree_skb.format")),
      "/etc/os-release": file("os-release", 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nID=debian\n'),
    };
    const commandFile = path.join(standIns.dir, "bench-command");
    const config: Config = {
      settings: {
        trace,
        traceUid: created.metadata.uid,
        node: "bench-node",
        // The probe's quiet start, the intervals, and a second for the last one.
        durationSeconds: Math.ceil(PRELUDE_MS / 1000) + SECONDS + 1,
        intervalSeconds: 1,
        interfaces: [],
        reasons: [],
        cacheDir: standIns.cacheDir,
        metricsPort: 0,
        rowCap: MAX_REPORT_ROWS,
      },
      apiUrl: server.url,
      distDir: variant.kubeClient === "minimal" ? prepared.minimalDist : DIST_SRC,
      imports: variant.kubeClient === "minimal" ? "agent" : variant.imports,
      files,
      dirs: [`/lib/modules/${RELEASE}/build`],
      kernelRelease: RELEASE,
      commands: { stap: FAKE_STAP, staprun: FAKE_STAPRUN },
      modulesFile: standIns.modulesFile,
      commandFile,
      startPauseMs: START_PAUSE_MS,
    };
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== "NODE_OPTIONS") env[key] = value;
    Object.assign(env, standIns.env, variant.env, { DROPTRACE_BENCH_AGENT: JSON.stringify(config) });

    const run: Run = { variant, samples: [], events: new Map(), imports: [], usages: [], scrapes: [], exitCode: null, cpuSeconds: Number.NaN, reportCheck: "", warnings: [] };
    const t0 = performance.now();
    const now = () => performance.now() - t0;
    const child = spawn(process.execPath, [...variant.nodeFlags, prepared.agentJs], { env, stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    const pid = child.pid;
    if (pid === undefined) throw new Error("the agent process did not start");
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

    createInterface({ input: child.stderr }).on("line", (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        run.warnings.push(line);
        return;
      }
      const bench = entry["bench"];
      if (bench === "import") run.imports.push(entry as unknown as Usage & { step: string });
      else if (bench === "usage") run.usages.push(entry as unknown as Usage);
      else if (bench === "snapshot") {
        run.snapshotFile = String(entry["file"]);
        mark("snapshot");
      } else if (bench === "ready") {
        run.events.set("port", Number(entry["metricsPort"]));
        mark("ready");
      } else if (typeof bench === "string") mark(bench);
      else {
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
      if (args.breakdown) await command(`usage ${label}`);
      const metrics = await scrape(run.events.get("port") ?? 0);
      if (metrics !== undefined) run.scrapes.push({ t: now(), label, metrics });
    };

    try {
      await waitFor("ready", 60_000);
      await at(START_PAUSE_MS / 2);
      await observe("start");
      await waitFor("probe started", 60_000);
      await at(PRELUDE_MS / 2);
      await observe("kallsyms");
      const tracingStart = (run.events.get("probe started") ?? 0) + PRELUDE_MS;
      const tracingMs = SECONDS * 1000;
      let snapshotTaken = false;
      for (let t = SCRAPE_EVERY_MS; t < tracingMs; t += SCRAPE_EVERY_MS) {
        await at(Math.max(0, tracingStart + t - now()));
        if (args.snapshot && !snapshotTaken && t >= tracingMs * 0.75) {
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

// ---- the numbers ---------------------------------------------------------------------------------

const mib = (bytes: number | undefined): string => (bytes === undefined || Number.isNaN(bytes) ? "-" : (bytes / MiB).toFixed(1));

function median(values: readonly number[]): number {
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

function phases(run: Run): Phases {
  const event = (name: string): number => run.events.get(name) ?? Number.NaN;
  const lastBefore = (t: number): Sample | undefined => run.samples.filter((s) => s.t < t).at(-1);
  const tracingStart = event("probe started") + PRELUDE_MS;
  const tracingEnd = Math.min(event("probe stopped"), run.events.get("snapshot requested") ?? Infinity);
  const tracing = run.samples.filter((s) => s.t >= tracingStart && s.t <= tracingEnd);
  const secondHalf = tracing.filter((s) => s.t >= (tracingStart + tracingEnd) / 2).map((s) => s.rss);
  let peak: Sample | undefined;
  for (const s of tracing) if (peak === undefined || s.rss > peak.rss) peak = s;
  return {
    start: lastBefore(event("runAgent")),
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
  console.log(`  ${"steady state while tracing".padEnd(38)} ${mib(p.steady).padStart(6)} MiB   (median of the second half; range ${mib(p.steadyMin)} to ${mib(p.steadyMax)})`);
  line("after the final report (idle)", p.finished);
  console.log(`  ${"VmHWM (the kernel's peak RSS)".padEnd(38)} ${mib(p.hwm).padStart(6)} MiB`);

  console.log("  RSS over time (every 2 s from the probe's start; t=0 is the first interval):");
  const tracingStart = (run.events.get("probe started") ?? 0) + PRELUDE_MS;
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
  if (run.imports.length > 0) {
    console.log(`  import stages (${run.imports[0]?.collected === true ? "after full collections" : "no forced collection"}): rss / heap used / external+arrayBuffers MiB`);
    for (const u of run.imports) console.log(`    ${u.step.padEnd(50)} ${mib(u.rss)} / ${mib(u.heapUsed)} / ${mib(u.external)}`);
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

/** Self sizes in a heap snapshot, by kind: what the JS heap holds. */
function summarizeSnapshot(file: string): void {
  const snapshot = JSON.parse(readFileSync(file, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, { size: number; count: number }>();
  const largest: { size: number; what: string }[] = [];
  let total = 0;
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt] ?? 0] ?? "?";
    const name = snapshot.strings[snapshot.nodes[i + nameAt] ?? 0] ?? "";
    const size = snapshot.nodes[i + sizeAt] ?? 0;
    total += size;
    const key = type.includes("string") || type === "number" || type === "code" ? `(${type})` : `${type} ${name.slice(0, 40)}`;
    const group = groups.get(key) ?? { size: 0, count: 0 };
    group.size += size;
    group.count += 1;
    groups.set(key, group);
    if (size >= 256 * 1024) largest.push({ size, what: `${type} ${JSON.stringify(name.slice(0, 60))}` });
  }
  console.log(`  heap snapshot ${path.basename(file)}: ${mib(total)} MiB of self sizes; the largest kinds:`);
  for (const [key, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, 15)) {
    console.log(`    ${mib(g.size).padStart(6)} MiB  ${String(g.count).padStart(8)} x ${key}`);
  }
  console.log("  single objects of 256 KiB or more:");
  for (const l of largest.sort((a, b) => b.size - a.size).slice(0, 8)) console.log(`    ${mib(l.size).padStart(6)} MiB  ${l.what}`);
}

async function bareNode(): Promise<Status | undefined> {
  const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 3000)"], { stdio: "ignore" });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const status = child.pid === undefined ? undefined : readStatus(child.pid);
  child.kill("SIGKILL");
  await new Promise((resolve) => child.on("exit", resolve));
  return status;
}

// ---- main ------------------------------------------------------------------------------------------

function transpile(source: string): string {
  return ts.transpileModule(readFileSync(source, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    fileName: source,
  }).outputText;
}

/**
 * A scratch copy of the build (dist/src, package.json, the probe script) whose node_modules links
 * to the real packages except @kubernetes/client-node, which is memory-kube-shim.ts.
 */
async function minimalClientApp(scratch: string): Promise<string> {
  const app = path.join(scratch, "minimal-client-app");
  await mkdir(path.join(app, "stap"), { recursive: true });
  await cp(path.join(repoRoot, "package.json"), path.join(app, "package.json"));
  await cp(path.join(repoRoot, "stap", "droptrace.stp"), path.join(app, "stap", "droptrace.stp"));
  await cp(DIST_SRC, path.join(app, "dist", "src"), { recursive: true });
  const modules = path.join(repoRoot, "node_modules");
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith(".")) continue;
    if (entry.startsWith("@")) {
      await mkdir(path.join(app, "node_modules", entry), { recursive: true });
      for (const scoped of readdirSync(path.join(modules, entry))) {
        if (`${entry}/${scoped}` !== "@kubernetes/client-node") await symlink(path.join(modules, entry, scoped), path.join(app, "node_modules", entry, scoped));
      }
    } else {
      await symlink(path.join(modules, entry), path.join(app, "node_modules", entry));
    }
  }
  const shim = path.join(app, "node_modules", "@kubernetes", "client-node");
  await mkdir(shim, { recursive: true });
  await writeFile(path.join(shim, "package.json"), JSON.stringify({ name: "@kubernetes/client-node", type: "module", main: "index.js" }));
  await writeFile(path.join(shim, "index.js"), transpile(SHIM_SOURCE));
  return path.join(app, "dist", "src");
}

/** RSS and live heap of a fresh `node --expose-gc` after importing one module, and nothing else. */
async function importCost(scratch: string, specifier: string | undefined): Promise<string> {
  const script = path.join(scratch, "import-cost.mjs");
  await writeFile(
    script,
    [
      "const target = process.argv[2];",
      "if (target) await import(target);",
      "globalThis.gc(); globalThis.gc();",
      'const status = (await import("node:fs")).readFileSync("/proc/self/status", "utf8");',
      "const kib = (f) => Number(new RegExp(`^${f}:\\\\s+(\\\\d+) kB`, \"m\").exec(status)[1]) * 1024;",
      'console.log(JSON.stringify({ rss: kib("VmRSS"), anon: kib("RssAnon"), heap: process.memoryUsage().heapUsed }));',
    ].join("\n"),
  );
  const url = specifier === undefined ? undefined : specifier.startsWith("/") ? pathToFileURL(specifier).href : import.meta.resolve(specifier);
  const output = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, ["--expose-gc", script, ...(url === undefined ? [] : [url])], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    child.on("exit", () => {
      resolve(text);
    });
  });
  const { rss, anon, heap } = JSON.parse(output) as { rss: number; anon: number; heap: number };
  return `rss ${mib(rss).padStart(6)}  anon ${mib(anon).padStart(6)}  live heap ${mib(heap).padStart(5)}`;
}

if (!existsSync(path.join(DIST_SRC, "cli.js"))) throw new Error(`${DIST_SRC}/cli.js is missing: run \`npm run build\` first`);
console.log(`machine: ${machine()}`);
const stale = staleBuild();
console.log(
  `measured: the build in dist/src (${new Date(statSync(path.join(DIST_SRC, "agent", "agent.js")).mtimeMs).toISOString()}), run by plain node, no tsx` +
    (stale.length > 0 ? `; WARNING: ${String(stale.length)} src files are newer than the build (${stale.slice(0, 4).join(", ")}...): run \`npm run build\`` : ""),
);

const scratch = path.join(os.tmpdir(), `droptrace-memory-bench-${String(process.pid)}`);
await rm(scratch, { recursive: true, force: true });
await mkdir(scratch, { recursive: true });
try {
  const agentJs = path.join(scratch, "memory-agent.mjs");
  await writeFile(agentJs, transpile(AGENT_SOURCE));
  const kallsymsText = readFixtureKallsyms();
  const kallsyms: Prepared["kallsyms"] = {
    full: path.join(scratch, "kallsyms"),
    code: path.join(scratch, "kallsyms-code-only"),
    tiny: path.join(scratch, "kallsyms-tiny"),
  };
  await writeFile(kallsyms.full, kallsymsText);
  await writeFile(kallsyms.code, codeOnlyKallsyms(kallsymsText));
  // The fixture's four drop sites' functions only: every other address comes out unknown.
  await writeFile(kallsyms.tiny, kallsymsText.split("\n").filter((l) => / T (udp_rcv|neigh_invalidate|ip6_mc_input|__tcf_kfree_skb_list|_stext|_etext)$/.test(l)).join("\n") + "\n");
  const work = workload(kallsymsText);
  const prepared: Prepared = { agentJs, minimalDist: await minimalClientApp(scratch), kallsyms, work, scratch };
  console.log(
    `workload: fixture kallsyms ${String(kallsymsText.split("\n").length - 1)} lines, ${mib(statSync(kallsyms.full).size)} MiB ` +
      `(what-ifs: code-only ${mib(statSync(kallsyms.code).size)} MiB, tiny ${String(statSync(kallsyms.tiny).size)} bytes); ` +
      `stand-in staprun: ${String(SECONDS)} intervals of ${String(Math.min(ROWS_PER_INTERVAL, DISTINCT_KEYS))} rows, 1 s apart, ` +
      `over ${String(DISTINCT_KEYS)} distinct keys; rowCap ${String(MAX_REPORT_ROWS)}`,
  );

  const bare = await bareNode();
  console.log(`bare node (node -e, idle): rss ${mib(bare?.rss)} MiB (anon ${mib(bare?.anon)}, file ${mib(bare?.file)})`);

  if (args.breakdown) {
    console.log("import costs, each alone in a fresh node --expose-gc, after full collections (MiB):");
    const costs: [string, string | undefined][] = [
      ["nothing", undefined],
      ["pino", "pino"],
      ["prom-client", "prom-client"],
      ["zod", "zod"],
      ["execa", "execa"],
      ["commander", "commander"],
      ["@kubernetes/client-node", "@kubernetes/client-node"],
      ["@kubernetes/client-node/dist/config.js (KubeConfig alone)", path.join(repoRoot, "node_modules/@kubernetes/client-node/dist/config.js")],
      ["minimal client (memory-kube-shim.ts)", path.join(prepared.minimalDist, "../../node_modules/@kubernetes/client-node/index.js")],
      ["dist/src/agent/agent.js", path.join(DIST_SRC, "agent/agent.js")],
      ["dist/src/agent/agent.js, minimal client", path.join(prepared.minimalDist, "agent/agent.js")],
      ["dist/src/cli.js (the image's entrypoint)", path.join(DIST_SRC, "cli.js")],
    ];
    for (const [label, specifier] of costs) console.log(`  ${label.padEnd(58)} ${await importCost(scratch, specifier)}`);
  }

  const envOf = (list: readonly string[]): Record<string, string> =>
    Object.fromEntries(list.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));

  if (!args.options) {
    const variant: Variant = {
      name: "as given",
      nodeFlags: [...args["node-flag"], ...(args.breakdown ? ["--expose-gc"] : [])],
      env: envOf(args.env),
      imports: args.imports,
      kallsyms: args.kallsyms as Variant["kallsyms"],
      kubeClient: args["kube-client"] as Variant["kubeClient"],
    };
    const flags = [...variant.nodeFlags, ...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`)];
    console.log(`agent: node ${flags.join(" ")} memory-agent.mjs (imports: ${variant.imports}, kallsyms: ${variant.kallsyms}, kube client: ${variant.kubeClient})`);
    const run = await measure(variant, prepared);
    describe(run);
    if (run.snapshotFile !== undefined) summarizeSnapshot(run.snapshotFile);
  } else {
    const image: Variant = { name: "as the image runs it", nodeFlags: [], env: {}, imports: "cli", kallsyms: "full", kubeClient: "real" };
    const minimal: Variant = { ...image, imports: "agent", kubeClient: "minimal" };
    const variants: Variant[] = [
      image,
      { ...image, name: "--max-semi-space-size=1", nodeFlags: ["--max-semi-space-size=1"] },
      { ...image, name: "--max-semi-space-size=4", nodeFlags: ["--max-semi-space-size=4"] },
      { ...image, name: "--optimize-for-size", nodeFlags: ["--optimize-for-size"] },
      { ...image, name: "--single-threaded", nodeFlags: ["--single-threaded"] },
      { ...image, name: "--max-old-space-size=96", nodeFlags: ["--max-old-space-size=96"] },
      { ...image, name: "--optimize-for-size --max-semi-space-size=4", nodeFlags: ["--optimize-for-size", "--max-semi-space-size=4"] },
      { ...image, name: "MALLOC_ARENA_MAX=2", env: { MALLOC_ARENA_MAX: "2" } },
      { ...image, name: "--jitless (slow; for scale)", nodeFlags: ["--jitless"] },
      { ...image, name: "what-if: agent imports only (no cli.js)", imports: "agent" },
      { ...minimal, name: "what-if: minimal Kubernetes client" },
      { ...image, name: "what-if: code-only kallsyms text", kallsyms: "code" },
      { ...image, name: "what-if: tiny kallsyms (bound on its savings)", kallsyms: "tiny" },
      { ...minimal, name: "minimal client + --max-semi-space-size=1", nodeFlags: ["--max-semi-space-size=1"] },
      { ...minimal, name: "minimal client + --optimize-for-size", nodeFlags: ["--optimize-for-size"] },
      { ...minimal, name: "minimal client + optimize + code-only kallsyms", nodeFlags: ["--optimize-for-size"], kallsyms: "code" },
      { ...minimal, name: "minimal client + optimize + tiny kallsyms", nodeFlags: ["--optimize-for-size"], kallsyms: "tiny" },
      // About the heap Node sizes for itself under the chart's 1 GiB limit (it configures V8 from
      // the cgroup's limit: a quarter for old space, semi-spaces of 1 MiB), which this machine has not.
      { ...image, name: "--max-old-space-size=256 --max-semi-space-size=1", nodeFlags: ["--max-old-space-size=256", "--max-semi-space-size=1"] },
      { ...image, name: "--heap-growing-percent=20", nodeFlags: ["--heap-growing-percent=20"] },
      { ...minimal, name: "minimal client + old=256 semi=1", nodeFlags: ["--max-old-space-size=256", "--max-semi-space-size=1"] },
      { ...minimal, name: "minimal client + optimize + semi=1", nodeFlags: ["--optimize-for-size", "--max-semi-space-size=1"] },
      { ...minimal, name: "minimal client + semi=4", nodeFlags: ["--max-semi-space-size=4"] },
      { ...minimal, name: "minimal client + semi=4 + tiny kallsyms", nodeFlags: ["--max-semi-space-size=4"], kallsyms: "tiny" },
      { ...minimal, name: "minimal client + old=256 semi=1 + tiny kallsyms", nodeFlags: ["--max-old-space-size=256", "--max-semi-space-size=1"], kallsyms: "tiny" },
    ];
    const only = args.only === undefined ? undefined : new Set(args.only.split(",").map(Number));
    console.log(`each variant ${String(REPEAT)} time(s); medians`);
    console.log(`${"variant".padEnd(48)}  start kallsy   peak steady   idle  VmHWM (MiB RSS)  heap used/total late in tracing  CPU s`);
    for (const [index, variant] of variants.entries()) {
      if (only !== undefined && !only.has(index)) continue;
      // Each column is the median over the repeats: when the collector runs makes single runs vary by several MiB.
      const rows: number[][] = [];
      const problems: string[] = [];
      for (let r = 0; r < REPEAT; r += 1) {
        try {
          const run = await measure(variant, prepared);
          const p = phases(run);
          const lastTracing = run.scrapes.filter((s) => s.label.startsWith("tracing")).at(-1)?.metrics;
          rows.push([
            p.start?.rss ?? Number.NaN,
            p.kallsyms?.rss ?? Number.NaN,
            p.peak?.rss ?? Number.NaN,
            p.steady,
            p.finished?.rss ?? Number.NaN,
            p.hwm,
            lastTracing?.["nodejs_heap_size_used_bytes"] ?? Number.NaN,
            lastTracing?.["nodejs_heap_size_total_bytes"] ?? Number.NaN,
            run.cpuSeconds,
          ]);
          if (!run.reportCheck.includes(`totalDrops ${String(work.total)} `) || run.exitCode !== 0) problems.push(`${run.reportCheck}; exit ${String(run.exitCode)}`);
        } catch (err) {
          problems.push(`failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      const column = (i: number): number => median(rows.map((r) => r[i] ?? Number.NaN));
      console.log(
        `${String(index).padStart(2)} ${variant.name.padEnd(45)} ` +
          [0, 1, 2, 3, 4, 5].map((i) => mib(column(i)).padStart(6)).join(" ") +
          `   ${mib(column(6)).padStart(5)} / ${mib(column(7)).padStart(5)}            ${column(8).toFixed(1).padStart(5)}` +
          (REPEAT > 1 ? `   (steady: ${rows.map((r) => mib(r[3])).join(", ")})` : "") +
          (problems.length > 0 ? `   [${problems.join("; ")}]` : ""),
      );
    }
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
