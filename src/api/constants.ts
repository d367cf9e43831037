// Every name the API and the cluster objects share is defined here once.

export const GROUP = "droptrace.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

export const DROPTRACE = {
  kind: "DropTrace",
  plural: "droptraces",
  singular: "droptrace",
  shortNames: ["dt"],
} as const;

export const DROPTRACE_REPORT = {
  kind: "DropTraceReport",
  plural: "droptracereports",
  singular: "droptracereport",
  shortNames: ["dtr"],
} as const;

/** Labels on every object droptrace creates, so they can be listed and watched by selector. */
export const LABELS = {
  trace: `${GROUP}/trace`,
  node: `${GROUP}/node`,
  component: "app.kubernetes.io/component",
  managedBy: "app.kubernetes.io/managed-by",
  name: "app.kubernetes.io/name",
} as const;

export const MANAGED_BY = "droptrace";
export const FIELD_MANAGER = "droptrace-controller";

/** Linux IFNAMSIZ is 16 including the terminating NUL. */
export const IFNAME_MAX = 15;
export const MAX_INTERFACE_FILTERS = 16;
export const MAX_REASON_FILTERS = 32;
export const MAX_TOLERATIONS = 32;
export const MAX_NODE_SELECTOR_LABELS = 16;
/** filter.namespaces: namespace names at most. */
export const MAX_NAMESPACE_FILTERS = 32;
/** filter.podSelector: labels in matchLabels, requirements in matchExpressions, values in one requirement. */
export const MAX_POD_SELECTOR_LABELS = 16;
export const MAX_POD_SELECTOR_EXPRESSIONS = 16;
export const MAX_POD_SELECTOR_VALUES = 32;
/** Interfaces a status row summed over its workload's pods that it lists by name (the largest). */
export const MAX_ROW_INTERFACES = 8;
/** status.topWorkload: a kind, a namespace and a name, with their separators. */
export const TOP_WORKLOAD_MAX = 63 + 1 + 63 + 1 + 253;
/** Rows one node keeps in its report; the rest is summed into `otherDrops`. */
export const MAX_REPORT_ROWS = 1000;
/** Nodes listed by name in a DropTrace's status, failing ones first. */
export const MAX_NODE_SUMMARY = 20;

/** Value of LABELS.name on every object droptrace creates. */
export const APP_NAME = "droptrace";
/** Values of LABELS.component. */
export const COMPONENT = {
  agent: "agent",
  controller: "controller",
} as const;

/** Annotations the controller keeps on the DaemonSets it creates. */
export const ANNOTATIONS = {
  /** Hash of the desired pod template: the DaemonSet is replaced only when it differs. */
  templateHash: `${GROUP}/template-hash`,
  /** The DropTrace spec the DaemonSet was made from, as JSON, to notice a spec changed behind the CRD's back. */
  spec: `${GROUP}/spec`,
} as const;

/** The agent's port for /metrics and /healthz (the agent's DROPTRACE_METRICS_PORT default). */
export const AGENT_METRICS_PORT = 9102;
/**
 * Where compiled probe modules are kept: `droptrace run` and `compile` by default, the agent
 * container (the host's cache mounted there), and the host directory the chart gives it.
 */
export const DEFAULT_CACHE_DIR = "/var/cache/droptrace";
/** The agent container's name in every trace's DaemonSet. */
export const AGENT_CONTAINER = "agent";

/**
 * The agent's stop sequence, which the controller sizes the pod's termination grace for:
 * staprun gets this long after SIGINT to flush and unload before it is killed, then the
 * final report this long to land.
 */
export const PROBE_STOP_GRACE_SECONDS = 20;
export const FINAL_WRITE_SECONDS = 20;

/**
 * Where the agent pod sees the host's /usr/lib (read-only). Debian's kernel headers link
 * their scripts/ and tools/ into /usr/lib/linux-kbuild-<version>, so the agent links those
 * directories from here into its own /usr/lib before it compiles (agent/host-kbuild.ts).
 */
export const HOST_USR_LIB_MOUNT = "/host/usr/lib";
/**
 * Where the agent sees the host's /proc (read-only, no hostPID): the node's own drop counters, through its pid 1, and each
 * process's network namespace and cgroup, which name the pod behind a row.
 */
export const HOST_PROC_MOUNT = "/host/proc";

/**
 * Where the agent sees the host's /sys/fs/cgroup (read-only): the cgroup v2 hierarchy by cgroup ID, which names the pod
 * behind a dropped packet's socket (host-network pods share the node's namespace; their sockets' cgroups tell them apart).
 */
export const HOST_CGROUP_MOUNT = "/host/sys/fs/cgroup";
