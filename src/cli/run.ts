// `droptrace run`: the agent's trace on this machine, printed instead of reported.
import Table from "cli-table3";
import { formatDuration } from "../api/duration.js";
import { probeCost, reportStatus } from "../trace/report-status.js";
import { probeCostLine } from "../api/probe-cost.js";
import { stackLines } from "./stacks-text.js";
import { flowLines } from "./flows-text.js";
import { counterLines } from "./counters-text.js";
import { realHost } from "../trace/host.js";
import { procModules } from "../probe/loaded-modules.js";
import { runTrace, type TraceDeps, type TraceState } from "../trace/session.js";
import type { RunSettings } from "./run-options.js";
import { EXIT } from "../api/exit-codes.js";
import { createLogger, silentLogger } from "./log.js";
import { DEFAULT_CACHE_DIR, MAX_REPORT_ROWS } from "../api/constants.js";
import { attributeRows, attributeStatus, type Attributor } from "../trace/attribution.js";
import { ContainerAttributor } from "../trace/container-attributor.js";
import type { ReportRow } from "../api/report.js";
import { explanationLines } from "./explanations-text.js";

export interface RunIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: RunIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

function exitCodeFor(state: TraceState): number {
  const outcome = state.outcome;
  if (outcome === undefined) return EXIT.ok;
  // Stopped early (ProbeOverload): what it counted is printed, but not over the time asked for.
  if (outcome.phase === "Completed") return outcome.stoppedEarly === undefined ? EXIT.ok : EXIT.failed;
  if (outcome.badRequest === true) return EXIT.badArguments;
  return outcome.cannotTrace ? EXIT.cannotTrace : EXIT.failed;
}

/** Who a row's namespace belongs to, in a table cell: `host`, a container's short ID and runtime, or `-`. */
function ownerCell(row: ReportRow): string {
  if (row.attribution === "host") return "host";
  if (row.container?.id !== undefined) return `${row.container.runtime ?? "container"}://${row.container.id.slice(0, 12)}`;
  return "-";
}

/** The table of rows `droptrace run --output table` prints (also the README's real-kernel example). */
export function rowsTable(rows: readonly ReportRow[]): string {
  const table = new Table({ head: ["COUNT", "SYMBOL", "INTERFACE", "NETNS", "MODULE", "REASON", "CLASS", "OWNER"], style: { head: [], border: [] } });
  for (const row of rows) table.push([row.count, row.symbol, row.interface, row.netns, row.module, row.reason, row.class, ownerCell(row)]);
  return table.toString();
}

function dropTable(state: TraceState, attributor: Attributor): string {
  const lines = [rowsTable(attributeRows(state.snapshot.rows, attributor))];
  const { snapshot } = state;
  if (snapshot.otherRows > 0) lines.push(`... and ${snapshot.otherCount} drops in ${snapshot.otherRows} more rows`);
  lines.push(
    `${snapshot.total} drops in ${snapshot.intervals} intervals${snapshot.uncounted > 0 ? `, ${snapshot.uncounted} more not counted (probe map full)` : ""}`,
  );
  const cost = probeCost(snapshot, state.cpus, state.skippedProbes ?? 0);
  if (cost !== undefined) lines.push(probeCostLine(cost));
  lines.push(...flowLines(snapshot.rows));
  lines.push(...stackLines(snapshot.rows));
  lines.push(...counterLines(state.kernelCounters));
  lines.push(...explanationLines(snapshot.rows));
  for (const note of state.notes) lines.push(`note: ${note}`);
  return `${lines.join("\n")}\n`;
}

function failureText(outcome: Extract<NonNullable<TraceState["outcome"]>, { phase: "Failed" }>): string {
  const details = outcome.details ?? [];
  if (details.length <= 1) return `droptrace run: ${outcome.reason}: ${outcome.message}\n`;
  return `droptrace run: this machine cannot trace (${outcome.reason}):\n${details.map((d) => `  - ${d}\n`).join("")}`;
}

export interface RunDeps extends Partial<TraceDeps> {
  /** Names rows' namespaces; default: this machine's /proc, by container (container-attributor.ts). */
  attributor?: Attributor;
}

export async function runCommand(settings: RunSettings, runDeps: RunDeps = {}, io: RunIo = processIo): Promise<number> {
  const { attributor = new ContainerAttributor(), ...deps } = runDeps;
  const controller = new AbortController();
  const stop = () => {
    controller.abort();
  };
  // `on`, not `once`: execa's exit hook re-raises a signal no other listener is left to handle, which would kill droptrace before it prints.
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const started = Date.now();
  let armedSaid = false;
  try {
    const state = await runTrace(
      {
        durationSeconds: settings.durationSeconds,
        intervalSeconds: settings.intervalSeconds,
        interfaces: settings.spec.filter?.interfaces ?? [],
        reasons: settings.spec.filter?.reasons ?? [],
        stacks: settings.spec.stacks,
        maxProbeCPUPercent: settings.spec.maxProbeCPUPercent,
        cacheDir: settings.cacheDir ?? DEFAULT_CACHE_DIR,
        owner: "run",
        rowCap: MAX_REPORT_ROWS,
      },
      {
        host: realHost,
        modules: procModules,
        procRoot: "/proc",
        // The outcome is printed for the user; logs only when asked for (DROPTRACE_LOG_LEVEL=debug).
        log: process.env["DROPTRACE_LOG_LEVEL"] === undefined ? silentLogger : createLogger(),
        ...deps,
      },
      {
        signal: controller.signal,
        onUpdate: async (state) => {
          // Progress goes to stderr in both modes: stdout holds only the table or the JSON.
          if (state.outcome !== undefined || state.startTime === undefined) return;
          // Each interval, so a container that exits before the trace ends keeps its name.
          await attributor.refresh();
          if (state.snapshot.intervals === 0 && !armedSaid) {
            armedSaid = true;
            const loading = ((state.startTime.getTime() - started) / 1000).toFixed(1);
            io.stderr(`armed: counting drops from now on, for ${formatDuration(settings.durationSeconds)} (the probe took ${loading}s to load and arm)\n`);
            return;
          }
          const elapsed = Math.round((Date.now() - state.startTime.getTime()) / 1000);
          const left = Math.max(0, settings.durationSeconds - elapsed);
          io.stderr(`tracing: ${formatDuration(elapsed)} elapsed, ${formatDuration(left)} left, ${state.snapshot.total} drops so far\n`);
        },
      },
    );
    if (state.snapshot.rows.length > 0) await attributor.refresh();
    if (settings.output === "json") io.stdout(`${JSON.stringify(attributeStatus(reportStatus(state), attributor), null, 2)}\n`);
    else if (state.outcome?.phase === "Completed" || state.snapshot.intervals > 0) io.stdout(dropTable(state, attributor));
    if (state.outcome?.phase === "Failed") io.stderr(failureText(state.outcome));
    const stoppedEarly = state.outcome?.phase === "Completed" ? state.outcome.stoppedEarly : undefined;
    if (stoppedEarly !== undefined) io.stderr(`droptrace run: ${stoppedEarly.reason}: ${stoppedEarly.message}\n`);
    return exitCodeFor(state);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
