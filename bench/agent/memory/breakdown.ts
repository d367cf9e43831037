// Where the agent's resident memory goes: what each dependency costs to import, and what the
// running agent's heap holds after forced collections. Prints numbers, asserts nothing.
//
//   npm run build && npx tsx bench/agent/memory/breakdown.ts
//   npx tsx bench/agent/memory/breakdown.ts --snapshot   # and a heap snapshot, summarized by kind
//
// First, import costs: each module alone in a fresh `node --expose-gc`, after two full
// collections: RSS, its private part (anon) and the live JS heap. "nothing" is node itself; the
// others less "nothing" are what the import adds. The Kubernetes client is measured both as
// installed and bundled alone as scripts/bundle.ts bundles droptrace, and the agent both as tsc
// builds it (dist/src) and as the images run it (the bundle and its agent chunk).
//
// Then one trace by the agent as ./agent.ts runs it, plus --expose-gc: at each observation the
// agent (through ./hooks.ts) collects twice and prints process.memoryUsage() and the V8 heap
// spaces, so "heap used" there is live data, not garbage. The collections themselves move RSS,
// so take the agent's RSS from ./agent.ts, and from here what it is made of. With --snapshot the
// agent writes a heap snapshot three quarters into tracing (it costs as much memory again, so
// the steady state is taken before it); the summary lists self sizes by kind and every object of
// 256 KiB or more.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { z } from "zod";
import { BUILT } from "../../../test/agent/built-agent.js";
import {
  agentCommandLine,
  asImage,
  benchSession,
  DIST_SRC,
  measureRepeatedly,
  measuredBuild,
  mib,
  parseFlags,
  repoRoot,
  RUN_OPTIONS,
  RunSettingsSchema,
  type MeasureOptions,
} from "./common.js";

const { values } = parseArgs({ options: { ...RUN_OPTIONS, snapshot: { type: "boolean", default: false } } });
const flags = parseFlags(RunSettingsSchema.extend({ snapshot: z.boolean() }), values);

/** RSS and live heap of a fresh `node --expose-gc` after importing some modules, and nothing else. */
async function importCost(scratch: string, specifiers: readonly string[]): Promise<string> {
  const script = path.join(scratch, "import-cost.mjs");
  await writeFile(
    script,
    [
      "for (const target of process.argv.slice(2)) await import(target);",
      "globalThis.gc(); globalThis.gc();",
      'const status = (await import("node:fs")).readFileSync("/proc/self/status", "utf8");',
      'const kib = (f) => Number(new RegExp(`^${f}:\\\\s+(\\\\d+) kB`, "m").exec(status)[1]) * 1024;',
      'console.log(JSON.stringify({ rss: kib("VmRSS"), anon: kib("RssAnon"), heap: process.memoryUsage().heapUsed }));',
    ].join("\n"),
  );
  const urls = specifiers.map((s) => (s.startsWith("/") ? pathToFileURL(s).href : import.meta.resolve(s)));
  const output = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, ["--expose-gc", script, ...urls], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    child.on("exit", () => {
      resolve(text);
    });
  });
  const { rss, anon, heap } = JSON.parse(output) as { rss: number; anon: number; heap: number };
  return `rss ${mib(rss).padStart(6)}  anon ${mib(anon).padStart(6)}  live heap ${mib(heap).padStart(5)}`;
}

/** The names the agent takes from @kubernetes/client-node, bundled alone as scripts/bundle.ts bundles droptrace. */
async function bundledKubernetesClient(scratch: string): Promise<string> {
  const entry = path.join(scratch, "kube-client-entry.mjs");
  await writeFile(entry, 'export { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";\n');
  const outfile = path.join(scratch, "kube-client-bundle.mjs");
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20.5",
    nodePaths: [path.join(repoRoot, "node_modules")],
    minifyWhitespace: true,
    minifySyntax: true,
    banner: { js: "import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);" },
    logLevel: "error",
  });
  return outfile;
}

/**
 * The chunk `droptrace agent` loads lazily. By what it defines, not by its name: since src/agent/
 * and src/controller/ each have a command.ts, both chunks are called command-<hash>.mjs.
 */
function bundleAgentChunk(): string | undefined {
  const bundleDir = path.dirname(BUILT.bundle);
  const lazy = [...readFileSync(BUILT.bundle, "utf8").matchAll(/import\(\s*"(\.\/chunks\/[^"]+\.mjs)"\s*\)/g)].map((m) => path.resolve(bundleDir, m[1] ?? ""));
  return lazy.find((chunk) => readFileSync(chunk, "utf8").includes("agentCommand"));
}

async function printImportCosts(scratch: string): Promise<void> {
  console.log("import costs, each alone in a fresh node --expose-gc, after full collections (MiB):");
  const agentChunk = bundleAgentChunk();
  const costs: [string, string[]][] = [
    ["nothing", []],
    ["pino", ["pino"]],
    ["prom-client", ["prom-client"]],
    ["zod", ["zod"]],
    ["execa", ["execa"]],
    ["commander", ["commander"]],
    ["@kubernetes/client-node", ["@kubernetes/client-node"]],
    ["@kubernetes/client-node, bundled (KubeConfig, CustomObjectsApi)", [await bundledKubernetesClient(scratch)]],
    ["dist/src/cli/main.js", [BUILT.dist]],
    ["dist/src/cli/main.js + agent/command.js (the agent before the bundle)", [BUILT.dist, path.join(DIST_SRC, "agent", "command.js")]],
    ["dist/bundle/droptrace.mjs", [BUILT.bundle]],
    ...(agentChunk === undefined ? [] : [["dist/bundle/droptrace.mjs + its agent chunk (the agent)", [BUILT.bundle, agentChunk]] as [string, string[]]]),
  ];
  for (const [label, specifiers] of costs) console.log(`  ${label.padEnd(66)} ${await importCost(scratch, specifiers)}`);
}

/** Self sizes in a heap snapshot, by kind: what the JS heap holds. */
function summarizeSnapshot(file: string): void {
  const snapshot = JSON.parse(readFileSync(file, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, { size: number; count: number }>();
  const largest: { size: number; what: string }[] = [];
  let total = 0;
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt] ?? 0] ?? "?";
    const name = snapshot.strings[snapshot.nodes[i + nameAt] ?? 0] ?? "";
    const size = snapshot.nodes[i + sizeAt] ?? 0;
    total += size;
    const key = type.includes("string") || type === "number" || type === "code" ? `(${type})` : `${type} ${name.slice(0, 40)}`;
    const group = groups.get(key) ?? { size: 0, count: 0 };
    group.size += size;
    group.count += 1;
    groups.set(key, group);
    if (size >= 256 * 1024) largest.push({ size, what: `${type} ${JSON.stringify(name.slice(0, 60))}` });
  }
  console.log(`  heap snapshot ${path.basename(file)}: ${mib(total)} MiB of self sizes; the largest kinds:`);
  for (const [key, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, 15)) {
    console.log(`    ${mib(g.size).padStart(6)} MiB  ${String(g.count).padStart(8)} x ${key}`);
  }
  console.log("  single objects of 256 KiB or more:");
  for (const l of largest.sort((a, b) => b.size - a.size).slice(0, 8)) console.log(`    ${mib(l.size).padStart(6)} MiB  ${l.what}`);
}

await benchSession(
  flags,
  () => measuredBuild(BUILT.bundle),
  async (prepared, image) => {
    await printImportCosts(prepared.scratch);
    const variant = asImage(image);
    const options: MeasureOptions = { collect: true, snapshot: flags.snapshot };
    console.log(agentCommandLine(variant, options));
    await measureRepeatedly(prepared, variant, options, (run) => {
      if (run.snapshotFile !== undefined) summarizeSnapshot(run.snapshotFile);
    });
  },
);
