import { describe, expect, it } from "vitest";
import { counterLines } from "../../src/cli/counters-text.js";

describe("the run table's kernel counter lines", () => {
  it("name the drops the probe could not see, what they are, and each check's verdict", () => {
    const lines = counterLines({
      netns: 4026531833,
      counters: [
        { name: "UdpNoPorts", count: 300 },
        { name: "RxFrameErrors", interface: "nic1", count: 20 },
        { name: "RxDropped", interface: "eth0", count: 3 },
      ],
      unseenDrops: 20,
      partlySeenDrops: 3,
      checks: [{ counter: "UdpNoPorts", kernel: 300, traced: 300, verdict: "agree", message: "" }],
    });
    expect(lines).toEqual([
      "",
      "Kernel drop counters over the trace (the node's own namespace, 4026531833):",
      "  20 drops the probe cannot see, in no row: RxFrameErrors nic1 20",
      expect.stringMatching(/^ {4}RxFrameErrors: frames the NIC refused/),
      "  3 in columns that mix such drops with traced ones: RxDropped eth0 3",
      "  UdpNoPorts 300, traced 300: agree",
    ]);
  });

  it("say when nothing was counted out of the probe's sight, and print nothing when the counters were not read", () => {
    expect(counterLines({ netns: 1, counters: [], unseenDrops: 0, partlySeenDrops: 0, checks: [] })).toContain(
      "  no drops counted where the probe cannot see them",
    );
    expect(counterLines(undefined)).toEqual([]);
  });
});
