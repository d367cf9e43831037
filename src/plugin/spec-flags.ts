// `kubectl droptrace trace` flags as a DropTrace spec. Only the flags' own syntax is checked
// here (a selector is key=value pairs, a number is a number): what the values may be is the
// API server's to say, and its field errors are printed as it words them (errors.ts), so the
// plugin never disagrees with the CRD installed in the cluster.
import { UsageError } from "../api/exit-codes.js";
import { parseDurationSeconds } from "../api/duration.js";

/** The label every node carries with its name: what --node selects on. */
export const HOSTNAME_LABEL = "kubernetes.io/hostname";

export interface TraceFlags {
  duration?: string | undefined;
  reportInterval?: string | undefined;
  node?: string | undefined;
  selector: string[];
  interface: string[];
  reason: string[];
  top?: string | undefined;
  stacks?: boolean | undefined;
  maxProbeCpuPercent?: string | undefined;
  ttl?: string | undefined;
}

function nodeSelector(flags: TraceFlags): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const pair of flags.selector.flatMap((s) => s.split(",")).filter((p) => p !== "")) {
    const match = /^([^=!]+)==?([^=]*)$/.exec(pair);
    if (match?.[1] === undefined || match[2] === undefined) {
      throw new UsageError(`--selector: ${JSON.stringify(pair)} is not key=value: a DropTrace's nodeSelector matches labels by equality only`);
    }
    labels[match[1]] = match[2];
  }
  if (flags.node !== undefined) {
    const other = labels[HOSTNAME_LABEL];
    if (other !== undefined && other !== flags.node)
      throw new UsageError(`--node ${flags.node} and --selector ${HOSTNAME_LABEL}=${other} select different nodes`);
    labels[HOSTNAME_LABEL] = flags.node;
  }
  return Object.keys(labels).length > 0 ? labels : undefined;
}

function wholeNumber(flag: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a whole number`);
  return Number.parseInt(text, 10);
}

export function traceSpec(flags: TraceFlags): Record<string, unknown> {
  const selector = nodeSelector(flags);
  const filter = {
    ...(flags.interface.length > 0 ? { interfaces: flags.interface } : {}),
    ...(flags.reason.length > 0 ? { reasons: flags.reason } : {}),
  };
  let ttl: number | undefined;
  if (flags.ttl !== undefined) {
    ttl = parseDurationSeconds(flags.ttl);
    if (ttl === undefined) throw new UsageError(`--ttl: ${JSON.stringify(flags.ttl)} is not a duration such as 30m or 1h`);
  }
  return {
    ...(selector === undefined ? {} : { nodeSelector: selector }),
    ...(flags.duration === undefined ? {} : { duration: flags.duration }),
    ...(flags.reportInterval === undefined ? {} : { reportInterval: flags.reportInterval }),
    ...(Object.keys(filter).length > 0 ? { filter } : {}),
    ...(flags.top === undefined ? {} : { topN: wholeNumber("--top", flags.top) }),
    ...(flags.stacks === true ? { stacks: true } : {}),
    ...(flags.maxProbeCpuPercent === undefined ? {} : { maxProbeCPUPercent: wholeNumber("--max-probe-cpu-percent", flags.maxProbeCpuPercent) }),
    ...(ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }),
  };
}
