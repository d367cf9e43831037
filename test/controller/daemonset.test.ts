import { describe, expect, it } from "vitest";
import { FINAL_WRITE_SECONDS } from "../../src/api/constants.js";
import { AGENT_ENV } from "../../src/api/agent-env.js";
import { DropTraceSpecSchema } from "../../src/api/droptrace.js";
import { AGENT_TERMINATION_GRACE_SECONDS, desiredDaemonSet } from "../../src/controller/daemonset.js";
import { controllerSettings } from "../../src/controller/settings.js";

const settings = controllerSettings({
  POD_NAMESPACE: "droptrace-system",
  DROPTRACE_AGENT_IMAGE: "ghcr.io/example/droptrace:0.1.0",
  DROPTRACE_AGENT_PRIORITY_CLASS: "system-node-critical",
  DROPTRACE_AGENT_TOLERATIONS: JSON.stringify([{ key: "example.com/gpu", operator: "Exists", effect: "NoSchedule" }]),
});
const spec = DropTraceSpecSchema.parse({
  duration: "2m",
  nodeSelector: { "node-role.kubernetes.io/worker": "" },
  tolerations: [{ key: "dedicated", operator: "Equal", value: "net", effect: "NoSchedule" }],
});
const ds = desiredDaemonSet({ name: "net", uid: "uid-1", spec }, settings);
const pod = ds.spec?.template.spec;
const agent = pod?.containers[0];

describe("the agents' DaemonSet", () => {
  it("is owned by the DropTrace as its controller, in the controller's namespace", () => {
    expect(ds.metadata?.name).toBe("droptrace-net");
    expect(ds.metadata?.namespace).toBe("droptrace-system");
    expect(ds.metadata?.ownerReferences).toEqual([
      { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "net", uid: "uid-1", controller: true, blockOwnerDeletion: true },
    ]);
  });

  it("sets exactly the environment the agent reads, from the trace", () => {
    expect(agent?.env?.map((e) => e.name).sort()).toEqual(Object.values(AGENT_ENV).sort());
    expect(agent?.env?.find((e) => e.name === AGENT_ENV.node)?.valueFrom?.fieldRef?.fieldPath).toBe("spec.nodeName");
    const value = (name: string) => agent?.env?.find((e) => e.name === name)?.value;
    expect(value(AGENT_ENV.traceUid)).toBe("uid-1");
    expect(value(AGENT_ENV.duration)).toBe("2m");
    expect(value(AGENT_ENV.reportInterval)).toBe("10s");
    expect(value(AGENT_ENV.interfaces)).toBe("");
    expect(value(AGENT_ENV.cacheDir)).toBe("/var/cache/droptrace");
  });

  it("is privileged for the probe but shares neither the host's network nor its PIDs", () => {
    expect(agent?.securityContext?.privileged).toBe(true);
    expect(pod?.hostNetwork).toBe(false);
    expect(pod?.hostPID).toBe(false);
    expect(pod?.hostIPC).toBe(false);
  });

  it("mounts headers, modules and tracing read-only, and the module cache read-write", () => {
    const volumes = new Map(pod?.volumes?.map((v) => [v.name, v.hostPath]));
    const mounts = new Map(agent?.volumeMounts?.map((m) => [m.mountPath, m]));
    for (const path of ["/lib/modules", "/usr/src", "/sys/kernel/tracing", "/sys/kernel/debug"]) {
      const mount = mounts.get(path);
      expect(mount?.readOnly).toBe(true);
      expect(volumes.get(mount?.name ?? "")?.path).toBe(path);
    }
    // The host's /usr/lib, aside, for Debian's linux-kbuild directories the headers link to.
    const usrLib = mounts.get("/host/usr/lib");
    expect(usrLib?.readOnly).toBe(true);
    expect(volumes.get(usrLib?.name ?? "")?.path).toBe("/usr/lib");
    // The host's /proc and cgroup hierarchy, aside and read-only: whose each namespace and each socket's cgroup is.
    for (const [mountPath, hostPath] of [
      ["/host/proc", "/proc"],
      ["/host/sys/fs/cgroup", "/sys/fs/cgroup"],
    ] as const) {
      const mount = mounts.get(mountPath);
      expect(mount?.readOnly, mountPath).toBe(true);
      expect(volumes.get(mount?.name ?? "")?.path).toBe(hostPath);
    }
    const cache = mounts.get("/var/cache/droptrace");
    expect(cache?.readOnly).toBeUndefined();
    expect(volumes.get(cache?.name ?? "")).toEqual({ path: "/var/cache/droptrace", type: "DirectoryOrCreate" });
  });

  it("runs on the trace's Linux nodes with its tolerations plus the chart's", () => {
    expect(pod?.nodeSelector).toEqual({ "node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux" });
    expect(pod?.tolerations).toEqual([
      { key: "dedicated", operator: "Equal", value: "net", effect: "NoSchedule" },
      { key: "example.com/gpu", operator: "Exists", effect: "NoSchedule" },
    ]);
    expect(pod?.priorityClassName).toBe("system-node-critical");
    expect(pod?.serviceAccountName).toBe("droptrace-agent");
  });

  it("gives the agent time for its final report after SIGTERM, and probes its /healthz on the metrics port", () => {
    expect(pod?.terminationGracePeriodSeconds).toBe(AGENT_TERMINATION_GRACE_SECONDS);
    expect(AGENT_TERMINATION_GRACE_SECONDS).toBeGreaterThan(FINAL_WRITE_SECONDS + 20);
    expect(agent?.ports).toEqual([{ name: "metrics", containerPort: 9102, protocol: "TCP" }]);
    expect(agent?.readinessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(agent?.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(agent?.resources).toEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } });
  });

  it("changes its template hash when what the pods run changes, and only then", () => {
    const hash = (d: typeof ds) => d.metadata?.annotations?.["droptrace.io/template-hash"];
    expect(hash(desiredDaemonSet({ name: "net", uid: "uid-1", spec }, settings))).toBe(hash(ds));
    expect(hash(desiredDaemonSet({ name: "net", uid: "uid-1", spec }, { ...settings, agentImage: "ghcr.io/example/droptrace:0.2.0" }))).not.toBe(hash(ds));
    expect(JSON.parse(ds.metadata?.annotations?.["droptrace.io/spec"] ?? "")).toEqual(spec);
  });
});
