// The built droptrace as the image runs it, `node <flags> <entry> agent`, on this machine made to
// look like the fixture's (fixture-machine.ts), against the test API server, with the stand-in
// stap and staprun first on PATH. Nothing of droptrace's is replaced: the entry reads its
// settings from the environment a DaemonSet would give it and its cluster from KUBECONFIG.
// Used by the tests of the bundle (test/cli/bundle.test.ts) and by the memory benchmarks in
// bench/agent/memory/.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { KubeConfig } from "@kubernetes/client-node";
import { transform } from "esbuild";
import { AGENT_ENV } from "../../src/api/agent-env.js";
import type { FixtureMachine } from "../trace/fixture-machine.js";
import { readFixture, readFixtureKallsyms } from "../trace/fixture.js";
import { FAKES_DIR, RELEASE, type StandIns } from "../trace/stand-ins.js";

const repoRoot = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** What `npm run build` makes: the bundle the images run, and tsc's output beside it. */
export const BUILT = {
  bundle: path.join(repoRoot, "dist", "bundle", "droptrace.mjs"),
  dist: path.join(repoRoot, "dist", "src", "cli", "main.js"),
} as const;

/** Fails with what to do when `npm run build` has not made `entry`. */
export function requireBuilt(entry: string): string {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first (npm test does)`);
  return entry;
}

/** A TypeScript file that imports only Node's modules, as an .mjs plain `node` can run. */
export async function stripTypes(source: string, target: string): Promise<string> {
  const { code } = await transform(readFileSync(source, "utf8"), { loader: "ts", format: "esm", target: "node20", sourcefile: source });
  await writeFile(target, code);
  return target;
}

export interface BuiltAgentOptions {
  /** BUILT.bundle or BUILT.dist. */
  entry: string;
  /** Node's flags, before the entry (the image's ENTRYPOINT has some). */
  nodeFlags?: readonly string[];
  standIns: StandIns;
  /** The test API server's. */
  kubeConfig: KubeConfig;
  trace: { name: string; uid: string; duration: string; reportInterval?: string };
  /** The agent's /metrics port; 0 (any free port) unless given. */
  metricsPort?: number;
  /** A /proc/kallsyms in place of the fixture kernel's. */
  kallsymsFile?: string;
  /** More modules for `node --import`, after fixture-machine's. */
  preloads?: readonly string[];
  announceReads?: boolean;
  /** More environment, last. */
  env?: Record<string, string>;
}

export interface BuiltAgentCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** The modules args loads with --import (fixture-machine's first), for a runner that loads them otherwise. */
  preloads: string[];
  /** Only what this sets (DROPTRACE_*, NODE_NAME, KUBECONFIG, PATH, the stand-ins'), for a runner that does not inherit this process's environment. */
  ownEnv: Record<string, string>;
}

/**
 * The command line and environment of the agent. The environment is taken now: set the stand-ins'
 * scenario (standIns.staprun) first.
 */
export async function builtAgent(options: BuiltAgentOptions): Promise<BuiltAgentCommand> {
  const dir = path.join(options.standIns.dir, "fixture-machine");
  await mkdir(path.join(dir, "headers"), { recursive: true });
  const preload = await stripTypes(path.join(import.meta.dirname, "..", "trace", "fixture-machine.ts"), path.join(dir, "fixture-machine.mjs"));
  const file = async (name: string, text: string): Promise<string> => {
    const target = path.join(dir, name);
    await writeFile(target, text);
    return target;
  };
  if (!existsSync(options.standIns.modulesFile)) await writeFile(options.standIns.modulesFile, "");
  const machine: FixtureMachine = {
    kernelRelease: RELEASE,
    uid: 0,
    paths: {
      "/proc/kallsyms": options.kallsymsFile ?? (await file("kallsyms", readFixtureKallsyms())),
      // The stand-in staprun adds its module to this file and takes it out again.
      "/proc/modules": options.standIns.modulesFile,
      "/proc/sys/kernel/modules_disabled": await file("modules_disabled", "0\n"),
      "/sys/kernel/security/lockdown": await file("lockdown", "[none] integrity confidentiality\n"),
      "/sys/kernel/tracing/events/skb/kfree_skb/format": await file("kfree_skb.format", readFixture("kfree_skb.format")),
      "/etc/os-release": await file("os-release", 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nID=debian\n'),
      [`/lib/modules/${RELEASE}/build`]: path.join(dir, "headers"),
    },
    ...(options.announceReads === true ? { announceReads: true } : {}),
  };
  const kubeconfig = await file("kubeconfig", options.kubeConfig.exportConfig());

  const ownEnv: Record<string, string> = { ...options.standIns.env };
  Object.assign(ownEnv, {
    PATH: `${FAKES_DIR}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
    KUBECONFIG: kubeconfig,
    DROPTRACE_FIXTURE_MACHINE: JSON.stringify(machine),
    [AGENT_ENV.trace]: options.trace.name,
    [AGENT_ENV.traceUid]: options.trace.uid,
    [AGENT_ENV.node]: "fixture-node",
    [AGENT_ENV.duration]: options.trace.duration,
    [AGENT_ENV.reportInterval]: options.trace.reportInterval ?? "5s",
    [AGENT_ENV.cacheDir]: options.standIns.cacheDir,
    [AGENT_ENV.metricsPort]: String(options.metricsPort ?? 0),
  });
  Object.assign(ownEnv, options.env);
  const env: Record<string, string> = {};
  // NODE_OPTIONS of a test runner or of tsx must not reach the measured process.
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== "NODE_OPTIONS") env[key] = value;
  Object.assign(env, ownEnv);
  const preloads = [preload, ...(options.preloads ?? [])];
  const imports = preloads.flatMap((p) => ["--import", p]);
  return { file: process.execPath, args: [...(options.nodeFlags ?? []), ...imports, requireBuilt(options.entry), "agent"], env, preloads, ownEnv };
}

export interface ImageAgent {
  /** Node's flags in the agent target's ENTRYPOINT. */
  nodeFlags: string[];
  /** The ENTRYPOINT's script, as a path in this checkout. */
  entry: string;
  /** The agent target's ENV. */
  env: Record<string, string>;
  entrypoint: string;
}

/** How the Dockerfile's agent target starts droptrace: ENTRYPOINT ["node", flags..., "/app/<script>"], and its ENV. */
export function imageAgent(): ImageAgent {
  // Continuation lines joined, so that each instruction is one line.
  const dockerfile = readFileSync(path.join(repoRoot, "Dockerfile"), "utf8").replaceAll(/\\\n\s*/g, " ");
  const stage = /^FROM \S+ AS agent\n([\s\S]*?)(?=^FROM |(?![\s\S]))/m.exec(dockerfile)?.[1];
  const entrypoint = stage === undefined ? undefined : /^ENTRYPOINT (\[.*\])$/m.exec(stage)?.[1];
  if (stage === undefined || entrypoint === undefined) throw new Error("the Dockerfile has no agent stage with an ENTRYPOINT [...] line");
  const words = JSON.parse(entrypoint) as string[];
  const script = words.at(-1) ?? "";
  if (words[0] !== "node" || !script.startsWith("/app/")) throw new Error(`the agent's ENTRYPOINT is not ["node", flags..., "/app/..."]: ${entrypoint}`);
  const env: Record<string, string> = {};
  for (const [, pairs] of stage.matchAll(/^ENV (.*)$/gm)) {
    for (const pair of (pairs ?? "").trim().split(/\s+/)) {
      const [key, value] = pair.split("=", 2);
      if (key === undefined || value === undefined) throw new Error(`the agent stage's ENV ${pairs ?? ""} is not KEY=value pairs`);
      env[key] = value;
    }
  }
  return { nodeFlags: words.slice(1, -1), entry: path.join(repoRoot, script.slice("/app/".length)), env, entrypoint };
}
