// `npm run build`'s second half: the droptrace binary as one ES module bundle with its
// dependencies, dist/bundle/droptrace.mjs, which is what the images run.
//
// Why a bundle: Node.js resolves and compiles @kubernetes/client-node file by file, about 70 MB
// of resident memory for the agent; bundled, only the code the agent reaches through its
// imports is kept, and the agent runs in well under its 80 MB goal (bench/agent/memory/agent.ts).
// Code splitting keeps src/cli/main.ts's lazy imports lazy: `agent` never loads the controller's code,
// `run` and `compile` never load the Kubernetes client.
//
// The bundle needs nothing from node_modules at run time, and no package.json (.mjs is ES
// module syntax by its name): the images carry dist/bundle and stap/droptrace.stp, found by
// src/probe/script.ts two directories above the bundle, as it is above dist/src.
// Source maps are written beside the bundle for `node --enable-source-maps` on a developer's
// machine (they point into src/ and node_modules/); the images leave them out. The licences of
// the bundled packages, which node_modules carried into the images before, are collected into
// dist/bundle/THIRD-PARTY-LICENSES.txt, which the images carry.
//
//   npx tsx scripts/bundle.ts     # after tsc; npm run build runs both
import { readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const repoRoot = path.resolve(fileURLToPath(new URL("..", import.meta.url)));
const outdir = path.join(repoRoot, "dist", "bundle");

// CommonJS dependencies (commander, pino, ...) call require() for Node's own modules; an ES
// module has no require, so each output file makes one for itself.
const requireBanner = "import { createRequire as __droptraceCreateRequire } from 'node:module'; const require = __droptraceCreateRequire(import.meta.url);";

// node-fetch 2 (the Kubernetes client's HTTP) takes Node's own URL class and imports whatwg-url
// only as a fallback for a Node without one, which no supported Node is. That fallback's Unicode
// tables (tr46) are 1.7 MB of heap in every process, and tr46 loads Node's deprecated punycode
// module, which Node 22 and later warn about in the logs. The bundle gives node-fetch Node's class.
const nodeUrlForWhatwgUrl: Plugin = {
  name: "node-url-for-whatwg-url",
  setup(build) {
    build.onResolve({ filter: /^whatwg-url$/ }, (args) => ({ path: args.path, namespace: "node-url" }));
    build.onLoad({ filter: /.*/, namespace: "node-url" }, () => ({
      contents: 'import { URL } from "node:url";\nexport default { URL };\nexport { URL };\n',
      loader: "js",
    }));
  },
};

// The generated client keeps every API group's classes in a few large files (CoreV1Api, AppsV1Api,
// ... side by side), and code splitting shares files, not parts of files: with one copy, the
// agent would load and compile the controller's API classes too. So what src/agent/ imports from
// the client is bundled as a copy of its own, holding only what the agent uses (the client's
// dependencies, ws, js-yaml and the rest, stay shared). The controller's copy is the full one.
const AGENT_DIR = path.join(repoRoot, "src", "agent") + path.sep;
const CLIENT = "@kubernetes/client-node";
const RESOLVING = Symbol("resolving");
const agentsOwnKubernetesClient: Plugin = {
  name: "agents-own-kubernetes-client",
  setup(build) {
    let clientDir: string | undefined;
    build.onResolve({ filter: /.*/ }, async (args) => {
      const fromAgent = args.namespace === "file" && args.importer.startsWith(AGENT_DIR) && (args.path === CLIENT || args.path.startsWith(`${CLIENT}/`));
      if (args.pluginData === RESOLVING || (!fromAgent && args.namespace !== "agent-client")) return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        namespace: "file",
        resolveDir: args.resolveDir,
        pluginData: RESOLVING,
      });
      if (fromAgent) clientDir ??= resolved.path.slice(0, resolved.path.lastIndexOf(`${path.sep}dist${path.sep}`) + 1);
      if (resolved.errors.length > 0 || clientDir === undefined || !resolved.path.startsWith(clientDir)) return resolved;
      return { path: resolved.path, namespace: "agent-client" };
    });
    build.onLoad({ filter: /.*/, namespace: "agent-client" }, async (args) => ({
      contents: await readFile(args.path, "utf8"),
      loader: "js",
      resolveDir: path.dirname(args.path),
    }));
  },
};

// A chunk of an earlier build would otherwise stay behind, and be copied into an image.
await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: repoRoot,
  entryPoints: { droptrace: "src/cli/main.ts" },
  outdir,
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20.5",
  // Whitespace and syntax only: identifiers keep their names, so a stack trace in a pod's log
  // still names the function. Renaming them too saved the agent only about 0.5 MB more.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "none",
  banner: { js: requireBanner },
  plugins: [agentsOwnKubernetesClient, nodeUrlForWhatwgUrl],
  metafile: true,
  logLevel: "warning",
});

// Every package some of whose code is in the bundle, with its licence file.
const packages = new Map<string, string>();
for (const output of Object.values(result.metafile.outputs)) {
  for (const input of Object.keys(output.inputs)) {
    const match = /^(?:[\w-]+:)?(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1] !== undefined) packages.set(path.resolve(repoRoot, match[1]), "");
  }
}
const notices: string[] = [];
for (const dir of [...packages.keys()].sort()) {
  const manifest = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { name: string; version: string; license?: string };
  const licenceFile = (await readdir(dir)).find((file) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(file));
  const text =
    licenceFile === undefined
      ? `(no licence file in the package; package.json says ${manifest.license ?? "nothing"})`
      : (await readFile(path.join(dir, licenceFile), "utf8")).trim();
  notices.push(`${manifest.name}@${manifest.version} (${manifest.license ?? "no licence field"})\n\n${text}\n`);
}
await writeFile(
  path.join(outdir, "THIRD-PARTY-LICENSES.txt"),
  `Packages bundled into droptrace.mjs and its chunks, with their licences.\n\n${notices.join(`\n${"-".repeat(78)}\n\n`)}`,
);

const outputs = Object.keys(result.metafile.outputs).filter((file) => file.endsWith(".mjs"));
let bytes = 0;
for (const file of outputs) bytes += (await stat(path.join(repoRoot, file))).size;
console.log(
  `bundle: ${path.relative(repoRoot, path.join(outdir, "droptrace.mjs"))} and ${String(outputs.length - 1)} chunks, ${(bytes / 2 ** 20).toFixed(1)} MiB, ${String(packages.size)} packages`,
);
