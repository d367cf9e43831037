/** Exit codes every subcommand shares (design.md: `droptrace run`). */
export const EXIT = {
  ok: 0,
  failed: 1,
  badArguments: 2,
  cannotTrace: 3,
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
