// The agent's settings, from the environment the controller's DaemonSet gives it.
// Validated with the same schemas as a DropTrace's spec: an agent never runs on
// settings the API would have refused.
import { z } from "zod";
import { DropTraceSpecSchema, effectiveReportIntervalSeconds } from "../api/droptrace.js";
import { parseDurationSeconds } from "../api/duration.js";
import { describeFieldErrors, fieldErrors } from "../api/field-errors.js";
import { AGENT_ENV, AGENT_ENV_DEFAULTS } from "../api/agent-env.js";
import { MAX_REPORT_ROWS } from "../api/constants.js";
import { podFilterOf, type PodFilter } from "./pod-filter.js";

const list = (text: string | undefined) => (text === undefined || text.trim() === "" ? [] : text.split(",").map((s) => s.trim()));

const EnvSchema = z.object({
  [AGENT_ENV.trace]: z.string().min(1),
  [AGENT_ENV.traceUid]: z.string().min(1),
  [AGENT_ENV.node]: z.string().min(1),
  [AGENT_ENV.duration]: z.string().min(1),
  [AGENT_ENV.reportInterval]: z.string().optional(),
  [AGENT_ENV.interfaces]: z.string().optional(),
  [AGENT_ENV.reasons]: z.string().optional(),
  [AGENT_ENV.stacks]: z.enum(["true", "false"]).optional(),
  [AGENT_ENV.maxProbeCPUPercent]: z
    .string()
    .regex(/^\d{1,3}$/, "must be a whole number")
    .transform(Number)
    .optional(),
  [AGENT_ENV.namespaces]: z.string().optional(),
  [AGENT_ENV.podSelector]: z.string().optional(),
  [AGENT_ENV.cacheDir]: z.string().min(1).default(AGENT_ENV_DEFAULTS.cacheDir),
  [AGENT_ENV.metricsPort]: z.coerce.number().int().min(0).max(65535).default(AGENT_ENV_DEFAULTS.metricsPort),
  [AGENT_ENV.rowCap]: z.coerce.number().int().min(1).max(MAX_REPORT_ROWS).default(AGENT_ENV_DEFAULTS.rowCap),
  [AGENT_ENV.hostProc]: z.string().min(1).default(AGENT_ENV_DEFAULTS.hostProc),
  [AGENT_ENV.hostCgroup]: z.string().min(1).default(AGENT_ENV_DEFAULTS.hostCgroup),
});

export interface AgentSettings {
  trace: string;
  traceUid: string;
  node: string;
  durationSeconds: number;
  intervalSeconds: number;
  interfaces: string[];
  reasons: string[];
  stacks: boolean;
  maxProbeCPUPercent: number;
  /** filter.namespaces and filter.podSelector, applied when rows are named (pod-filter.ts); undefined when neither is set. */
  podFilter?: PodFilter | undefined;
  cacheDir: string;
  metricsPort: number;
  rowCap: number;
  /** The host's /proc as the pod sees it: whose each network namespace is. */
  hostProc: string;
  /** The host's /sys/fs/cgroup as the pod sees it: whose each socket's cgroup is. */
  hostCgroup: string;
}

/** An optional JSON variable, parsed; zod judges its shape with the rest of the spec. */
function json(name: string, text: string | undefined): unknown {
  if (text === undefined || text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new AgentSettingsError(
      `${name} is not JSON (the controller's DaemonSet sets it from the DropTrace's spec): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export class AgentSettingsError extends Error {
  override readonly name = "AgentSettingsError";
}

const REQUIRED = [AGENT_ENV.trace, AGENT_ENV.traceUid, AGENT_ENV.node, AGENT_ENV.duration];

export function agentSettingsFromEnv(env: NodeJS.ProcessEnv): AgentSettings {
  const missing = REQUIRED.filter((name) => (env[name] ?? "") === "");
  if (missing.length > 0) {
    throw new AgentSettingsError(
      `${missing.join(", ")} not set: the agent runs in the pods of a DropTrace's DaemonSet, which sets them; to trace one machine by hand use \`droptrace run\``,
    );
  }
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new AgentSettingsError(
      `the agent's environment is incomplete (it is set by the controller's DaemonSet): ${describeFieldErrors(fieldErrors(parsed.error))}`,
    );
  }
  const e = parsed.data;
  const interfaces = list(e[AGENT_ENV.interfaces]);
  const reasons = list(e[AGENT_ENV.reasons]);
  const namespaces = list(e[AGENT_ENV.namespaces]);
  const podSelector = json(AGENT_ENV.podSelector, e[AGENT_ENV.podSelector]);
  const spec = DropTraceSpecSchema.safeParse({
    duration: e[AGENT_ENV.duration],
    ...(e[AGENT_ENV.reportInterval] === undefined ? {} : { reportInterval: e[AGENT_ENV.reportInterval] }),
    filter: {
      ...(interfaces.length > 0 ? { interfaces } : {}),
      ...(reasons.length > 0 ? { reasons } : {}),
      ...(namespaces.length > 0 ? { namespaces } : {}),
      ...(podSelector === undefined ? {} : { podSelector }),
    },
    ...(e[AGENT_ENV.stacks] === undefined ? {} : { stacks: e[AGENT_ENV.stacks] === "true" }),
    ...(e[AGENT_ENV.maxProbeCPUPercent] === undefined ? {} : { maxProbeCPUPercent: e[AGENT_ENV.maxProbeCPUPercent] }),
  });
  if (!spec.success) throw new AgentSettingsError(`the agent's trace settings are invalid: ${describeFieldErrors(fieldErrors(spec.error, "spec"))}`);
  return {
    trace: e[AGENT_ENV.trace],
    traceUid: e[AGENT_ENV.traceUid],
    node: e[AGENT_ENV.node],
    durationSeconds: parseDurationSeconds(spec.data.duration) ?? 0,
    intervalSeconds: effectiveReportIntervalSeconds(spec.data),
    interfaces,
    reasons,
    stacks: spec.data.stacks,
    maxProbeCPUPercent: spec.data.maxProbeCPUPercent,
    podFilter: podFilterOf(spec.data.filter),
    cacheDir: e[AGENT_ENV.cacheDir],
    metricsPort: e[AGENT_ENV.metricsPort],
    rowCap: e[AGENT_ENV.rowCap],
    hostProc: e[AGENT_ENV.hostProc],
    hostCgroup: e[AGENT_ENV.hostCgroup],
  };
}
