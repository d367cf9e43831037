// The agent's resident memory while tracing with settings of your choosing: another build, node
// flags or environment than the image's, or a smaller kallsyms. For trying one idea before it
// goes into the Dockerfile; ./candidates.ts measures the candidates already tried, side by side.
// Prints numbers, asserts nothing.
//
//   npm run build && npx tsx bench/agent/memory/what-if.ts --node-flag=--optimize-for-size --env=MALLOC_ARENA_MAX=2
//   npx tsx bench/agent/memory/what-if.ts --build dist --flags none   # the images before the bundle
//   npx tsx bench/agent/memory/what-if.ts --kallsyms tiny --repeat 3   # bound on what kallsyms costs
//
// --build bundle|dist: the bundle the images run (default), or tsc's dist/src/cli/main.js as the
// images ran before the bundle. --flags image|none: start from the Dockerfile's agent ENTRYPOINT
// flags and ENV (default), or from plain node. --node-flag and --env (repeatable) add to that.
// --kallsyms tiny keeps only the fixture's drop sites' functions, so every other address comes
// out unknown: not a setting the agent has, a bound on what the table costs. --seconds, --rows,
// --keys and --repeat as in ./agent.ts.
//
// The numbers mean what ./agent.ts's do; with no flags this measures what it does.
import { parseArgs } from "node:util";
import { z } from "zod";
import { BUILT } from "../../../test/agent/built-agent.js";
import {
  agentCommandLine,
  benchSession,
  measureRepeatedly,
  measuredBuild,
  parseFlags,
  RUN_OPTIONS,
  RunSettingsSchema,
  TWEAK_OPTIONS,
  TweakSchema,
} from "./common.js";

const { values } = parseArgs({
  options: {
    ...RUN_OPTIONS,
    ...TWEAK_OPTIONS,
    build: { type: "string", default: "bundle" },
    flags: { type: "string", default: "image" },
    "node-flag": { type: "string", multiple: true, default: [] },
  },
});
const flags = parseFlags(
  RunSettingsSchema.extend(TweakSchema.shape).extend({
    build: z.enum(["bundle", "dist"], { error: "--build is bundle (what the images run) or dist (tsc's dist/src)" }),
    flags: z.enum(["image", "none"], { error: "--flags is image (the Dockerfile's agent ENTRYPOINT flags) or none" }),
    "node-flag": z.array(z.string()),
  }),
  values,
);
const entry = flags.build === "bundle" ? BUILT.bundle : BUILT.dist;

await benchSession(
  flags,
  () => measuredBuild(entry),
  async (prepared, image) => {
    const fromImage = flags.flags === "image";
    const variant = {
      name: "as given",
      build: flags.build,
      nodeFlags: [...(fromImage ? image.nodeFlags : []), ...flags["node-flag"]],
      env: { ...(fromImage ? image.env : {}), ...flags.env },
      kallsyms: flags.kallsyms,
    };
    console.log(agentCommandLine(variant));
    await measureRepeatedly(prepared, variant);
  },
);
