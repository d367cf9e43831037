import { describe, expect, it } from "vitest";
import { cpuPercent, formatPercent, nanosecondsPerHit, probeCostLine } from "../../src/api/probe-cost.js";

describe("the probe's cost", () => {
  it("is handler time per hit, and handler time as a share of all the node's CPUs", () => {
    expect(nanosecondsPerHit(14_814_000, 12_345)).toBe(1200);
    expect(nanosecondsPerHit(5, 0)).toBe(0);
    // 7.3% of 4 CPUs over one second: 292 ms of handler time.
    expect(cpuPercent(292_000_000, 1_000_000_000, 4)).toBe(7.3);
    expect(cpuPercent(120_000, 1_000_000_000, 4)).toBe(0.003);
    expect(cpuPercent(1, 0, 4)).toBe(0);
  });

  it("prints as much precision as a person reads", () => {
    expect([0, 0.004, 0.0312, 0.5, 7.3, 49.99].map(formatPercent)).toEqual(["0%", "<0.01%", "0.03%", "0.50%", "7.3%", "50.0%"]);
    expect(probeCostLine({ hits: 12_345, nanosecondsPerHit: 1200, cpuPercent: 0.0312 })).toBe(
      "probe: 12,345 hits, 1.2 µs per hit handler time, 0.03% of CPU (handler time excludes SystemTap's own entry and exit)",
    );
    expect(probeCostLine({ hits: 3, nanosecondsPerHit: 2_500_000, cpuPercent: 7.3, busiestNode: "n1" }, 1)).toContain(
      "2.5 ms per hit handler time, 7.3% of CPU (",
    );
  });
});
