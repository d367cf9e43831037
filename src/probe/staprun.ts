// Runs a compiled probe module with staprun and stops it cleanly: SIGINT makes staprun
// run the probe's end handlers (the last partial interval and the "E" line), unload
// the module and exit. A staprun that ignores SIGINT past the grace period is killed,
// and the module it left behind is removed, so no run leaves kernel code loaded.
import { execa, type ResultPromise } from "execa";
import { PROBE_STOP_GRACE_SECONDS } from "../api/constants.js";
import { classifyProbeFailure, skippedProbes, tail, type ProbeFailure } from "./failures.js";

export interface StaprunOptions {
  modulePath: string;
  /** The module's name as compiled; staprun -R loads it renamed, its tail replaced by `_<staprun pid>`. */
  moduleName: string;
  params: readonly string[];
  onStdout(chunk: Buffer): void;
  staprunCommand?: string;
  /** How long staprun may take to flush and unload after SIGINT. */
  stopGraceMs?: number;
}

export interface ProbeExit {
  /** Undefined when the run ended as it should: stopped by us, exit 0. */
  failure?: ProbeFailure;
  exitCode: number | undefined;
  signal: string | undefined;
  /** Probe hits SystemTap skipped (reentrancy, overload): drops not counted. */
  skippedProbes: number;
  stderrTail: string;
}

const SPAWN_OPTIONS = { reject: false, stdin: "ignore", buffer: false } as const;
const STDERR_LIMIT = 64 * 1024;
const DEFAULT_GRACE_MS = PROBE_STOP_GRACE_SECONDS * 1000;

export class ProbeProcess {
  readonly loadedName: string;
  readonly exited: Promise<ProbeExit>;
  readonly #child: ResultPromise<typeof SPAWN_OPTIONS>;
  readonly #graceMs: number;
  #stopRequested = false;
  #stderr = "";

  private constructor(options: StaprunOptions) {
    this.#graceMs = options.stopGraceMs ?? DEFAULT_GRACE_MS;
    // -R: load under a unique name, so two traces on one node do not collide.
    this.#child = execa(options.staprunCommand ?? "staprun", ["-R", options.modulePath, ...options.params], SPAWN_OPTIONS);
    this.loadedName = renamedModule(options.moduleName, this.#child.pid ?? 0);
    this.#child.stdout.on("data", (chunk: Buffer) => {
      options.onStdout(chunk);
    });
    this.#child.stderr.on("data", (chunk: Buffer) => {
      if (this.#stderr.length < STDERR_LIMIT) this.#stderr += chunk.toString("utf8");
    });
    this.exited = this.#child.then((result) => this.#exit(result.exitCode, result.signal));
  }

  static start(options: StaprunOptions): ProbeProcess {
    return new ProbeProcess(options);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Asks staprun to flush and unload (SIGINT); kills it if it has not exited within the grace period. */
  async stop(): Promise<ProbeExit> {
    if (!this.#stopRequested) {
      this.#stopRequested = true;
      this.#child.kill("SIGINT");
      const timer = setTimeout(() => {
        this.#child.kill("SIGKILL");
      }, this.#graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }

  #exit(exitCode: number | undefined, signal: string | undefined): ProbeExit {
    const stderr = this.#stderr;
    const base = { exitCode, signal, skippedProbes: skippedProbes(stderr), stderrTail: tail(stderr) };
    if (signal === "SIGKILL") {
      const failure: ProbeFailure = this.#stopRequested
        ? {
            reason: "ProbeKilled",
            message: `staprun did not exit within ${Math.round(this.#graceMs / 1000)}s of SIGINT and was killed; its last interval is lost`,
          }
        : { reason: "ProbeKilled", message: "staprun was killed (SIGKILL), perhaps by the out-of-memory killer" };
      return { ...base, failure };
    }
    if (this.#stopRequested && exitCode === 0) return base;
    const fallback: ProbeFailure = this.#stopRequested
      ? { reason: "ProbeExited", message: `staprun exited with ${describe(exitCode, signal)} while stopping` }
      : { reason: "ProbeExited", message: `staprun exited on its own with ${describe(exitCode, signal)} before the trace ended` };
    return { ...base, failure: classifyProbeFailure(stderr, fallback) };
  }
}

/** staprun -R renames in place, keeping the length: the name's tail becomes `_<pid>` (staprun_funcs.c rename_module). */
function renamedModule(name: string, pid: number): string {
  const suffix = `_${pid}`;
  return suffix.length >= name.length ? name : `${name.slice(0, name.length - suffix.length)}${suffix}`;
}

function describe(exitCode: number | undefined, signal: string | undefined): string {
  return signal === undefined ? `code ${exitCode ?? "unknown"}` : `signal ${signal}`;
}
