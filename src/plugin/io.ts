// What a command needs from its process: where it writes, how often it redraws, and Ctrl-C.
// Tests give their own (test/plugin/).
import type { KubeConfigFlags } from "./kubeconfig.js";
import type { OutputStream } from "./live.js";

export interface PluginIo {
  stdout: OutputStream;
  stderr: OutputStream;
  /** how often a followed trace is read and its view redrawn */
  intervalMs: number;
  /** Runs `work` with a signal Ctrl-C aborts: while following, Ctrl-C stops it instead of the process. */
  interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export const processIo: PluginIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  intervalMs: 1_000,
  async interruptible(work) {
    const controller = new AbortController();
    const interrupt = () => {
      controller.abort();
    };
    process.on("SIGINT", interrupt);
    try {
      return await work(controller.signal);
    } finally {
      process.off("SIGINT", interrupt);
    }
  },
};

/** Flags every subcommand takes. */
export interface GlobalFlags extends KubeConfigFlags {
  output: OutputFormat;
}

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
