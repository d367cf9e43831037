// Following a trace while it runs. On a terminal, one frame redrawn in place each interval (a
// progress line, the nodes that failed, the top rows); elsewhere (piped, CI) plain lines, each
// printed once: a progress line when the progress changed, a line per node as it fails.
import { setTimeout as sleep } from "node:timers/promises";
import { createLogUpdate } from "log-update";
import { formatDuration } from "../api/duration.js";
import type { NodeSummary } from "../api/droptrace.js";
import type { Trace } from "./client.js";
import { EXIT } from "../api/exit-codes.js";
import { PluginError } from "./errors.js";
import { nodeDone, rowsTable } from "./render-trace.js";
import { hasEnded, traceView, type TraceView } from "./view.js";

/** stdout or stderr, or a test's stand-in. */
export interface OutputStream extends NodeJS.WritableStream {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export const INTERRUPT_HINT = "Ctrl-C stops following; the trace goes on.";

/** "before-fix Running: 12s elapsed, 18s left; 1/3 nodes done (1 failed); 1103 drops so far" */
export function progressLine(view: TraceView, nowMs: number): string {
  if (view.phase === undefined) return `${view.name}: waiting for the controller`;
  if (view.startTime === undefined) return `${view.name} ${view.phase}: waiting for the nodes to start; ${nodeDone(view)}`;
  const elapsed = Math.max(0, Math.floor((nowMs - Date.parse(view.startTime)) / 1000));
  const left = view.durationSeconds - elapsed;
  // Each node traces for the duration from its own start, after its probe is compiled or loaded:
  // past the duration from the trace's start, the nodes that started late are still at it.
  const clock =
    left > 0
      ? `${formatDuration(elapsed)} elapsed, ${formatDuration(left)} left`
      : `${formatDuration(elapsed)} elapsed, the nodes finishing (each traces ${formatDuration(view.durationSeconds)} from its own start)`;
  return `${view.name} ${view.phase}: ${clock}; ${nodeDone(view)}; ${view.totalDrops} drops so far`;
}

/** Nodes to show as they appear: failed, or held up for a reason (an agent pod that cannot start). */
export function failingNodes(view: TraceView): NodeSummary[] {
  return view.nodeSummary.filter((n) => n.phase === "Failed" || n.reason !== undefined);
}

export function nodeLine(n: NodeSummary): string {
  return `${n.node} ${n.phase}${n.reason === undefined ? "" : `: ${n.reason}`}${n.message === undefined ? "" : `: ${n.message}`}`;
}

/** Failing nodes listed in a frame; the rest are counted. */
const MAX_FAILING_SHOWN = 5;

const cut = (line: string, width: number): string => (line.length <= width ? line : `${line.slice(0, Math.max(0, width - 3))}...`);

/** One frame of the live view, fitted to the terminal: every line within its width, the rows that fit its height. */
export function liveFrame(view: TraceView, nowMs: number, size: { columns: number; rows: number }, problem?: string): string {
  const width = Math.max(20, size.columns - 1);
  const lines = [progressLine(view, nowMs)];
  if (problem !== undefined) lines.push(`(${problem}; trying again)`);
  const failing = failingNodes(view);
  for (const n of failing.slice(0, MAX_FAILING_SHOWN)) lines.push(nodeLine(n));
  if (failing.length > MAX_FAILING_SHOWN)
    lines.push(`... and ${failing.length - MAX_FAILING_SHOWN} more nodes failing: \`kubectl droptrace nodes ${view.name}\` lists them`);
  lines.push("");
  // Room for the lines so far, the table's header, "... more", the hint with its blank line, and
  // the empty line log-update keeps below a frame.
  const fit = Math.max(3, size.rows - lines.length - 5);
  if (view.rows.length === 0) lines.push("no drops counted yet");
  else {
    lines.push(...rowsTable(view.rows.slice(0, fit), { withRate: false }).split("\n"));
    if (view.rows.length > fit) lines.push(`... and ${view.rows.length - fit} more rows`);
  }
  lines.push("", INTERRUPT_HINT);
  return lines.map((l) => cut(l, width)).join("\n");
}

export interface FollowOptions {
  name: string;
  get: (name: string) => Promise<Trace>;
  /** now, on the API server's clock (client.ts serverNow) */
  now: () => number;
  out: OutputStream;
  intervalMs: number;
  /** aborted by Ctrl-C: following stops, the trace goes on */
  interrupt: AbortSignal;
}

/** The trace as it ended, or where following stopped (Ctrl-C) with the last trace seen. */
export type FollowResult = { ended: true; trace: Trace } | { ended: false; trace: Trace | undefined };

export async function follow(options: FollowOptions): Promise<FollowResult> {
  const { out, interrupt } = options;
  const redraw = out.isTTY === true ? createLogUpdate(out) : undefined;
  const plain = new PlainLines(out);
  let last: Trace | undefined;
  try {
    while (!interrupt.aborted) {
      let problem: string | undefined;
      try {
        last = await options.get(options.name);
      } catch (err) {
        if (err instanceof PluginError && err.kind === "notFound" && last !== undefined) {
          throw new PluginError(`DropTrace "${options.name}" was deleted while it was followed`, EXIT.failed, { cause: err });
        }
        if (!(err instanceof PluginError && err.kind === "transient")) throw err;
        problem = err.message;
      }
      if (last !== undefined) {
        const now = options.now();
        const view = traceView(last, now);
        if (hasEnded(view.phase)) {
          redraw?.clear();
          return { ended: true, trace: last };
        }
        if (redraw !== undefined) redraw(liveFrame(view, now, { columns: out.columns ?? 80, rows: out.rows ?? 24 }, problem));
        else plain.print(view, now, problem);
      } else if (problem !== undefined) {
        if (redraw !== undefined) redraw(`(${problem}; trying again)`);
        else plain.problem(problem);
      }
      await sleep(options.intervalMs, undefined, { signal: interrupt }).catch((err: unknown) => {
        // Ctrl-C ends the wait, and the loop with it.
        if (!interrupt.aborted) throw err;
      });
    }
    return { ended: false, trace: last };
  } finally {
    redraw?.done();
  }
}

/** The plain-lines view: each line once, so a CI log reads as a history, not a flood. */
class PlainLines {
  #progress = "";
  readonly #failing = new Set<string>();
  #lastProblem = "";

  constructor(readonly out: OutputStream) {}

  print(view: TraceView, nowMs: number, problem: string | undefined): void {
    // A problem is told once while it lasts, and again if it comes back.
    if (problem !== undefined) this.problem(problem);
    else this.#lastProblem = "";
    // The clock alone changes every second: a new line only when the trace's state changed.
    const state = `${view.phase ?? ""} ${nodeDone(view)} ${view.totalDrops} ${view.startTime ?? ""}`;
    if (state !== this.#progress) {
      this.#progress = state;
      this.out.write(`${progressLine(view, nowMs)}\n`);
    }
    for (const n of failingNodes(view)) {
      const key = `${n.node} ${n.phase} ${n.reason ?? ""}`;
      if (this.#failing.has(key)) continue;
      this.#failing.add(key);
      this.out.write(`${nodeLine(n)}\n`);
    }
  }

  problem(problem: string): void {
    if (problem === this.#lastProblem) return;
    this.#lastProblem = problem;
    this.out.write(`(${problem}; trying again)\n`);
  }
}
