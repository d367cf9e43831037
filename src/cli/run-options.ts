// `droptrace run` flags, checked by the same schema as a DropTrace's spec, so the
// one-machine run accepts exactly what the cluster accepts.
import { z } from "zod";
import { DropTraceSpecSchema, effectiveReportIntervalSeconds, type DropTraceSpec } from "../api/droptrace.js";
import { fieldErrors } from "../api/field-errors.js";
import { parseDurationSeconds } from "../api/duration.js";
import { UsageError } from "../api/exit-codes.js";

export interface RunFlags {
  duration: string;
  interval?: string | undefined;
  interface: string[];
  reason: string[];
  stacks?: boolean | undefined;
  maxProbeCpuPercent?: string | undefined;
  output: string;
  cacheDir?: string | undefined;
}

const OutputSchema = z.enum(["table", "json"]);

export interface RunSettings {
  spec: DropTraceSpec;
  durationSeconds: number;
  intervalSeconds: number;
  output: z.infer<typeof OutputSchema>;
  cacheDir: string | undefined;
}

const FLAG_FOR_FIELD: [RegExp, string][] = [
  [/^duration$/, "--duration"],
  [/^reportInterval$/, "--interval"],
  [/^filter\.interfaces/, "--interface"],
  [/^filter\.reasons/, "--reason"],
  [/^stacks$/, "--stacks"],
  [/^maxProbeCPUPercent$/, "--max-probe-cpu-percent"],
];

function flagFor(field: string): string {
  return FLAG_FOR_FIELD.find(([pattern]) => pattern.test(field))?.[1] ?? field;
}

export function parseRunFlags(flags: RunFlags): RunSettings {
  const output = OutputSchema.safeParse(flags.output);
  if (!output.success) throw new UsageError(`--output must be "table" or "json", not ${JSON.stringify(flags.output)}`);
  const filter = {
    ...(flags.interface.length > 0 ? { interfaces: flags.interface } : {}),
    ...(flags.reason.length > 0 ? { reasons: flags.reason } : {}),
  };
  const cpuLimit = flags.maxProbeCpuPercent;
  if (cpuLimit !== undefined && !/^\d+$/.test(cpuLimit)) {
    throw new UsageError(`--max-probe-cpu-percent must be a whole number of percent, not ${JSON.stringify(cpuLimit)}`);
  }
  const parsed = DropTraceSpecSchema.safeParse({
    duration: flags.duration,
    ...(flags.interval === undefined ? {} : { reportInterval: flags.interval }),
    ...(Object.keys(filter).length > 0 ? { filter } : {}),
    ...(flags.stacks === true ? { stacks: true } : {}),
    ...(cpuLimit === undefined ? {} : { maxProbeCPUPercent: Number(cpuLimit) }),
  });
  if (!parsed.success) {
    const lines = fieldErrors(parsed.error).map((e) => `${flagFor(e.field)}: ${e.message}`);
    throw new UsageError(lines.join("\n"));
  }
  const spec = parsed.data;
  return {
    spec,
    durationSeconds: parseDurationSeconds(spec.duration) ?? 0,
    intervalSeconds: effectiveReportIntervalSeconds(spec),
    output: output.data,
    cacheDir: flags.cacheDir,
  };
}
