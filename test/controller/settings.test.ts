import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { controllerCommand } from "../../src/controller/command.js";
import { CONTROLLER_ENV, controllerSettings } from "../../src/controller/settings.js";

const base = { POD_NAMESPACE: "droptrace-system", DROPTRACE_AGENT_IMAGE: "ghcr.io/example/droptrace:0.1.0" };

describe("the controller's settings", () => {
  it("keeps the environment names the Helm chart sets", () => {
    expect(Object.values(CONTROLLER_ENV).sort()).toEqual([
      "DROPTRACE_AGENT_CACHE_PATH",
      "DROPTRACE_AGENT_IMAGE",
      "DROPTRACE_AGENT_PRIORITY_CLASS",
      "DROPTRACE_AGENT_RESOURCES",
      "DROPTRACE_AGENT_SERVICE_ACCOUNT",
      "DROPTRACE_AGENT_TOLERATIONS",
      "DROPTRACE_LEADER_ELECT",
      "DROPTRACE_METRICS_PORT",
      "POD_NAME",
      "POD_NAMESPACE",
    ]);
  });

  it("has defaults for everything but the namespace and the agent image", () => {
    const s = controllerSettings({ ...base, POD_NAME: "droptrace-controller-7d9f" });
    expect(s).toMatchObject({
      namespace: "droptrace-system",
      agentImage: "ghcr.io/example/droptrace:0.1.0",
      agentServiceAccount: "droptrace-agent",
      agentCachePath: "/var/cache/droptrace",
      agentPriorityClass: undefined,
      agentTolerations: [],
      agentResources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
      leaderElect: true,
      metricsPort: 8080,
      kubeconfig: undefined,
    });
    expect(s.identity).toMatch(/^droptrace-controller-7d9f_[0-9a-f-]{36}$/);
  });

  it("reads JSON resources and tolerations, booleans and ports, and treats blank values as unset", () => {
    const s = controllerSettings({
      ...base,
      DROPTRACE_AGENT_RESOURCES: '{"requests":{"cpu":"50m"},"limits":{"memory":"512Mi"}}',
      DROPTRACE_AGENT_TOLERATIONS: '[{"operator":"Exists"}]',
      DROPTRACE_LEADER_ELECT: "false",
      DROPTRACE_METRICS_PORT: "9090",
      DROPTRACE_AGENT_PRIORITY_CLASS: "",
    });
    expect(s.agentResources).toEqual({ requests: { cpu: "50m" }, limits: { memory: "512Mi" } });
    expect(s.agentTolerations).toEqual([{ operator: "Exists" }]);
    expect(s.leaderElect).toBe(false);
    expect(s.metricsPort).toBe(9090);
    expect(s.agentPriorityClass).toBeUndefined();
    expect(controllerSettings({ ...base, DROPTRACE_AGENT_RESOURCES: " " }).agentResources.limits).toEqual({ cpu: "1", memory: "1Gi" });
  });

  it("lets flags win over the environment", () => {
    const s = controllerSettings(base, { namespace: "other", agentImage: "registry.local/droptrace:dev", metricsPort: "0", kubeconfig: "/tmp/kc" });
    expect([s.namespace, s.agentImage, s.metricsPort, s.kubeconfig]).toEqual(["other", "registry.local/droptrace:dev", 0, "/tmp/kc"]);
  });

  it("names each bad variable and what it wants", () => {
    expect(() => controllerSettings({})).toThrow(
      /POD_NAMESPACE: the namespace agents run in: set POD_NAMESPACE from the downward API, or pass --namespace; DROPTRACE_AGENT_IMAGE: the agent image/,
    );
    expect(() => controllerSettings({ ...base, DROPTRACE_AGENT_RESOURCES: "{cpu: 1}" })).toThrow(/DROPTRACE_AGENT_RESOURCES: must be JSON/);
    expect(() => controllerSettings({ ...base, DROPTRACE_AGENT_RESOURCES: '{"limits":{"memory":"lots"}}' })).toThrow(
      /DROPTRACE_AGENT_RESOURCES\.limits\.memory: a quantity/,
    );
    expect(() => controllerSettings({ ...base, DROPTRACE_AGENT_TOLERATIONS: '[{"operator":"Equal"}]' })).toThrow(
      /DROPTRACE_AGENT_TOLERATIONS\[0\]: operator must be Exists when key is empty/,
    );
    expect(() => controllerSettings({ ...base, DROPTRACE_LEADER_ELECT: "maybe" })).toThrow(/DROPTRACE_LEADER_ELECT/);
    expect(() => controllerSettings({ ...base, DROPTRACE_AGENT_CACHE_PATH: "cache" })).toThrow(/DROPTRACE_AGENT_CACHE_PATH: an absolute path on the node/);
  });
});

describe("droptrace controller with bad settings", () => {
  it("exits 2 with a message naming what to set, before touching any cluster", async () => {
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    expect(await controllerCommand({}, log, { POD_NAMESPACE: "droptrace-system" })).toBe(2);
    expect(lines.join("")).toContain("DROPTRACE_AGENT_IMAGE: the agent image: set DROPTRACE_AGENT_IMAGE or pass --agent-image");
  });
});
