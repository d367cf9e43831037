import { describe, expect, it } from "vitest";
import { carryOver } from "../../src/agent/carry-over.js";
import type { DropTraceReportStatus } from "../../src/api/report.js";
import type { ProbeCost } from "../../src/api/probe-cost.js";

const cost = (hits: number, ns: number, elapsed: number, peak: number, stackTableFull = 0): ProbeCost => ({
  hits,
  handlerNanoseconds: ns,
  elapsedNanoseconds: elapsed,
  cpus: 4,
  nanosecondsPerHit: hits === 0 ? 0 : ns / hits,
  cpuPercent: 0,
  peakIntervalCPUPercent: peak,
  notCounted: { mapFull: 0, skipped: 0, stackTableFull },
});

const status = (count: number, stacks: { count: number; frames: string[] }[], probeCost?: ProbeCost): DropTraceReportStatus => ({
  phase: "Running",
  intervals: 1,
  totalDrops: count,
  uncountedDrops: 0,
  otherRows: 0,
  otherDrops: 0,
  rows: [{ symbol: "udp_rcv+0x452", interface: "lo", netns: 1, module: "kernel", reason: "NO_SOCKET", class: "depends", count, stacks }],
  ...(probeCost === undefined ? {} : { probeCost }),
});

describe("carrying a restarted agent's earlier counts over", () => {
  it("sums a row's stacks by identical frames and keeps the most frequent", () => {
    const a = { count: 5, frames: ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0xab"] };
    const b = { count: 4, frames: ["udp_rcv+0x452", "veth_poll+0x2c1 [veth]"] };
    const merged = carryOver(status(9, [a, b]), status(6, [{ ...a, count: 6 }]), 1000);
    expect(merged.rows[0]).toMatchObject({ count: 15, stacks: [{ count: 11, frames: a.frames }, b] });
  });

  it("sums the probe's cost over both runs and recomputes its shares over the whole time", () => {
    const merged = carryOver(status(1, [], cost(1000, 300_000, 10e9, 0.2, 3)), status(1, [], cost(3000, 900_000, 30e9, 0.5, 1)), 1000);
    expect(merged.probeCost).toEqual({
      hits: 4000,
      handlerNanoseconds: 1_200_000,
      elapsedNanoseconds: 40e9,
      cpus: 4,
      nanosecondsPerHit: 300,
      // 1.2 ms over 40 s on 4 CPUs.
      cpuPercent: 0.0008,
      peakIntervalCPUPercent: 0.5,
      notCounted: { mapFull: 0, skipped: 0, stackTableFull: 4 },
    });
    expect(carryOver(status(1, []), status(1, [], cost(10, 3000, 1e9, 0.1)), 1000).probeCost?.hits).toBe(10);
  });
});
