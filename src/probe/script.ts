// The one probe script. It is read from the package, never generated: per-trace
// settings reach it only as module parameters (see module-params.ts).
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const RELATIVE = path.join("stap", "droptrace.stp");

/** Finds stap/droptrace.stp above this file: src/probe in development, dist/src/probe when built. */
function probeScriptPath(from: string = import.meta.dirname): string {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, RELATIVE);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${RELATIVE} above ${from}: the package is incomplete`);
    dir = parent;
  }
}

export interface ProbeScript {
  path: string;
  /** sha256 of the source, part of every compiled module's cache key. */
  hash: string;
  /** Compile-time flags the script requires, from its `// stap-flags:` line: `-D` limits only. */
  flags: string[];
  /** The script's own arguments, after its path: `stacks` builds the module with its stacks handler. */
  args: readonly string[];
}

/** The script argument that compiles the stacks handler in (stap/droptrace.stp's `%( $# >= 1 %? ...`). */
export const STACKS_SCRIPT_ARG = "stacks";

const FLAG = /^-D[A-Z][A-Z0-9_]*=[0-9]+$/;

/** The script's `// stap-flags: -DNAME=N ...` line; anything but `-D` numeric limits is refused. */
function scriptFlags(source: string): string[] {
  const line = /^\/\/ stap-flags: (.*)$/m.exec(source)?.[1];
  if (line === undefined) return [];
  const flags = line.trim().split(/\s+/);
  const bad = flags.filter((f) => !FLAG.test(f));
  if (bad.length > 0) throw new Error(`the probe's stap-flags line holds ${bad.join(" ")}: only -DNAME=number limits belong there`);
  return flags;
}

export function loadProbeScript(scriptPath: string = probeScriptPath()): ProbeScript {
  const source = readFileSync(scriptPath);
  return { path: scriptPath, hash: createHash("sha256").update(source).digest("hex"), flags: scriptFlags(source.toString("utf8")), args: [] };
}

/**
 * The same script built with its stacks handler: another module, with its own cache key. A second
 * handler on the tracepoint costs SystemTap's entry and exit on every drop even when it does
 * nothing (stap/README.md), so traces without spec.stacks load the module without it.
 */
export function withStacks(script: ProbeScript): ProbeScript {
  if (script.args.includes(STACKS_SCRIPT_ARG)) return script;
  return {
    ...script,
    args: [...script.args, STACKS_SCRIPT_ARG],
    hash: createHash("sha256").update(`${script.hash}\0${STACKS_SCRIPT_ARG}`).digest("hex"),
  };
}
