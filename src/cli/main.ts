#!/usr/bin/env node
// The one binary: `droptrace controller | agent | run | compile`.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { z } from "zod";
import { EXIT, UsageError } from "../api/exit-codes.js";
import { parseRunFlags } from "./run-options.js";
import { DURATION_DEFAULT } from "../api/droptrace.js";
import { KNOWN_DROP_REASONS } from "../api/drop-reasons.js";
import { MAX_PROBE_CPU_PERCENT_BOUNDS, MAX_PROBE_CPU_PERCENT_DEFAULT } from "../api/probe-cost.js";
import { AGENT_ENV } from "../api/agent-env.js";
import { DEFAULT_CACHE_DIR } from "../api/constants.js";
import { createLogger } from "./log.js";
// The one place the version is written is package.json (the bundle inlines it).
import packageJson from "../../package.json" with { type: "json" };

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** What a subcommand does once its flags are valid; the real work lives in src/<component>/. */
export interface Actions {
  controller(opts: Record<string, unknown>): Promise<number>;
  agent(opts: Record<string, unknown>): Promise<number>;
  run(settings: ReturnType<typeof parseRunFlags>): Promise<number>;
  compile(opts: { kernelRelease: string; cacheDir: string; stacks?: boolean | undefined }): Promise<number>;
}

// Each subcommand's code is loaded only when it runs: `run` and `compile` never load the
// Kubernetes client, which is most of the startup time (seconds on a slow node, tens of
// seconds in the emulated test guest) and memory.
const defaultActions: Actions = {
  controller: async (opts) => (await import("../controller/command.js")).controllerCommand(opts, createLogger()),
  agent: async () => (await import("../agent/command.js")).agentCommand(createLogger()),
  run: async (settings) => (await import("./run.js")).runCommand(settings),
  compile: async (opts) => (await import("./compile.js")).compileCommand(opts),
};

const RunFlagsSchema = z.object({
  duration: z.string(),
  interval: z.string().optional(),
  interface: z.array(z.string()),
  reason: z.array(z.string()),
  stacks: z.boolean().optional(),
  maxProbeCpuPercent: z.string().optional(),
  output: z.string(),
  cacheDir: z.string().optional(),
});

function buildProgram(actions: Actions, setExitCode: (code: number) => void): Command {
  const program = new Command("droptrace")
    .description("Count where the Linux kernel drops packets, by symbol, interface, module and reason.")
    .version(packageJson.version)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();

  const finish = (code: number) => {
    setExitCode(code);
  };

  program
    .command("controller")
    .description("Run the operator: watch DropTraces, schedule node agents, merge their reports into status.")
    .addOption(new Option("--kubeconfig <path>", "kubeconfig file (default: in-cluster, then $KUBECONFIG)").env("KUBECONFIG"))
    .addOption(new Option("--namespace <name>", "namespace for agent DaemonSets").env("POD_NAMESPACE"))
    .addOption(new Option("--agent-image <ref>", "image the agent pods run").env("DROPTRACE_AGENT_IMAGE"))
    .addOption(new Option("--metrics-port <port>", "port for /metrics, /healthz and /readyz").default("8080"))
    .action(async (opts: Record<string, unknown>, command: Command) => {
      // Only flags the user gave (or their env): a flag's default must not hide the environment's
      // DROPTRACE_METRICS_PORT; the controller's settings apply the same defaults.
      const given = Object.fromEntries(Object.entries(opts).filter(([name]) => command.getOptionValueSource(name) !== "default"));
      finish(await actions.controller(given));
    });

  program
    .command("agent")
    .description("Run the node agent (started by the DaemonSet; settings come from its environment).")
    .action(async (opts: Record<string, unknown>) => {
      finish(await actions.agent(opts));
    });

  program
    .command("run")
    .description("Trace drops on this machine without Kubernetes and print what was counted.")
    .option("--duration <duration>", "how long to trace, such as 30s, 5m or 1h30m (5s..24h)", DURATION_DEFAULT)
    .option("--interval <duration>", "how often to print progress (5s..5m; default 10s or the duration if shorter)")
    .option("--interface <name>", "count only this interface; a trailing * matches a prefix (repeatable)", collect, [])
    .option("--reason <name>", `count only this drop reason, such as NO_SOCKET (repeatable; ${KNOWN_DROP_REASONS.length} names known)`, collect, [])
    .option("--stacks", "also record the kernel call stacks behind the top rows (up to 3 a row, 16 frames each)")
    .option(
      "--max-probe-cpu-percent <n>",
      `stop the probe once its handler time passes this share of the machine's CPU (${MAX_PROBE_CPU_PERCENT_BOUNDS.min}..${MAX_PROBE_CPU_PERCENT_BOUNDS.max}; default ${MAX_PROBE_CPU_PERCENT_DEFAULT}); the counts so far are kept`,
    )
    .option("--output <format>", "table or json", "table")
    .addOption(new Option("--cache-dir <dir>", "where compiled probe modules are kept").env(AGENT_ENV.cacheDir))
    .addHelpText(
      "after",
      "\nNo pod filters here: a DropTrace's filter.namespaces and filter.podSelector need the cluster's pods; run names containers, not pods." +
        "\nExit codes: 0 traced, 1 the probe failed or stopped itself early (ProbeOverload: what it counted is printed), 2 bad arguments, 3 this machine cannot trace (the message says why).",
    )
    .action(async (raw: unknown) => {
      finish(await actions.run(parseRunFlags(RunFlagsSchema.parse(raw))));
    });

  program
    .command("compile")
    .description("Build the probe module for a kernel release whose headers are on this machine, into the module cache.")
    .requiredOption("--kernel-release <release>", "kernel release to build for, as `uname -r` prints it on the node")
    .addOption(new Option("--cache-dir <dir>", "where compiled probe modules are kept").env(AGENT_ENV.cacheDir).default(DEFAULT_CACHE_DIR))
    .option("--stacks", "also build the module with the stacks handler, which traces with spec.stacks or run --stacks load")
    .action(async (raw: unknown) => {
      finish(await actions.compile(z.object({ kernelRelease: z.string().min(1), cacheDir: z.string().min(1), stacks: z.boolean().optional() }).parse(raw)));
    });

  return program;
}

/** Parses argv, runs the subcommand, and returns the process exit code; never throws. */
export async function main(argv: readonly string[], actions: Actions = defaultActions): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(actions, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with code 0; every other parse error is a usage error.
      return err.exitCode === 0 ? EXIT.ok : EXIT.badArguments;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`droptrace: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`droptrace: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failed;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
