import { describe, expect, it } from "vitest";
import { overloadMessage } from "../../src/trace/overload.js";

describe("what a node says when its probe stopped for its CPU cost", () => {
  it("names the guard's measured share and the limit, and how long it traced", () => {
    expect(overloadMessage({ guard: { sharePpm: 73_000, limitPercent: 5 }, systemTapStderr: "", stoppedAfterMs: 41_400, finished: true })).toBe(
      "the probe used 7.3% of the node's CPU (limit 5%, spec.maxProbeCPUPercent): stopped after 41 s; counts so far are kept",
    );
  });

  it("names SystemTap's own measurement, or says it did not give one, and says when the last interval is missing", () => {
    const stderr = "ERROR: probe overhead (600000000 cycles) exceeded threshold (500000000 cycles) in last 1000000000 cycles\n";
    expect(overloadMessage({ guard: undefined, systemTapStderr: stderr, stoppedAfterMs: 3_000, finished: false })).toBe(
      "SystemTap stopped the probe: its handlers took 60.0% of one CPU (600000000 of the last 1000000000 cycles), over SystemTap's own threshold of 50.0%: " +
        "stopped after 3 s; counts so far are kept, but the probe stopped before printing its last interval, so its counts are missing",
    );
    expect(overloadMessage({ guard: undefined, systemTapStderr: "ERROR: probe overhead exceeded threshold\n", stoppedAfterMs: 0, finished: true })).toBe(
      "SystemTap stopped the probe: its handlers passed SystemTap's own overhead threshold: stopped after 0 s; counts so far are kept",
    );
  });
});
