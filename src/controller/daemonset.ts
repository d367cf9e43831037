// The DaemonSet that runs one trace's agents, as the controller wants it. Pure: the same
// trace and settings always give the same object, and its template hash says when a
// DaemonSet in the cluster needs replacing (the API server adds defaults to what it stores,
// so comparing objects field by field would never settle).
import { createHash } from "node:crypto";
import type { V1DaemonSet, V1DaemonSetSpec, V1EnvVar, V1Toleration } from "@kubernetes/client-node";
import { FINAL_WRITE_SECONDS, HOST_CGROUP_MOUNT, HOST_PROC_MOUNT, HOST_USR_LIB_MOUNT, PROBE_STOP_GRACE_SECONDS } from "../api/constants.js";
import { AGENT_ENV } from "../api/agent-env.js";
import {
  AGENT_CONTAINER,
  AGENT_METRICS_PORT,
  ANNOTATIONS,
  DEFAULT_CACHE_DIR,
  API_VERSION,
  APP_NAME,
  COMPONENT,
  DROPTRACE,
  LABELS,
  MANAGED_BY,
  MAX_REPORT_ROWS,
} from "../api/constants.js";
import { effectiveReportIntervalSeconds, type DropTraceSpec } from "../api/droptrace.js";
import { formatDuration } from "../api/duration.js";
import { daemonSetName, labelValue } from "../api/names.js";
import { TERMINATION_MARGIN_SECONDS } from "./defaults.js";
import { model } from "../kube/api.js";
import type { ControllerSettings } from "./settings.js";

export type AgentPodSettings = Pick<
  ControllerSettings,
  "namespace" | "agentImage" | "agentServiceAccount" | "agentCachePath" | "agentPriorityClass" | "agentResources" | "agentTolerations"
>;

export interface TraceIdentity {
  name: string;
  uid: string;
  spec: DropTraceSpec;
}

/** SIGTERM to exit: staprun's flush and unload, then the final report, then slack. */
export const AGENT_TERMINATION_GRACE_SECONDS = FINAL_WRITE_SECONDS + PROBE_STOP_GRACE_SECONDS + TERMINATION_MARGIN_SECONDS;

const OS_LABEL = "kubernetes.io/os";

/** Labels that pick one trace's agent pods: also the DaemonSet's (immutable) selector. */
export function agentSelector(trace: string): Record<string, string> {
  return { [LABELS.trace]: labelValue(trace), [LABELS.component]: COMPONENT.agent };
}

/** Labels on every DaemonSet the controller owns: its informer watches by them. */
export const OWNED_DAEMONSET_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY},${LABELS.component}=${COMPONENT.agent}`;

function agentEnv(trace: TraceIdentity): V1EnvVar[] {
  const { spec } = trace;
  // Every variable the agent reads (src/api/agent-env.ts AGENT_ENV), always set, so a pod's
  // environment shows the whole trace; empty lists mean "no filter" to the agent.
  const values: Record<(typeof AGENT_ENV)[keyof typeof AGENT_ENV], string | { fieldPath: string }> = {
    [AGENT_ENV.trace]: trace.name,
    [AGENT_ENV.traceUid]: trace.uid,
    [AGENT_ENV.node]: { fieldPath: "spec.nodeName" },
    [AGENT_ENV.duration]: spec.duration,
    [AGENT_ENV.reportInterval]: formatDuration(effectiveReportIntervalSeconds(spec)),
    [AGENT_ENV.interfaces]: (spec.filter?.interfaces ?? []).join(","),
    [AGENT_ENV.reasons]: (spec.filter?.reasons ?? []).join(","),
    [AGENT_ENV.stacks]: String(spec.stacks),
    [AGENT_ENV.maxProbeCPUPercent]: String(spec.maxProbeCPUPercent),
    [AGENT_ENV.namespaces]: (spec.filter?.namespaces ?? []).join(","),
    [AGENT_ENV.podSelector]: spec.filter?.podSelector === undefined ? "" : JSON.stringify(spec.filter.podSelector),
    [AGENT_ENV.cacheDir]: DEFAULT_CACHE_DIR,
    [AGENT_ENV.metricsPort]: String(AGENT_METRICS_PORT),
    [AGENT_ENV.rowCap]: String(MAX_REPORT_ROWS),
    [AGENT_ENV.hostProc]: HOST_PROC_MOUNT,
    [AGENT_ENV.hostCgroup]: HOST_CGROUP_MOUNT,
  };
  return Object.values(AGENT_ENV).map((name): V1EnvVar => {
    const value = values[name];
    return model<V1EnvVar>(typeof value === "string" ? { name, value } : { name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: value.fieldPath } } });
  });
}

function tolerations(spec: DropTraceSpec, settings: AgentPodSettings): V1Toleration[] {
  const seen = new Set<string>();
  const result: V1Toleration[] = [];
  for (const toleration of [...spec.tolerations, ...settings.agentTolerations]) {
    // zod's output may carry keys whose value is undefined; the model wants them absent.
    const t = model<V1Toleration>(Object.fromEntries(Object.entries(toleration).filter(([, v]) => v !== undefined)));
    const key = JSON.stringify(t);
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(t);
  }
  return result;
}

/** Host paths mounted read-only: module tree and headers for stap, tracefs for reason names (debugfs where tracefs is not mounted on its own). */
const HOST_READ_ONLY = [
  { name: "lib-modules", path: "/lib/modules", mountPath: "/lib/modules" },
  { name: "usr-src", path: "/usr/src", mountPath: "/usr/src" },
  // Debian's headers link into /usr/lib/linux-kbuild-<version>; mounted aside, the agent links them in.
  { name: "usr-lib", path: "/usr/lib", mountPath: HOST_USR_LIB_MOUNT },
  { name: "tracefs", path: "/sys/kernel/tracing", mountPath: "/sys/kernel/tracing" },
  { name: "debugfs", path: "/sys/kernel/debug", mountPath: "/sys/kernel/debug" },
  // The host's /proc, read-only rather than hostPID, so the agent's own processes stay in their own PID
  // namespace: the node's own drop counters through its pid 1 (/host/proc/1/net), and each process's
  // network namespace and cgroup, which name the pod behind a row's namespace.
  { name: "host-proc", path: "/proc", mountPath: HOST_PROC_MOUNT },
  // The host's cgroup hierarchy: a dropped packet's socket carries its cgroup's ID, and the
  // cgroup's path names the pod (host-network pods share the node's network namespace).
  { name: "host-cgroup", path: "/sys/fs/cgroup", mountPath: HOST_CGROUP_MOUNT },
] as const;

/** `resourceVersion`: of the DaemonSet this one replaces, which makes the replace conditional. */
export function desiredDaemonSet(trace: TraceIdentity, settings: AgentPodSettings, resourceVersion?: string): V1DaemonSet {
  const selector = agentSelector(trace.name);
  const labels = { ...selector, [LABELS.name]: APP_NAME, [LABELS.managedBy]: MANAGED_BY };
  const resources = settings.agentResources;
  const template = model<V1DaemonSetSpec>({
    selector: { matchLabels: selector },
    // OnDelete: a controller upgrade mid-trace must not restart every probe (each restart loses
    // the interval in flight); nodes that join later get the new template.
    updateStrategy: { type: "OnDelete" },
    revisionHistoryLimit: 1,
    template: {
      metadata: { labels },
      spec: {
        serviceAccountName: settings.agentServiceAccount,
        // The agent writes its own DropTraceReport with this account's token.
        automountServiceAccountToken: true,
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        enableServiceLinks: false,
        ...(settings.agentPriorityClass === undefined ? {} : { priorityClassName: settings.agentPriorityClass }),
        // The user's selector, on Linux nodes only: SystemTap is Linux's.
        nodeSelector: { ...(trace.spec.nodeSelector ?? {}), [OS_LABEL]: "linux" },
        tolerations: tolerations(trace.spec, settings),
        terminationGracePeriodSeconds: AGENT_TERMINATION_GRACE_SECONDS,
        containers: [
          {
            name: AGENT_CONTAINER,
            image: settings.agentImage,
            // The image's entrypoint is the droptrace binary.
            args: ["agent"],
            env: agentEnv(trace),
            ports: [{ name: "metrics", containerPort: AGENT_METRICS_PORT, protocol: "TCP" }],
            readinessProbe: { httpGet: { path: "/healthz", port: "metrics" }, periodSeconds: 10 },
            // Lenient: a cold compile keeps the agent busy for a minute or more.
            livenessProbe: { httpGet: { path: "/healthz", port: "metrics" }, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 6 },
            resources: {
              ...(resources.requests === undefined ? {} : { requests: resources.requests }),
              ...(resources.limits === undefined ? {} : { limits: resources.limits }),
            },
            securityContext: {
              // privileged: loading a kernel module needs CAP_SYS_MODULE, and the runtimes' default
              // seccomp and AppArmor profiles refuse init_module/finit_module even with it; stap's
              // runtime also needs the host's tracing and debug files. No capability set short of
              // privileged is enough for staprun. The host mounts stay read-only anyway, and
              // hostNetwork/hostPID stay off: the probe sees every namespace from the kernel.
              privileged: true,
              runAsUser: 0,
              // Not read-only: stap writes its own cache under $HOME/.systemtap and compiles in the temp dir.
              readOnlyRootFilesystem: false,
            },
            volumeMounts: [
              ...HOST_READ_ONLY.map((m) => ({ name: m.name, mountPath: m.mountPath, readOnly: true })),
              { name: "module-cache", mountPath: DEFAULT_CACHE_DIR },
            ],
          },
        ],
        volumes: [
          // Type "" (no check) rather than Directory: a node without headers or tracefs should
          // start its agent, whose preflight then says exactly what is missing, instead of
          // leaving a pod stuck in ContainerCreating.
          ...HOST_READ_ONLY.map((m) => ({ name: m.name, hostPath: { path: m.path, type: "" } })),
          // Compiled modules outlive the trace: the next trace on this kernel loads, not compiles.
          { name: "module-cache", hostPath: { path: settings.agentCachePath, type: "DirectoryOrCreate" } },
        ],
      },
    },
  });
  return model<V1DaemonSet>({
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: {
      name: daemonSetName(trace.name),
      namespace: settings.namespace,
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
      labels,
      annotations: {
        [ANNOTATIONS.templateHash]: templateHash(template),
        [ANNOTATIONS.spec]: JSON.stringify(trace.spec),
      },
      ownerReferences: [{ apiVersion: API_VERSION, kind: DROPTRACE.kind, name: trace.name, uid: trace.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: template,
  });
}

function templateHash(spec: unknown): string {
  return createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 16);
}
