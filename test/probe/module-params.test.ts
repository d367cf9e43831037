import { describe, expect, it } from "vitest";
import { moduleParams, type ModuleSettings } from "../../src/probe/module-params.js";

const base: ModuleSettings = { intervalSeconds: 10, interfaces: [], reasons: [], stacks: false, maxCpuPercent: 5, cpus: 8 };

describe("moduleParams", () => {
  it("always gives the guard its limit and the node's CPUs, and leaves stacks out when off", () => {
    expect(moduleParams(base)).toEqual(["interval_s=10", "max_cpu_pct=5", "cpus=8"]);
  });

  it("turns stacks on with stacks=1", () => {
    expect(moduleParams({ ...base, stacks: true, interfaces: ["eth0", "cali*"], reasons: [3, 12], maxCpuPercent: 50, cpus: 4096 })).toEqual([
      "interval_s=10",
      "interfaces=eth0,cali*",
      "reasons=3,12",
      "stacks=1",
      "max_cpu_pct=50",
      "cpus=4096",
    ]);
  });

  it.each([
    [{ maxCpuPercent: 0 }, "maxCpuPercent"],
    [{ maxCpuPercent: 51 }, "maxCpuPercent"],
    [{ maxCpuPercent: 2.5 }, "maxCpuPercent"],
    [{ cpus: 0 }, "cpus"],
    [{ cpus: 4097 }, "cpus"],
    [{ stacks: "1" as unknown as boolean }, "stacks"],
    [{ interfaces: ["eth0 stacks=1"] }, "interfaces"],
  ])("refuses %j: nothing unchecked reaches the module", (change, field) => {
    expect(() => moduleParams({ ...base, ...change })).toThrow(field);
  });
});
