import { describe, expect, it } from "vitest";
import { MAX_NODE_SUMMARY } from "../../../src/api/constants.js";
import { countNodes, failuresByReason, nodeProgress, summarizeNodes, type NodeState } from "../../../src/controller/status/node-states.js";

const n = (node: string, phase: NodeState["phase"], totalDrops = 0, reason?: string): NodeState => ({
  node,
  phase,
  totalDrops,
  ...(reason === undefined ? {} : { reason }),
});

describe("node counts", () => {
  it("counts nodes by their report's phase; wanted nodes without a report are pending", () => {
    const counts = countNodes([n("a", "Running"), n("b", "Completed"), n("c", "Failed"), n("d", "Pending")], 6);
    expect(counts).toEqual({ desired: 6, pending: 3, running: 1, completed: 1, failed: 1 });
    expect(nodeProgress(counts)).toBe("2/6");
  });

  it("takes the reports' count as desired until the DaemonSet has counted, or when it counted fewer", () => {
    expect(countNodes([n("a", "Running"), n("b", "Running")], undefined).desired).toBe(2);
    expect(countNodes([n("a", "Running"), n("b", "Running")], 1).desired).toBe(2);
    expect(countNodes([], undefined)).toEqual({ desired: 0, pending: 0, running: 0, completed: 0, failed: 0 });
  });
});

describe("the node summary", () => {
  it("lists failing nodes first, then nodes that never reported, then the rest by drops", () => {
    const { nodeSummary, omitted } = summarizeNodes(
      [n("quiet", "Completed", 1), n("z-broken", "Failed", 0, "CompileFailed"), n("busy", "Running", 500), n("a-broken", "Failed", 3, "HeadersMissing")],
      [{ node: "silent-2" }, { node: "silent-1" }],
    );
    expect(nodeSummary.map((s) => [s.node, s.phase])).toEqual([
      ["a-broken", "Failed"],
      ["z-broken", "Failed"],
      ["silent-1", "NotReporting"],
      ["silent-2", "NotReporting"],
      ["busy", "Running"],
      ["quiet", "Completed"],
    ]);
    expect(nodeSummary[0]).toEqual({ node: "a-broken", phase: "Failed", reason: "HeadersMissing", totalDrops: 3 });
    expect(omitted).toBe(0);
  });

  it(`stays at ${MAX_NODE_SUMMARY} entries on 5,000 nodes, keeping every failing node it can`, () => {
    const nodes = Array.from({ length: 5_000 }, (_, i) =>
      n(`node-${String(i).padStart(4, "0")}`, i % 1000 === 7 ? "Failed" : "Completed", i, i % 1000 === 7 ? "HeadersMissing" : undefined),
    );
    const { nodeSummary, omitted } = summarizeNodes(nodes, []);
    expect(nodeSummary).toHaveLength(MAX_NODE_SUMMARY);
    expect(omitted).toBe(5_000 - MAX_NODE_SUMMARY);
    expect(nodeSummary.slice(0, 5).map((s) => s.node)).toEqual(["node-0007", "node-1007", "node-2007", "node-3007", "node-4007"]);
    expect(nodeSummary[5]?.node).toBe("node-4999");
  });

  it("groups failures by reason, the most common first", () => {
    const groups = failuresByReason([
      n("c", "Failed", 0, "HeadersMissing"),
      n("a", "Failed", 0, "CompileFailed"),
      n("b", "Failed", 0, "HeadersMissing"),
      n("d", "Running"),
    ]);
    expect([...groups.entries()]).toEqual([
      ["HeadersMissing", ["b", "c"]],
      ["CompileFailed", ["a"]],
    ]);
  });
});
