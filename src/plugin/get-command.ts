// `kubectl droptrace get NAME [-w]`: the trace's rows, nodes and conditions; -w follows it to its end.
import { EXIT } from "../api/exit-codes.js";
import { followToEnd, printTrace } from "./follow-to-end.js";
import { connect } from "./client.js";
import type { GlobalFlags, PluginIo } from "./io.js";
import { traceView } from "./view.js";

export async function getCommand(name: string, flags: GlobalFlags & { watch: boolean }, io: PluginIo): Promise<number> {
  const client = connect(flags);
  const trace = await client.get(name);
  if (flags.watch) return followToEnd(client, name, flags.output, io, { rm: false });
  printTrace(traceView(trace, client.serverNow()), flags.output, io.stdout);
  return EXIT.ok;
}
