// One pino logger for the process: JSON lines on stderr (stdout belongs to command output).
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string = process.env["DROPTRACE_LOG_LEVEL"] ?? "info"): Logger {
  return pino({ level, base: { app: "droptrace" } }, pino.destination(2));
}

/** A logger that drops everything, for tests and for `run --output json` where logs would be noise. */
export const silentLogger: Logger = pino({ level: "silent" });
