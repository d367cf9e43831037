// Builds the probe module with `stap -p4` against one kernel release's headers,
// into the module cache. A cached module is used as it is.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { findCachedModule, moduleName, parseSystemTapVersion, storeModule, type CachedModule, type ModuleKey } from "./cache.js";
import type { ProbeScript } from "./script.js";

type CompileFailureReason = "SystemTapMissing" | "HeadersMissing" | "CompileFailed" | "CompileTimeout";

export class CompileError extends Error {
  override readonly name = "CompileError";
  constructor(
    readonly reason: CompileFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface CompileResult {
  module: CachedModule;
  cacheHit: boolean;
  compileSeconds: number;
}

interface CompileOptions {
  script: ProbeScript;
  kernelRelease: string;
  cacheDir: string;
  /** Cold compiles take about a minute on two cores; far longer means something is wrong. */
  timeoutMs?: number;
  stapCommand?: string;
}

/** How many lines of stap's stderr a failure message keeps: the cause is at the end. */
const STDERR_TAIL_LINES = 12;

async function systemTapVersion(stapCommand = "stap"): Promise<string> {
  const result = await execa(stapCommand, ["--version"], { reject: false, stdin: "ignore" });
  const version = result.exitCode === 0 ? parseSystemTapVersion(`${result.stdout}\n${result.stderr}`) : undefined;
  if (version === undefined) {
    throw new CompileError("SystemTapMissing", `stap is not installed or did not say its version (${result.shortMessage ?? "no output"}): install systemtap`);
  }
  return version;
}

export async function compileProbe(options: CompileOptions): Promise<CompileResult> {
  const stap = options.stapCommand ?? "stap";
  const key: ModuleKey = {
    kernelRelease: options.kernelRelease,
    probeHash: options.script.hash,
    systemtapVersion: await systemTapVersion(stap),
  };
  const cached = await findCachedModule(options.cacheDir, key);
  if (cached) return { module: cached, cacheHit: true, compileSeconds: 0 };

  const name = moduleName(key);
  const workDir = await mkdtemp(path.join(tmpdir(), "droptrace-compile-"));
  const started = performance.now();
  try {
    const result = await execa(stap, ["-r", options.kernelRelease, "-p4", "-m", name, ...options.script.flags, options.script.path, ...options.script.args], {
      cwd: workDir,
      reject: false,
      stdin: "ignore",
      timeout: options.timeoutMs ?? 15 * 60_000,
      forceKillAfterDelay: 5_000,
    });
    if (result.timedOut) {
      throw new CompileError(
        "CompileTimeout",
        `stap did not finish compiling for kernel ${options.kernelRelease} within ${Math.round((options.timeoutMs ?? 900_000) / 1000)}s`,
      );
    }
    if (result.exitCode !== 0) throw compileFailure(options.kernelRelease, result.stderr);
    const compileSeconds = Math.round((performance.now() - started) / 100) / 10;
    const module = await storeModule(options.cacheDir, key, path.join(workDir, `${name}.ko`), compileSeconds);
    return { module, cacheHit: false, compileSeconds };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function compileFailure(release: string, stderr: string): CompileError {
  const tail = stderr.trim().split("\n").slice(-STDERR_TAIL_LINES).join("\n");
  // stap checks the build tree's .config first; without headers that is its first complaint.
  if (/Checking "[^"]*\/build\/\.config" failed/.test(stderr) || /kernel build tree .* not found/i.test(stderr)) {
    return new CompileError(
      "HeadersMissing",
      `stap found no kernel headers for ${release}: install them (Debian/Ubuntu: apt-get install linux-headers-${release}). stap said:\n${tail}`,
    );
  }
  return new CompileError(
    "CompileFailed",
    `stap could not compile the probe for kernel ${release}; SystemTap may be too old or too new for this kernel. stap said:\n${tail}`,
  );
}
