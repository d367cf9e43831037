// `kubectl droptrace nodes NAME`: one line per node, from the nodes' reports.
import { EXIT } from "../api/exit-codes.js";
import type { DropTraceReport } from "../api/report.js";
import { PluginError } from "./errors.js";
import { connect } from "./client.js";
import type { GlobalFlags, PluginIo } from "./io.js";
import { nodeLines, renderNodes } from "./nodes.js";
import { formatData } from "./output.js";

export async function nodesCommand(name: string, flags: GlobalFlags, io: PluginIo): Promise<number> {
  const client = connect(flags);
  const trace = await client.get(name);
  let reports: DropTraceReport[] = [];
  try {
    reports = await client.reports(name);
  } catch (err) {
    // The trace's own node summary still names the failing nodes and why.
    if (!(err instanceof PluginError && err.kind === "forbidden")) throw err;
    io.stderr.write(`warning: ${err.message}\nshowing the trace's node summary instead: failing nodes first, without kernel releases\n`);
  }
  const lines = nodeLines(reports, trace.status?.nodeSummary ?? []);
  if (flags.output !== "table") io.stdout.write(formatData({ trace: name, nodes: lines }, flags.output));
  else if (lines.length === 0) io.stdout.write(`no node has reported for ${name} yet\n`);
  else io.stdout.write(renderNodes(lines));
  return EXIT.ok;
}
