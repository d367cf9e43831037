// The layout of src/ (src/controller/README.md, "Where each part lives"): imports go one way,
//   cli -> controller | agent -> trace -> probe -> api,
// plugin/ (the kubectl plugin, a binary of its own) uses api/ and kube/ only, kube/ (generic
// Kubernetes runtime) is used by controller/, agent/ and plugin/ and imports nothing of the
// project's, and controller/status/ (pure) does not reach up into the controller. Subcommands
// load lazily: `run` and `compile` never load the Kubernetes client, the agent never loads the
// controller's part of it, the plugin's --help none of it. A new import against these rules fails here.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const repoRoot = path.resolve(import.meta.dirname, "..");
const src = path.join(repoRoot, "src");

/** What each part may import from the project, besides itself. */
const ALLOWED: Record<string, readonly string[]> = {
  cli: ["controller", "agent", "trace", "probe", "api"],
  controller: ["controller/status", "kube", "api"],
  "controller/status": ["kube", "api"],
  agent: ["trace", "probe", "kube", "api"],
  plugin: ["kube", "api"],
  trace: ["probe", "api"],
  probe: ["api"],
  kube: [],
  api: [],
};

function partOf(file: string): string {
  const rel = path.relative(src, file).split(path.sep);
  if (rel[0] === "controller" && rel[1] === "status") return "controller/status";
  return rel[0] ?? "";
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

interface Import {
  spec: string;
  /** `import type` and `export type`: erased, loads nothing. */
  typeOnly: boolean;
  /** `import(...)`: loaded when that line runs, not when the file loads. */
  lazy: boolean;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, "utf8");
  const found: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm)) {
    found.push({ spec: m[3] ?? "", typeOnly: m[2] !== undefined, lazy: false });
  }
  for (const m of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.push({ spec: m[1] ?? "", typeOnly: false, lazy: true });
  return found;
}

function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const target = path.resolve(path.dirname(from), spec).replace(/\.js$/, ".ts");
  return existsSync(target) ? target : undefined;
}

const files = sourceFiles(src);

describe("the layout of src/", () => {
  it("has every file in one of the parts", () => {
    const outside = files.map((f) => path.relative(src, f)).filter((f) => !(partOf(path.join(src, f)) in ALLOWED));
    expect(outside).toEqual([]);
  });

  it("imports one way: cli -> controller | agent -> trace -> probe -> api; plugin -> kube, api; kube only from controller, agent and plugin", () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = partOf(file);
      for (const { spec } of importsOf(file)) {
        const target = resolve(file, spec);
        if (spec.startsWith(".") && target === undefined && !spec.endsWith(".json")) wrong.push(`${path.relative(src, file)}: cannot resolve ${spec}`);
        if (target === undefined || !target.startsWith(src)) continue;
        const to = partOf(target);
        if (to !== from && !(ALLOWED[from] ?? []).includes(to))
          wrong.push(`${path.relative(src, file)} (${from}) imports ${path.relative(src, target)} (${to})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("keeps kube/ free of droptrace: no import of the project's, no DropTrace named", () => {
    for (const file of files.filter((f) => partOf(f) === "kube")) {
      expect(readFileSync(file, "utf8"), path.relative(src, file)).not.toMatch(/DropTrace|droptrace\.io/);
    }
  });

  it("loads no Kubernetes client for `droptrace run` and `droptrace compile`, nor for `kubectl droptrace` before a subcommand runs", () => {
    // Every file those commands load at start, following static imports (types are erased).
    const loaded = new Set<string>();
    const visit = (file: string) => {
      if (loaded.has(file)) return;
      loaded.add(file);
      for (const i of importsOf(file)) {
        if (i.typeOnly || i.lazy) continue;
        expect(i.spec, `${path.relative(src, file)} loads the Kubernetes client`).not.toMatch(/^@kubernetes\/client-node/);
        const target = resolve(file, i.spec);
        if (target !== undefined) visit(target);
      }
    };
    visit(path.join(src, "cli", "run.ts"));
    visit(path.join(src, "cli", "compile.ts"));
    // `kubectl droptrace --help` and bad flags answer at once: each subcommand's code is loaded when it runs.
    visit(path.join(src, "plugin", "main.ts"));
    expect(loaded.size).toBeGreaterThan(5);
  });
});

describe("the bundle the images run (dist/bundle, built by npm run build)", () => {
  const bundleDir = path.join(repoRoot, "dist", "bundle");
  /** A chunk's text and every chunk it loads statically (dynamic import() is a lazy subcommand). */
  const closure = (entry: string): string[] => {
    const seen = new Set<string>();
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*"(\.\/[^"]+\.mjs)"/g)) walk(path.resolve(path.dirname(file), m[1] ?? ""));
    };
    walk(entry);
    return [...seen];
  };
  const subcommands = (): Map<string, string> => {
    const main = path.join(bundleDir, "droptrace.mjs");
    if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
    const chunks = [...readFileSync(main, "utf8").matchAll(/import\(\s*"(\.\/chunks\/[^"]+\.mjs)"\s*\)/g)].map((m) => path.resolve(bundleDir, m[1] ?? ""));
    // Which lazy chunk is which subcommand: by what it defines.
    const named = new Map<string, string>();
    for (const chunk of chunks) {
      const text = readFileSync(chunk, "utf8");
      if (text.includes("agentCommand")) named.set("agent", chunk);
      else if (text.includes("controllerCommand")) named.set("controller", chunk);
      else if (text.includes("runCommand")) named.set("run", chunk);
      else if (text.includes("compileCommand")) named.set("compile", chunk);
    }
    expect([...named.keys()].sort()).toEqual(["agent", "compile", "controller", "run"]);
    return named;
  };
  const defines = (chunks: string[], marker: string) => chunks.filter((c) => readFileSync(c, "utf8").includes(marker)).map((c) => path.basename(c));

  it("loads no Kubernetes client for run and compile", () => {
    const named = subcommands();
    for (const command of ["run", "compile"]) expect(defines(closure(named.get(command) ?? ""), "loadFromDefault"), command).toEqual([]);
  });

  it("gives the agent its trimmed client: nothing of the controller's API groups", () => {
    const named = subcommands();
    const agent = closure(named.get("agent") ?? "");
    expect(defines(agent, "loadFromDefault").length).toBeGreaterThan(0);
    expect(defines(agent, "CoordinationV1Api")).toEqual([]);
    expect(defines(agent, "AppsV1Api")).toEqual([]);
    expect(defines(closure(named.get("controller") ?? ""), "AppsV1Api").length).toBeGreaterThan(0);
  });
});
