// The chart as a user installs it: lint, render with several value sets, and check what
// would reach the cluster: hardened controller, least-privilege RBAC, labels, CRDs.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { CHART_DIR, helm } from "./helm.js";

const VALUES_DIR = path.join(import.meta.dirname, "values");
const valueFiles = readdirSync(VALUES_DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

async function render(args: string[] = []): Promise<Manifest[]> {
  const result = await helm(["template", "dt", CHART_DIR, "--namespace", "droptrace-system", ...args]);
  if (result.exitCode !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const byKind = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind);

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Every permission the chart grants, as "role: group/resource verb", sorted. */
function grants(manifests: Manifest[]): string[] {
  return manifests
    .filter((m) => m.kind === "ClusterRole" || m.kind === "Role")
    .flatMap((role) =>
      (role["rules"] as Rule[]).flatMap((rule) =>
        rule.apiGroups.flatMap((g) =>
          rule.resources.flatMap((r) =>
            rule.verbs.map((v) => `${role.kind} ${role.metadata.namespace ?? "(cluster)"} ${role.metadata.name}: ${g === "" ? "core" : g}/${r} ${v}`),
          ),
        ),
      ),
    )
    .sort();
}

describe("helm lint", () => {
  it.each([["defaults", []], ...valueFiles.map((f) => [f, ["--values", path.join(VALUES_DIR, f)]])] as [string, string[]][])(
    "passes strictly with %s",
    async (_name, args) => {
      const result = await helm(["lint", CHART_DIR, "--strict", ...args]);
      expect(result.stderr + result.stdout).toContain("0 chart(s) failed");
      expect(result.exitCode).toBe(0);
    },
  );
});

describe("rendered with the defaults", () => {
  it("grants exactly what the controller and the agents use, and nothing more", async () => {
    expect(grants(await render())).toEqual(
      [
        "ClusterRole (cluster) dt-droptrace-agent: droptrace.io/droptracereports create",
        "ClusterRole (cluster) dt-droptrace-agent: droptrace.io/droptracereports get",
        "ClusterRole (cluster) dt-droptrace-agent: droptrace.io/droptracereports update",
        "ClusterRole (cluster) dt-droptrace-agent: core/pods list",
        "ClusterRole (cluster) dt-droptrace-agent: core/pods watch",
        "ClusterRole (cluster) dt-droptrace-controller: droptrace.io/droptracereports list",
        "ClusterRole (cluster) dt-droptrace-controller: droptrace.io/droptracereports watch",
        "ClusterRole (cluster) dt-droptrace-controller: droptrace.io/droptraces delete",
        "ClusterRole (cluster) dt-droptrace-controller: droptrace.io/droptraces list",
        "ClusterRole (cluster) dt-droptrace-controller: droptrace.io/droptraces watch",
        "ClusterRole (cluster) dt-droptrace-controller: droptrace.io/droptraces/finalizers update",
        "ClusterRole (cluster) dt-droptrace-controller: droptrace.io/droptraces/status update",
        "ClusterRole (cluster) dt-droptrace-controller: core/pods list",
        "ClusterRole (cluster) dt-droptrace-controller: core/pods watch",
        "ClusterRole (cluster) dt-droptrace-controller: core/services list",
        "ClusterRole (cluster) dt-droptrace-controller: core/services watch",
        "ClusterRole (cluster) dt-droptrace-controller: core/nodes list",
        "ClusterRole (cluster) dt-droptrace-controller: core/nodes watch",
        "Role default dt-droptrace-controller-events: core/events create",
        "Role droptrace-system dt-droptrace-controller: apps/daemonsets create",
        "Role droptrace-system dt-droptrace-controller: apps/daemonsets delete",
        "Role droptrace-system dt-droptrace-controller: apps/daemonsets list",
        "Role droptrace-system dt-droptrace-controller: apps/daemonsets update",
        "Role droptrace-system dt-droptrace-controller: apps/daemonsets watch",
        "Role droptrace-system dt-droptrace-controller: core/events list",
        "Role droptrace-system dt-droptrace-controller: core/events watch",
        "Role droptrace-system dt-droptrace-controller: core/pods list",
        "Role droptrace-system dt-droptrace-controller: core/pods watch",
        "Role droptrace-system dt-droptrace-controller: coordination.k8s.io/leases create",
        "Role droptrace-system dt-droptrace-controller: coordination.k8s.io/leases get",
        "Role droptrace-system dt-droptrace-controller: coordination.k8s.io/leases update",
      ].sort(),
    );
  });

  it("binds each role to its own service account only", async () => {
    const manifests = await render();
    for (const binding of [...byKind(manifests, "ClusterRoleBinding"), ...byKind(manifests, "RoleBinding")]) {
      const subjects = binding["subjects"] as { kind: string; name: string; namespace: string }[];
      const role = (binding["roleRef"] as { name: string }).name;
      const expected = role.includes("agent") ? "dt-droptrace-agent" : "dt-droptrace-controller";
      expect(subjects, binding.metadata.name).toEqual([{ kind: "ServiceAccount", name: expected, namespace: "droptrace-system" }]);
    }
  });

  it("runs the controller unprivileged, non-root, with a read-only root and no capabilities", async () => {
    const [deployment] = byKind(await render(), "Deployment");
    const pod = (deployment?.["spec"] as { template: { spec: Record<string, unknown> } }).template.spec;
    expect(pod["securityContext"]).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } });
    const [container] = pod["containers"] as Record<string, unknown>[];
    expect(container?.["securityContext"]).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(container?.["resources"]).toEqual({ requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } });
    expect(container?.["livenessProbe"]).toMatchObject({ httpGet: { path: "/healthz", port: "metrics" } });
    expect(container?.["readinessProbe"]).toMatchObject({ httpGet: { path: "/readyz", port: "metrics" } });
    expect(pod["volumes"]).toBeUndefined();
  });

  it("renders nothing privileged and no host access: only the controller's agents get that", async () => {
    const text = JSON.stringify(await render());
    expect(text).not.toContain('"privileged":true');
    expect(text).not.toContain("hostPath");
    expect(text).not.toContain("hostNetwork");
    expect(text).not.toContain("hostPID");
  });

  it("hands the controller the agent's image, identity and settings", async () => {
    const [deployment] = byKind(await render(), "Deployment");
    const env = Object.fromEntries(
      (
        (deployment?.["spec"] as { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } }).template.spec.containers[0]?.env ?? []
      ).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      DROPTRACE_AGENT_IMAGE: "localhost/droptrace-agent:0.1.0",
      DROPTRACE_AGENT_SERVICE_ACCOUNT: "dt-droptrace-agent",
      DROPTRACE_AGENT_CACHE_PATH: "/var/cache/droptrace",
      DROPTRACE_AGENT_TOLERATIONS: "[]",
      DROPTRACE_LEADER_ELECT: "true",
      DROPTRACE_METRICS_PORT: "8080",
    });
    expect(JSON.parse(env["DROPTRACE_AGENT_RESOURCES"] ?? "{}")).toEqual({ requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "1Gi" } });
    expect(env).not.toHaveProperty("DROPTRACE_AGENT_PRIORITY_CLASS");
  });

  it("labels every object it creates", async () => {
    for (const m of await render()) {
      expect(m.metadata.labels, `${m.kind}/${m.metadata.name}`).toMatchObject({
        "app.kubernetes.io/name": "droptrace",
        "app.kubernetes.io/instance": "dt",
        "app.kubernetes.io/managed-by": "Helm",
      });
    }
  });

  it("creates no monitors unless asked", async () => {
    const manifests = await render();
    expect(byKind(manifests, "ServiceMonitor")).toEqual([]);
    expect(byKind(manifests, "PodMonitor")).toEqual([]);
  });
});

describe("rendered with value files", () => {
  it("ha.yaml: two replicas with leader election and the given images", async () => {
    const manifests = await render(["--values", path.join(VALUES_DIR, "ha.yaml")]);
    const [deployment] = byKind(manifests, "Deployment");
    const spec = deployment?.["spec"] as { replicas: number; template: { spec: { containers: { image: string; env: { name: string; value?: string }[] }[] } } };
    expect(spec.replicas).toBe(2);
    expect(spec.template.spec.containers[0]?.image).toBe("registry.example.com/net/droptrace-controller:0.1.0-rc1");
    expect(spec.template.spec.containers[0]?.env).toContainEqual({
      name: "DROPTRACE_AGENT_IMAGE",
      value: "registry.example.com/net/droptrace-agent:0.1.0-rc1",
    });
  });

  it("monitoring.yaml: a ServiceMonitor and a PodMonitor on the metrics port", async () => {
    const manifests = await render(["--values", path.join(VALUES_DIR, "monitoring.yaml")]);
    const [serviceMonitor] = byKind(manifests, "ServiceMonitor");
    expect(serviceMonitor?.metadata.labels).toMatchObject({ release: "kube-prometheus-stack" });
    expect(serviceMonitor?.["spec"]).toMatchObject({ endpoints: [{ port: "metrics", path: "/metrics", interval: "15s" }] });
    expect(byKind(manifests, "PodMonitor")).toHaveLength(1);
    const [service] = byKind(manifests, "Service");
    expect(service?.["spec"]).toMatchObject({ ports: [{ name: "metrics", port: 9090 }] });
  });

  it("agent-tuning.yaml: the agent settings reach the controller", async () => {
    const [deployment] = byKind(await render(["--values", path.join(VALUES_DIR, "agent-tuning.yaml")]), "Deployment");
    const env =
      (deployment?.["spec"] as { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } }).template.spec.containers[0]?.env ?? [];
    const value = (name: string) => env.find((e) => e.name === name)?.value;
    expect(value("DROPTRACE_AGENT_CACHE_PATH")).toBe("/var/lib/droptrace/modules");
    expect(value("DROPTRACE_AGENT_PRIORITY_CLASS")).toBe("system-node-critical");
    expect(JSON.parse(value("DROPTRACE_AGENT_TOLERATIONS") ?? "[]")).toEqual([{ key: "dedicated", operator: "Equal", value: "network", effect: "NoSchedule" }]);
    expect(value("DROPTRACE_LOG_LEVEL")).toBe("debug");
  });
});

describe("refused values", () => {
  it.each([
    [["--set", "controller.replica=2"], "additional properties 'replica' not allowed"],
    [["--set", "agent.cachePath=relative/path"], "cachePath"],
    [["--set", "controller.image.pullPolicy=Sometimes"], "pullPolicy"],
    [["--set", "controller.replicas=2", "--set", "controller.leaderElection.enabled=false"], "needs controller.leaderElection.enabled"],
  ])("%j fails the install with a message naming it", async (args, message) => {
    const result = await helm(["template", "dt", CHART_DIR, ...args]);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});

describe("the chart's CRDs", () => {
  it("are byte for byte the repository's crds/", () => {
    const top = path.resolve(CHART_DIR, "../../crds");
    const files = readdirSync(top)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    expect(readdirSync(path.join(CHART_DIR, "crds")).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(path.join(CHART_DIR, "crds", f), "utf8"), f).toBe(readFileSync(path.join(top, f), "utf8"));
  });

  it("are installed by helm (rendered with --include-crds)", async () => {
    const crds = byKind(await render(["--include-crds"]), "CustomResourceDefinition")
      .map((c) => c.metadata.name)
      .sort();
    expect(crds).toEqual(["droptracereports.droptrace.io", "droptraces.droptrace.io"]);
  });
});
