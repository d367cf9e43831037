// `droptrace run`: the agent's trace on this machine, printed instead of reported.
import Table from "cli-table3";
import { formatDuration } from "../api/duration.js";
import { reportStatus } from "../trace/report-status.js";
import { realHost } from "../trace/host.js";
import { procModules } from "../probe/loaded-modules.js";
import { runTrace, type TraceDeps, type TraceState } from "../trace/session.js";
import type { RunSettings } from "./run-options.js";
import { EXIT } from "../api/exit-codes.js";
import { createLogger, silentLogger } from "./log.js";
import { DEFAULT_CACHE_DIR, MAX_REPORT_ROWS } from "../api/constants.js";

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
  if (outcome === undefined || outcome.phase === "Completed") return EXIT.ok;
  if (outcome.badRequest === true) return EXIT.badArguments;
  return outcome.cannotTrace ? EXIT.cannotTrace : EXIT.failed;
}

function dropTable(state: TraceState): string {
  const table = new Table({ head: ["COUNT", "SYMBOL", "INTERFACE", "NETNS", "MODULE", "REASON"], style: { head: [], border: [] } });
  for (const row of state.snapshot.rows) table.push([row.count, row.symbol, row.interface, row.netns, row.module, row.reason]);
  const lines = [table.toString()];
  const { snapshot } = state;
  if (snapshot.otherRows > 0) lines.push(`... and ${snapshot.otherCount} drops in ${snapshot.otherRows} more rows`);
  lines.push(
    `${snapshot.total} drops in ${snapshot.intervals} intervals${snapshot.uncounted > 0 ? `, ${snapshot.uncounted} more not counted (probe map full)` : ""}`,
  );
  for (const note of state.notes) lines.push(`note: ${note}`);
  return `${lines.join("\n")}\n`;
}

function failureText(outcome: Extract<NonNullable<TraceState["outcome"]>, { phase: "Failed" }>): string {
  const details = outcome.details ?? [];
  if (details.length <= 1) return `droptrace run: ${outcome.reason}: ${outcome.message}\n`;
  return `droptrace run: this machine cannot trace (${outcome.reason}):\n${details.map((d) => `  - ${d}\n`).join("")}`;
}

export async function runCommand(settings: RunSettings, deps: Partial<TraceDeps> = {}, io: RunIo = processIo): Promise<number> {
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
        cacheDir: settings.cacheDir ?? DEFAULT_CACHE_DIR,
        owner: "run",
        rowCap: MAX_REPORT_ROWS,
      },
      {
        host: realHost,
        modules: procModules,
        // The outcome is printed for the user; logs only when asked for (DROPTRACE_LOG_LEVEL=debug).
        log: process.env["DROPTRACE_LOG_LEVEL"] === undefined ? silentLogger : createLogger(),
        ...deps,
      },
      {
        signal: controller.signal,
        onUpdate: (state) => {
          // Progress goes to stderr in both modes: stdout holds only the table or the JSON.
          if (state.outcome !== undefined || state.startTime === undefined) return;
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
    if (settings.output === "json") io.stdout(`${JSON.stringify(reportStatus(state), null, 2)}\n`);
    else if (state.outcome?.phase === "Completed" || state.snapshot.intervals > 0) io.stdout(dropTable(state));
    if (state.outcome?.phase === "Failed") io.stderr(failureText(state.outcome));
    return exitCodeFor(state);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
