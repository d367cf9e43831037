// What `trace` and `get -w` share: follow the trace live until it ends, then print it whole;
// on Ctrl-C, stop following and say how to come back and how to stop the trace.
import { DROPTRACE, GROUP } from "../api/constants.js";
import { EXIT } from "../api/exit-codes.js";
import type { DropTraces } from "./client.js";
import type { OutputFormat, PluginIo } from "./io.js";
import { follow, type OutputStream } from "./live.js";
import { formatData } from "./output.js";
import { renderTrace } from "./render-trace.js";
import type { TraceView } from "./view.js";
import { traceView } from "./view.js";

export function printTrace(view: TraceView, output: OutputFormat, out: OutputStream): void {
  out.write(output === "table" ? renderTrace(view) : formatData(view, output));
}

/** Where the live view goes: stdout for a table, stderr when stdout holds JSON or YAML. */
export function liveStream(output: OutputFormat, io: PluginIo): OutputStream {
  return output === "table" ? io.stdout : io.stderr;
}

export async function followToEnd(client: DropTraces, name: string, output: OutputFormat, io: PluginIo, options: { rm: boolean }): Promise<number> {
  const live = liveStream(output, io);
  const result = await io.interruptible((signal) =>
    follow({ name, get: (n) => client.get(n), now: () => client.serverNow(), out: live, intervalMs: io.intervalMs, interrupt: signal }),
  );
  if (!result.ended) {
    // On a terminal, Ctrl-C echoed as ^C where the cursor was: the words start on a line of their own.
    io.stderr.write(
      `${live.isTTY === true ? "\n" : ""}stopped following ${name}; the trace goes on${options.rm ? " (--rm: not deleted while it runs)" : ""}.\n` +
        `  follow it again:  kubectl droptrace get ${name} -w\n` +
        `  stop it early:    kubectl delete dt ${name}\n`,
    );
    return EXIT.interrupted;
  }
  const view = traceView(result.trace, client.serverNow());
  printTrace(view, output, io.stdout);
  if (options.rm) {
    await client.delete(name);
    live.write(`${DROPTRACE.singular}.${GROUP} "${name}" deleted\n`);
  }
  return view.phase === "Failed" ? EXIT.traceFailed : EXIT.ok;
}
