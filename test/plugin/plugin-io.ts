// `kubectl droptrace` in-process, as main() runs it, with its output captured and Ctrl-C on cue.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { main } from "../../src/plugin/program.js";
import type { PluginIo } from "../../src/plugin/io.js";

/** A stream that keeps what was written: not a terminal, so the plugin prints plain lines. */
export class Captured extends Writable {
  text = "";
  readonly isTTY = false;

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += String(chunk);
    callback();
  }
}

export interface PluginRun {
  /** resolves with the exit code */
  done: Promise<number>;
  stdout: Captured;
  stderr: Captured;
  /** Ctrl-C while the plugin follows a trace */
  interrupt(): void;
}

/** Starts `kubectl droptrace <argv>`; the live view reads and redraws every `intervalMs`. */
export function startPlugin(argv: readonly string[], intervalMs = 50): PluginRun {
  const stdout = new Captured();
  const stderr = new Captured();
  const controller = new AbortController();
  const io: PluginIo = {
    stdout,
    stderr,
    intervalMs,
    interruptible: (work) => work(controller.signal),
  };
  return {
    done: main(argv, io),
    stdout,
    stderr,
    interrupt: () => {
      controller.abort();
    },
  };
}

export interface PluginResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runPlugin(argv: readonly string[]): Promise<PluginResult> {
  const run = startPlugin(argv);
  const code = await run.done;
  return { code, stdout: run.stdout.text, stderr: run.stderr.text };
}

/** A kubeconfig file in `dir` with the server's kubeconfig for `token`. */
export function kubeconfigFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, `${name}.kubeconfig`);
  writeFileSync(file, text);
  return file;
}
