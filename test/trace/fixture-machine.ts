// Loaded with `node --import` ahead of an unmodified, built droptrace (dist/bundle/droptrace.mjs
// or dist/src/cli/main.js), so that `droptrace agent` runs here as on the fixture's machine: the few
// host files the agent reads (/proc/kallsyms, /proc/modules, the tracepoint's format, ...) are
// read from stand-in files, the kernel release is the fixture's, and the user is root. Nothing
// of droptrace's is imported or replaced: the built code runs as the image runs it, on Node's
// own fs and os functions pointed elsewhere. built-agent.ts writes the stand-in files and starts
// the process; stap and staprun are the stand-ins of ./fakes, found first on PATH.
//
// Plain Node.js without tsx runs this file: built-agent.ts strips its types into a .mjs. It
// imports Node's modules only, so it adds next to nothing to a memory measurement.
//
// Configuration: DROPTRACE_FIXTURE_MACHINE, JSON of FixtureMachine.
import { createRequire, syncBuiltinESMExports } from "node:module";
import { writeSync } from "node:fs";

export interface FixtureMachine {
  /** What os.release() says. */
  kernelRelease: string;
  /** What process.getuid() says. */
  uid: number;
  /** Host path -> the file or directory read in its place. */
  paths: Record<string, string>;
  /** Print {"fixtureMachine":"read","path":...} on stderr when a host path is first read. */
  announceReads?: boolean;
}

const config = JSON.parse(process.env["DROPTRACE_FIXTURE_MACHINE"] ?? "") as FixtureMachine;
const announced = new Set<string>();

function redirect(target: unknown): unknown {
  if (typeof target !== "string") return target;
  const replacement = config.paths[target];
  if (replacement === undefined) return target;
  if (config.announceReads === true && !announced.has(target)) {
    announced.add(target);
    writeSync(2, `${JSON.stringify({ fixtureMachine: "read", path: target })}\n`);
  }
  return replacement;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const require = createRequire(import.meta.url);
const promises = require("node:fs/promises") as Mutable<typeof import("node:fs/promises")>;
const os = require("node:os") as Mutable<typeof import("node:os")>;

/** Replaces promises[name] with one that reads the stand-in for a redirected first argument. */
function reroute(name: "readFile" | "stat" | "lstat" | "readlink" | "access" | "open" | "readdir"): void {
  const original = promises[name] as (...args: unknown[]) => unknown;
  const rerouted = (first: unknown, ...rest: unknown[]): unknown => original(redirect(first), ...rest);
  Object.assign(promises, { [name]: rerouted });
}

for (const name of ["readFile", "stat", "lstat", "readlink", "access", "open", "readdir"] as const) reroute(name);
os.release = () => config.kernelRelease;
process.getuid = () => config.uid;
// ES module imports of node:fs/promises and node:os (droptrace's own) see the replacements too.
syncBuiltinESMExports();
