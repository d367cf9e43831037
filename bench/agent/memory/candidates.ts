// The agent's resident memory while tracing under each candidate setting tried so far, side by
// side in one table: with and without the image's heap flags and MALLOC_ settings, the build the
// images ran before the bundle, and settings that were considered and left out (each row says
// which). Prints numbers, asserts nothing.
//
//   npm run build && npx tsx bench/agent/memory/candidates.ts --repeat 3   # medians of 3 runs each
//   npx tsx bench/agent/memory/candidates.ts --repeat 3 --only 0,3,6       # rows 0, 3 and 6 only
//
// A row is one variant (row 0 is ./agent.ts's, the image as it is), run --repeat times; each
// column is the median over those runs, because when the collector runs makes single runs vary
// by several MiB. Columns, RSS in MiB from /proc/<pid>/status: start, after kallsyms is loaded,
// peak while tracing, steady state (median of the second half of tracing), idle after the final
// report, VmHWM; then the JS heap used / total late in tracing from the agent's /metrics, and the
// agent's CPU seconds. "(steady: ...)" lists each run's steady state; "[...]" says a run failed
// or its report missed drops. --seconds, --rows and --keys as in ./agent.ts.
import { parseArgs } from "node:util";
import { z } from "zod";
import { BUILT } from "../../../test/agent/built-agent.js";
import { asImage, benchSession, measure, measuredBuild, median, mib, parseFlags, phases, RUN_OPTIONS, RunSettingsSchema, type Variant } from "./common.js";

const { values } = parseArgs({ options: { ...RUN_OPTIONS, only: { type: "string" } } });
const flags = parseFlags(
  RunSettingsSchema.extend({
    only: z
      .string()
      .regex(/^\d+(,\d+)*$/, { error: "--only takes row numbers, e.g. 0,3,6" })
      .transform((list) => new Set(list.split(",").map(Number)))
      .optional(),
  }),
  values,
);

await benchSession(
  flags,
  () => measuredBuild(BUILT.bundle),
  async (prepared, image) => {
    const asIs = asImage(image);
    const plainEnv = { NODE_ENV: image.env["NODE_ENV"] ?? "production" };
    const variants: Variant[] = [
      asIs,
      { ...asIs, name: "bundle, without the image's MALLOC_ settings", env: plainEnv },
      { ...asIs, name: "bundle, without the image's heap flags", nodeFlags: [] },
      { ...asIs, name: "bundle, plain node", nodeFlags: [], env: plainEnv },
      { ...asIs, name: "dist/src, the image's flags and ENV", build: "dist" },
      { ...asIs, name: "dist/src, plain node (the images before the bundle)", build: "dist", nodeFlags: [], env: plainEnv },
      { ...asIs, name: "what-if: tiny kallsyms (bound on what it costs)", kallsyms: "tiny" },
      { ...asIs, name: "+ MALLOC_ARENA_MAX=2", env: { ...image.env, MALLOC_ARENA_MAX: "2" } },
      { ...asIs, name: "+ --max-semi-space-size=2 (instead of 1)", nodeFlags: [...image.nodeFlags, "--max-semi-space-size=2"] },
      // Smaller, but it slows the pipeline below its 200,000 rows/s goal (bench/agent/throughput.ts).
      { ...asIs, name: "+ --optimize-for-size", nodeFlags: [...image.nodeFlags, "--optimize-for-size"] },
      { ...asIs, name: "+ --jitless (slow; for scale)", nodeFlags: [...image.nodeFlags, "--jitless"] },
    ];
    const { repeat } = flags;
    console.log(`each variant ${String(repeat)} time(s); medians`);
    console.log(`${"variant".padEnd(52)}  start kallsy   peak steady   idle  VmHWM (MiB RSS)  heap used/total late in tracing  CPU s`);
    for (const [index, variant] of variants.entries()) {
      if (flags.only !== undefined && !flags.only.has(index)) continue;
      const rows: number[][] = [];
      const problems: string[] = [];
      for (let r = 0; r < repeat; r += 1) {
        try {
          const run = await measure(variant, prepared);
          const p = phases(run);
          const lastTracing = run.scrapes.filter((s) => s.label.startsWith("tracing")).at(-1)?.metrics;
          rows.push([
            p.start?.rss ?? Number.NaN,
            p.kallsyms?.rss ?? Number.NaN,
            p.peak?.rss ?? Number.NaN,
            p.steady,
            p.finished?.rss ?? Number.NaN,
            p.hwm,
            lastTracing?.["nodejs_heap_size_used_bytes"] ?? Number.NaN,
            lastTracing?.["nodejs_heap_size_total_bytes"] ?? Number.NaN,
            run.cpuSeconds,
          ]);
          if (!run.reportCheck.includes(`totalDrops ${String(prepared.work.total)} `) || run.exitCode !== 0)
            problems.push(`${run.reportCheck}; exit ${String(run.exitCode)}`);
        } catch (err) {
          problems.push(`failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      const column = (i: number): number => median(rows.map((r) => r[i] ?? Number.NaN));
      console.log(
        `${String(index).padStart(2)} ${variant.name.padEnd(49)} ` +
          [0, 1, 2, 3, 4, 5].map((i) => mib(column(i)).padStart(6)).join(" ") +
          `   ${mib(column(6)).padStart(5)} / ${mib(column(7)).padStart(5)}            ${column(8).toFixed(1).padStart(5)}` +
          (repeat > 1 ? `   (steady: ${rows.map((r) => mib(r[3])).join(", ")})` : "") +
          (problems.length > 0 ? `   [${problems.join("; ")}]` : ""),
      );
    }
  },
);
