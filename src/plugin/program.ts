// `kubectl droptrace`'s commands and flags (main.ts is the executable). It is the user's side of
// droptrace: it creates, follows, reads and compares DropTraces with the user's own credentials;
// the operator in the cluster does the tracing. Each subcommand's code is loaded when it runs,
// so --help answers without the Kubernetes client.
import { Command, CommanderError, Option } from "commander";
import { EXIT, UsageError } from "../api/exit-codes.js";
import { KNOWN_DROP_REASONS } from "../api/drop-reasons.js";
import { PluginError } from "./errors.js";
import { OUTPUT_FORMATS, processIo, type GlobalFlags, type PluginIo } from "./io.js";
import { HOSTNAME_LABEL, type TraceFlags } from "./spec-flags.js";
import { DEFAULT_THRESHOLD_PERCENT } from "./diff.js";
import { RATE_HELP } from "./view.js";
import packageJson from "../../package.json" with { type: "json" };

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const EXIT_CODES = {
  ok: `${EXIT.ok}    done (for trace and get -w: the trace completed, even if some of its nodes failed)`,
  failed: `${EXIT.failed}    the command failed: no DropTrace API in the cluster (install the chart), no permission, no such trace, a name taken, the API server unreachable`,
  badArguments: `${EXIT.badArguments}    bad flags or arguments, or a DropTrace the API server refused as invalid (its field errors are printed)`,
  traceFailed: `${EXIT.traceFailed}    trace, get -w: the trace ended Failed: every node failed, or none could run it (the conditions say why)`,
  interrupted: `${EXIT.interrupted}  trace, get -w: Ctrl-C stopped following; the trace goes on`,
} as const;

function exitCodesHelp(codes: readonly (keyof typeof EXIT_CODES)[]): string {
  return `\nExit codes:\n${codes.map((c) => `  ${EXIT_CODES[c]}`).join("\n")}\n`;
}

const outputOption = () =>
  new Option("-o, --output <format>", "table, json or yaml (json and yaml hold what the table shows)").choices(OUTPUT_FORMATS).default("table");

function buildProgram(io: PluginIo, setExitCode: (code: number) => void): Command {
  const program = new Command("kubectl droptrace")
    .description(
      "Count where the Linux kernel drops packets on your cluster's nodes: start a DropTrace, watch it live, read it, compare two.\n" +
        "The droptrace operator must be installed in the cluster (its Helm chart); this plugin only creates, follows and reads DropTraces, with your credentials.",
    )
    .version(packageJson.version)
    .option("--kubeconfig <file>", "the kubeconfig file to use (default: $KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "the kubeconfig context to use (default: its current context)")
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .addHelpText("after", exitCodesHelp(["ok", "failed", "badArguments", "traceFailed", "interrupted"]));

  const finish = (code: number) => {
    setExitCode(code);
  };

  program
    .command("trace")
    .argument("[NAME]", "the DropTrace's name (default: droptrace- and five random characters)")
    .description(
      "Start a DropTrace and follow it: a progress line (elapsed and remaining, nodes done, drops so far) and the top rows, " +
        "redrawn each second on a terminal, plain lines otherwise; failing nodes as they appear. At the end, the final table.",
    )
    .option("--duration <duration>", "how long each node traces, such as 30s, 5m or 1h30m (5s..24h; default 60s)")
    .option("--report-interval <duration>", "how often each node reports (5s..5m, not above the duration; default 10s or the duration if shorter)")
    .option("--node <name>", `trace only this node (nodeSelector ${HOSTNAME_LABEL}=<name>)`)
    .option("-l, --selector <key=value,...>", "trace only nodes with these labels (nodeSelector; repeatable)", collect, [])
    .option("--interface <name>", "count only drops on this interface; a trailing * matches a prefix, as cali* (repeatable)", collect, [])
    .option(
      "--reason <name>",
      `count only this drop reason, such as NO_SOCKET or NETFILTER_DROP (repeatable; ${KNOWN_DROP_REASONS.length} names known)`,
      collect,
      [],
    )
    .option("--top <n>", "rows the trace keeps (spec.topN, 1..200; default 20)")
    .option("--stacks", "also record the kernel call stacks behind the top rows (spec.stacks)")
    .option(
      "--max-probe-cpu-percent <n>",
      "a node's probe stops itself once its handler time passes this share of the node's CPU, its counts kept (spec.maxProbeCPUPercent, 1..50; default 5)",
    )
    .option("--ttl <duration>", "delete the DropTrace this long after it ends (spec.ttlSecondsAfterFinished; default: keep it)")
    .option("--rm", "delete the DropTrace when it has ended and its table is printed", false)
    .addOption(outputOption())
    .addHelpText(
      "after",
      `\n${RATE_HELP}\n` +
        "Elapsed and left count from the trace's start; each node traces for the duration from its own start, once its probe is compiled or loaded, " +
        "so the last results can come a while after.\n" +
        "Ctrl-C stops following and leaves the trace running: `kubectl droptrace get NAME -w` follows it again, `kubectl delete dt NAME` stops it.\n" +
        "With -o json or yaml, the live view goes to stderr and stdout holds the final result.\n" +
        "\nExamples:\n" +
        "  # Every Linux node for a minute, followed live\n" +
        "  kubectl droptrace trace --duration 60s\n\n" +
        "  # One node's eth0 for five minutes, named, deleted at the end\n" +
        "  kubectl droptrace trace worker-1-eth0 --node worker-1 --interface eth0 --duration 5m --rm\n\n" +
        "  # Only netfilter drops on Calico's pod interfaces, on nodes labelled pool=web\n" +
        "  kubectl droptrace trace --selector pool=web --interface 'cali*' --reason NETFILTER_DROP\n" +
        exitCodesHelp(["ok", "failed", "badArguments", "traceFailed", "interrupted"]),
    )
    .action(async (name: string | undefined, _opts: unknown, command: Command) => {
      const flags = command.optsWithGlobals<TraceFlags & GlobalFlags & { rm: boolean }>();
      finish(await (await import("./trace-command.js")).traceCommand(name, flags, io));
    });

  program
    .command("get")
    .argument("<NAME>", "the DropTrace")
    .description("Print a DropTrace: its merged rows with their rate per second, its node summary and its conditions.")
    .option("-w, --watch", "follow it live until it ends, then print it", false)
    .addOption(outputOption())
    .addHelpText(
      "after",
      `\nColumns: SYMBOL, MODULE, REASON, INTERFACE where the kernel dropped and why; WORKLOAD (kind/namespace/name, kubectl's short kind), POD and CLASS where the rows carry them; ` +
        `NODES that saw the row; COUNT; RATE/S.\n${RATE_HELP}\n` +
        "\nExamples:\n" +
        "  kubectl droptrace get all-nodes\n" +
        "  kubectl droptrace get all-nodes -w          # follow it to its end\n" +
        "  kubectl droptrace get all-nodes -o json     # the same, for scripts (with ratePerSecond)\n" +
        exitCodesHelp(["ok", "failed", "badArguments", "traceFailed", "interrupted"]) +
        "  Without -w, get exits 0 whatever the trace's phase.\n",
    )
    .action(async (name: string, _opts: unknown, command: Command) => {
      finish(await (await import("./get-command.js")).getCommand(name, command.optsWithGlobals<GlobalFlags & { watch: boolean }>(), io));
    });

  program
    .command("diff")
    .argument("<A>", "the trace before, such as before a fix")
    .argument("<B>", "the trace after")
    .description(
      "Compare two DropTraces row by row by drops per second: rows new in B, gone from it, grown or shrunk by more than the threshold, largest change first.",
    )
    .option(
      "--threshold <percent>",
      "list a row in both only when its rate changed by more than this percentage of its rate in A",
      String(DEFAULT_THRESHOLD_PERCENT),
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      `\n${RATE_HELP}\n` +
        "A trace keeps only its top rows (spec.topN): a row it does not list may have been below its lowest rate; the table shows such a rate as <=.\n" +
        "\nExamples:\n" +
        "  # Is it still dropping after my fix?\n" +
        "  kubectl droptrace trace before-fix --duration 2m\n" +
        "  # ... apply the fix ...\n" +
        "  kubectl droptrace trace after-fix --duration 2m\n" +
        "  kubectl droptrace diff before-fix after-fix\n" +
        exitCodesHelp(["ok", "failed", "badArguments"]),
    )
    .action(async (a: string, b: string, _opts: unknown, command: Command) => {
      finish(await (await import("./diff-command.js")).diffCommand(a, b, command.optsWithGlobals<GlobalFlags & { threshold: string }>(), io));
    });

  program
    .command("nodes")
    .argument("<NAME>", "the DropTrace")
    .description("One line per node of a DropTrace: its phase, drops and kernel, and for a node that failed, why and what to do about it.")
    .addOption(outputOption())
    .addHelpText(
      "after",
      "\nThe lines come from the nodes' DropTraceReports (`kubectl get dtr -l droptrace.io/trace=NAME`), failing nodes first; " +
        "without permission to list those, from the DropTrace's node summary.\n" +
        "\nExamples:\n" +
        "  kubectl droptrace nodes all-nodes\n" +
        exitCodesHelp(["ok", "failed", "badArguments"]),
    )
    .action(async (name: string, _opts: unknown, command: Command) => {
      finish(await (await import("./nodes-command.js")).nodesCommand(name, command.optsWithGlobals<GlobalFlags>(), io));
    });

  return program;
}

/** Parses argv, runs the subcommand, and returns the exit code; never throws. */
export async function main(argv: readonly string[], io: PluginIo = processIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.badArguments;
    const code = err instanceof PluginError || err instanceof UsageError ? err.exitCode : EXIT.failed;
    io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return code;
  }
}
