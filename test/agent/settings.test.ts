import { describe, expect, it } from "vitest";
import { AGENT_ENV } from "../../src/api/agent-env.js";
import { agentSettingsFromEnv, AgentSettingsError } from "../../src/agent/settings.js";

const env = (more: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  [AGENT_ENV.trace]: "t",
  [AGENT_ENV.traceUid]: "uid-1",
  [AGENT_ENV.node]: "worker-1",
  [AGENT_ENV.duration]: "60s",
  ...more,
});

describe("the agent's stack and CPU-limit settings", () => {
  it("default to no stacks and a 5% limit, as a DropTrace's spec does", () => {
    expect(agentSettingsFromEnv(env())).toMatchObject({ stacks: false, maxProbeCPUPercent: 5 });
  });

  it("take the values the controller's DaemonSet sets", () => {
    expect(agentSettingsFromEnv(env({ [AGENT_ENV.stacks]: "true", [AGENT_ENV.maxProbeCPUPercent]: "12" }))).toMatchObject({
      stacks: true,
      maxProbeCPUPercent: 12,
    });
    expect(agentSettingsFromEnv(env({ [AGENT_ENV.stacks]: "false" }))).toMatchObject({ stacks: false });
  });

  it.each([
    [{ [AGENT_ENV.stacks]: "yes" }, AGENT_ENV.stacks],
    [{ [AGENT_ENV.maxProbeCPUPercent]: "five" }, AGENT_ENV.maxProbeCPUPercent],
    [{ [AGENT_ENV.maxProbeCPUPercent]: "0" }, "spec.maxProbeCPUPercent"],
    [{ [AGENT_ENV.maxProbeCPUPercent]: "51" }, "spec.maxProbeCPUPercent"],
  ])("refuses %j, naming it", (more, name) => {
    expect(() => agentSettingsFromEnv(env(more))).toThrow(AgentSettingsError);
    expect(() => agentSettingsFromEnv(env(more))).toThrow(name);
  });
});
