// Loaded with `node --import` into the agent that the scripts in bench/agent/memory/ measure,
// after test/trace/fixture-machine.ts: lets them ask the running agent for what only the process
// itself can see (./breakdown.ts does). Plain Node.js runs it (common.ts strips its types); it
// imports Node's modules only and does nothing until asked.
//
// SIGUSR2 reads the file named by DROPTRACE_BENCH_HOOKS: "usage <label>" prints
// process.memoryUsage() and the V8 heap spaces (after two full collections when --expose-gc is
// on), "snapshot <file>" writes a heap snapshot there. Answers are JSON lines on stderr with a
// "bench" key, beside the agent's own pino lines:
//   {"bench":"usage", label, ...}   {"bench":"snapshot", file}
import { readFileSync, writeSync } from "node:fs";
import { getHeapSpaceStatistics, writeHeapSnapshot } from "node:v8";

const commandFile = process.env["DROPTRACE_BENCH_HOOKS"] ?? "";
const gc = (globalThis as { gc?: () => void }).gc;

function report(fields: Record<string, unknown>): void {
  writeSync(2, `${JSON.stringify(fields)}\n`);
}

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

process.on("SIGUSR2", () => {
  const [command, argument] = readFileSync(commandFile, "utf8").trim().split(" ");
  if (command === "usage") report({ bench: "usage", label: argument, ...usage() });
  if (command === "snapshot" && argument !== undefined) report({ bench: "snapshot", file: writeHeapSnapshot(argument) });
});
