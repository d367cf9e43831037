// `kubectl droptrace diff A B`: two traces compared row by row by rate per second.
import { EXIT, UsageError } from "../api/exit-codes.js";
import { diffTraces, renderDiff } from "./diff.js";
import { PluginError } from "./errors.js";
import { connect } from "./client.js";
import type { GlobalFlags, PluginIo } from "./io.js";
import { formatData } from "./output.js";
import { traceView, type TraceView } from "./view.js";

export function parseThreshold(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)%?$/.exec(text);
  if (match?.[1] === undefined) throw new UsageError(`--threshold: ${JSON.stringify(text)} is not a percentage such as 20 or 20%`);
  return Number.parseFloat(match[1]);
}

function startedSeconds(view: TraceView): number {
  if (view.tracedSeconds === undefined) {
    throw new PluginError(`${view.name} has not started yet: it has no rates to compare (\`kubectl droptrace get ${view.name} -w\` follows it)`);
  }
  if (view.tracedSeconds <= 0)
    throw new PluginError(`${view.name} ${view.phase === "Failed" ? "failed" : "ended"} before it traced: it has no rates to compare`);
  return view.tracedSeconds;
}

export async function diffCommand(a: string, b: string, flags: GlobalFlags & { threshold: string }, io: PluginIo): Promise<number> {
  const threshold = parseThreshold(flags.threshold);
  const client = connect(flags);
  const [traceA, traceB] = await Promise.all([client.get(a), client.get(b)]);
  const now = client.serverNow();
  const viewA = traceView(traceA, now);
  const viewB = traceView(traceB, now);
  const diff = diffTraces(viewA, viewB, startedSeconds(viewA), startedSeconds(viewB), threshold);
  io.stdout.write(flags.output === "table" ? renderDiff(diff) : formatData(diff, flags.output));
  return EXIT.ok;
}
