// The agent process that bench/agent/memory.ts measures. It is not run from here: memory.ts
// strips its types into a temporary .mjs and runs that with plain `node`, so neither tsx nor
// the TypeScript sources are in the measured process. Everything droptrace runs here is the
// BUILT code in dist/src (what the image runs: `node /app/dist/src/cli.js agent`), loaded by
// absolute URL; this file only does what agentCommand does (logger, Kubernetes client,
// metrics, /metrics server, signals, runAgent) with three stand-ins it cannot avoid off a
// kernel: the test API server's URL instead of the in-cluster one, a host whose
// /proc/kallsyms (and the few other files preflight reads) are the fixture machine's, and the
// stand-in stap/staprun of test/agent/fakes.
//
// Configuration: DROPTRACE_BENCH_AGENT (JSON, see Config). Reports to memory.ts as JSON lines
// on stderr carrying a "bench" key, beside the agent's own pino log lines:
//   {"bench":"import", step, rssBytes, heapUsed, ...}  after each import stage
//   {"bench":"ready", metricsPort}                       before runAgent
//   {"bench":"usage", label, ...}                        on SIGUSR2 (see below)
//   {"bench":"snapshot", file}                           after writing a heap snapshot
// SIGUSR2 reads the file config.commandFile: "usage <label>" prints process.memoryUsage()
// and the V8 heap spaces (after two full collections when --expose-gc is on), "snapshot
// <file>" writes a heap snapshot there.
import { readFileSync, writeSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";
import type { HostView } from "../../src/agent/preflight.js";
import type { ModuleTable } from "../../src/agent/loaded-modules.js";
import type { AgentSettings } from "../../src/agent/settings.js";

type AgentModule = typeof import("../../src/agent/agent.js");
type HostModule = typeof import("../../src/agent/host.js");
type LogModule = typeof import("../../src/log.js");
type MetricsModule = typeof import("../../src/metrics.js");
type HealthModule = typeof import("../../src/http/health-server.js");
type KubernetesModule = typeof import("@kubernetes/client-node");

export interface Config {
  settings: AgentSettings;
  apiUrl: string;
  /** Absolute path of the build's dist/src. */
  distDir: string;
  /**
   * "cli": load dist/src/cli.js first, as the image's entrypoint does (the whole CLI:
   * controller, run, compile); "agent": only the modules the agent uses (a lazy-import what-if).
   */
  imports: "cli" | "agent";
  /** Paths the agent reads (/proc/kallsyms, ...) and the files that stand in for them. */
  files: Record<string, string>;
  /** Directories that exist for the agent (the kernel headers' build link). */
  dirs: string[];
  kernelRelease: string;
  /** `stap` and `staprun` as found on this pretend machine's PATH: the stand-ins. */
  commands: Record<string, string>;
  /** The stand-ins' /proc/modules. */
  modulesFile: string;
  /** Read on SIGUSR2. */
  commandFile: string;
  /** Milliseconds to idle between start-up and runAgent, so "after start" can be sampled. */
  startPauseMs: number;
}

function report(fields: Record<string, unknown>): void {
  writeSync(2, `${JSON.stringify(fields)}\n`);
}

const gc = (globalThis as { gc?: () => void }).gc;

function usage(): Record<string, unknown> {
  if (gc !== undefined) {
    // Twice: Buffers' memory is released by the collection after the one that finds them dead.
    gc();
    gc();
  }
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? "NaN") * 1024;
  return {
    collected: gc !== undefined,
    ...process.memoryUsage(),
    rssAnon: kib("RssAnon"),
    rssFile: kib("RssFile"),
    spaces: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }])),
  };
}

const config = JSON.parse(process.env["DROPTRACE_BENCH_AGENT"] ?? "") as Config;
const dist = (relative: string): string => pathToFileURL(path.join(config.distDir, relative)).href;

process.on("SIGUSR2", () => {
  const [command, argument] = readFileSync(config.commandFile, "utf8").trim().split(" ");
  if (command === "usage") report({ bench: "usage", label: argument, ...usage() });
  if (command === "snapshot" && argument !== undefined) report({ bench: "snapshot", file: writeHeapSnapshot(argument) });
});

report({ bench: "import", step: "node", ...usage() });
const { createLogger } = (await import(dist("log.js"))) as LogModule;
report({ bench: "import", step: "+ pino (log.js)", ...usage() });
const { agentMetrics } = (await import(dist("metrics.js"))) as MetricsModule;
report({ bench: "import", step: "+ prom-client (metrics.js)", ...usage() });
const { runAgent } = (await import(dist("agent/agent.js"))) as AgentModule;
report({ bench: "import", step: "+ agent.js (@kubernetes/client-node, execa, zod)", ...usage() });
const { realHost } = (await import(dist("agent/host.js"))) as HostModule;
const { startHealthServer } = (await import(dist("http/health-server.js"))) as HealthModule;
if (config.imports === "cli") {
  await import(dist("cli.js"));
  report({ bench: "import", step: "+ cli.js (controller, run, compile, commander)", ...usage() });
}
// The Kubernetes client as droptrace's own modules resolved it (already loaded by agent.js).
const kubernetesEntry = createRequire(path.join(config.distDir, "agent", "agent.js")).resolve("@kubernetes/client-node");
const { CustomObjectsApi, KubeConfig } = (await import(pathToFileURL(kubernetesEntry).href)) as KubernetesModule;

/** The real host's file access, on the fixture machine's files. */
const host: HostView = {
  uid: () => 0,
  kernelRelease: () => config.kernelRelease,
  readText: async (p) => {
    const file = config.files[p];
    return file === undefined ? undefined : realHost.readText(file);
  },
  exists: (p) => Promise.resolve(config.dirs.includes(p) || p in config.files),
  readLink: () => Promise.resolve(undefined),
  commandOutput: async (command, args) => {
    const file = path.isAbsolute(command) ? command : config.commands[command];
    return file === undefined ? undefined : realHost.commandOutput(file, args);
  },
};

async function loadedModules(): Promise<string[]> {
  try {
    return (await readFile(config.modulesFile, "utf8")).split("\n").filter((line) => line !== "");
  } catch {
    return [];
  }
}

const modules: ModuleTable = {
  loaded: async () => new Set(await loadedModules()),
  remove: async (name) => {
    await writeFile(config.modulesFile, (await loadedModules()).filter((n) => n !== name).map((n) => `${n}\n`).join(""));
    return undefined;
  },
};

// From here on, what agentCommand does.
const log = createLogger();
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: "bench", server: config.apiUrl, skipTLSVerify: true }],
  users: [{ name: "bench", token: "bench-token" }],
  contexts: [{ name: "bench", cluster: "bench", user: "bench" }],
  currentContext: "bench",
});
const metrics = agentMetrics();
const health = await startHealthServer({ port: config.settings.metricsPort, registry: metrics.registry });
const controller = new AbortController();
const stop = () => {
  log.info("SIGTERM: stopping the probe and writing the final report");
  controller.abort();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
report({ bench: "ready", metricsPort: health.port, ...usage() });
await new Promise((resolve) => setTimeout(resolve, config.startPauseMs));
report({ bench: "runAgent" });
try {
  process.exitCode = await runAgent(config.settings, {
    api: kubeConfig.makeApiClient(CustomObjectsApi),
    log,
    metrics,
    signal: controller.signal,
    trace: { host, modules, stapCommand: config.commands["stap"] ?? "stap", staprunCommand: config.commands["staprun"] ?? "staprun" },
  });
} finally {
  await health.close();
}
