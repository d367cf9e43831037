/**
 * Exit codes every command shares: `droptrace` (design.md: `droptrace run`) and
 * `kubectl droptrace`. A code means the same in both; each command's --help lists those it uses.
 */
export const EXIT = {
  ok: 0,
  /** The command could not do its job (the probe failed; the API server refused or could not be reached). */
  failed: 1,
  /** Bad flags or arguments, or a DropTrace the API server refused as invalid. */
  badArguments: 2,
  /** `droptrace run`: this machine cannot trace. */
  cannotTrace: 3,
  /**
   * `kubectl droptrace trace`, `get -w`: the trace ended Failed (every node failed, or none
   * could run it). Apart from 1 so a script can tell "the trace ran and found its nodes unable
   * to trace" from "the command did not work".
   */
  traceFailed: 4,
  /** Stopped by Ctrl-C (SIGINT), as a shell reports it: 128 + 2. The trace itself goes on. */
  interrupted: 130,
} as const;

/** An error that ends the command with a message for the user and a chosen exit code. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.badArguments,
  ) {
    super(message);
    this.name = "UsageError";
  }
}
