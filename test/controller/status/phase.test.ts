import { describe, expect, it } from "vitest";
import { statusWriteTiming } from "../../../src/controller/status/write-timing.js";
import { countNodes, type NodeState } from "../../../src/controller/status/node-states.js";
import { decidePhase } from "../../../src/controller/status/phase.js";

const nodes = (...phases: NodeState["phase"][]) => phases.map((phase, i): NodeState => ({ node: `n${i}`, phase, totalDrops: 0 }));
const NOW = 1_000_000;

function decide(reported: NodeState[], desiredScheduled: number | undefined, deadlineMs = NOW + 60_000) {
  return decidePhase({ counts: countNodes(reported, desiredScheduled), reported: reported.length, desiredScheduled, nowMs: NOW, deadlineMs });
}

describe("the phase of a running trace", () => {
  it("is Pending until the first report, then Running", () => {
    expect(decide([], undefined)).toEqual({ phase: "Pending", reason: "WaitingForAgents" });
    expect(decide([], 3)).toEqual({ phase: "Pending", reason: "WaitingForAgents" });
    expect(decide(nodes("Pending"), 3)).toEqual({ phase: "Running", reason: "Tracing" });
  });

  it("completes when every wanted node has a final report", () => {
    expect(decide(nodes("Completed", "Completed", "Running"), 3)).toEqual({ phase: "Running", reason: "Tracing" });
    expect(decide(nodes("Completed", "Failed", "Completed"), 3)).toEqual({ phase: "Completed", reason: "AllNodesDone" });
  });

  it("does not complete on the first quick node before the DaemonSet has counted its nodes", () => {
    expect(decide(nodes("Completed"), undefined)).toEqual({ phase: "Running", reason: "Tracing" });
  });

  it("fails when every node failed", () => {
    expect(decide(nodes("Failed", "Failed"), 2)).toEqual({ phase: "Failed", reason: "AllNodesFailed" });
  });

  it("at the deadline completes with what it has, or fails when no node produced counts", () => {
    const past = NOW - 1;
    expect(decide(nodes("Completed", "Running"), 5, past)).toEqual({ phase: "Completed", reason: "DeadlinePassed" });
    expect(decide(nodes("Failed"), 5, past)).toEqual({ phase: "Failed", reason: "AllNodesFailed" });
    expect(decide(nodes("Pending"), 5, past)).toEqual({ phase: "Failed", reason: "NoNodesReported" });
    expect(decide([], 5, past)).toEqual({ phase: "Failed", reason: "NoNodesReported" });
    expect(decide([], undefined, past)).toEqual({ phase: "Failed", reason: "NoNodesReported" });
    expect(decide([], 0, past)).toEqual({ phase: "Failed", reason: "NoNodesSelected" });
  });
});

describe("when status may be written", () => {
  it("at once for urgent news or the first write; else once the interval since the last write has passed", () => {
    expect(statusWriteTiming({ urgent: true, lastWriteAtMs: NOW - 1, intervalMs: 10_000, nowMs: NOW })).toEqual({ writeNow: true });
    expect(statusWriteTiming({ urgent: false, lastWriteAtMs: undefined, intervalMs: 10_000, nowMs: NOW })).toEqual({ writeNow: true });
    expect(statusWriteTiming({ urgent: false, lastWriteAtMs: NOW - 4_000, intervalMs: 10_000, nowMs: NOW })).toEqual({ writeNow: false, waitMs: 6_000 });
    expect(statusWriteTiming({ urgent: false, lastWriteAtMs: NOW - 10_000, intervalMs: 10_000, nowMs: NOW })).toEqual({ writeNow: true });
  });
});
