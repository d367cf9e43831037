// The agent's environment: the contract between the controller, which sets it in every trace's
// DaemonSet (controller/daemonset.ts), and the agent, which reads and validates it
// (agent/settings.ts). Both import it from here, so neither reaches into the other.
import { AGENT_METRICS_PORT, DEFAULT_CACHE_DIR, HOST_CGROUP_MOUNT, HOST_PROC_MOUNT, MAX_REPORT_ROWS } from "./constants.js";

/** Environment variable names, shared with the controller that sets them. */
export const AGENT_ENV = {
  trace: "DROPTRACE_TRACE",
  traceUid: "DROPTRACE_TRACE_UID",
  node: "NODE_NAME",
  duration: "DROPTRACE_DURATION",
  reportInterval: "DROPTRACE_REPORT_INTERVAL",
  interfaces: "DROPTRACE_INTERFACES",
  reasons: "DROPTRACE_REASONS",
  /** "true" or "false": spec.stacks. */
  stacks: "DROPTRACE_STACKS",
  /** spec.maxProbeCPUPercent. */
  maxProbeCPUPercent: "DROPTRACE_MAX_PROBE_CPU_PERCENT",
  /** filter.namespaces, comma-separated (a namespace name has no comma). */
  namespaces: "DROPTRACE_NAMESPACES",
  /** filter.podSelector as JSON; empty for none. */
  podSelector: "DROPTRACE_POD_SELECTOR",
  cacheDir: "DROPTRACE_CACHE_DIR",
  metricsPort: "DROPTRACE_METRICS_PORT",
  rowCap: "DROPTRACE_ROW_CAP",
  hostProc: "DROPTRACE_HOST_PROC",
  hostCgroup: "DROPTRACE_HOST_CGROUP",
} as const;

/** What the agent assumes for a variable that is not set; the controller sets them all anyway. */
export const AGENT_ENV_DEFAULTS = {
  cacheDir: DEFAULT_CACHE_DIR,
  metricsPort: AGENT_METRICS_PORT,
  rowCap: MAX_REPORT_ROWS,
  hostProc: HOST_PROC_MOUNT,
  hostCgroup: HOST_CGROUP_MOUNT,
} as const;
