import { describe, expect, it } from "vitest";
import { daemonSetName, labelValue, reportName, shortenName } from "../../src/api/names.js";

describe("object names", () => {
  it("keeps short names as they are", () => {
    expect(daemonSetName("all-nodes")).toBe("droptrace-all-nodes");
    expect(reportName("all-nodes", "worker-1")).toBe("all-nodes-worker-1");
    expect(labelValue("worker-1")).toBe("worker-1");
  });

  it("cuts long names to the limit and keeps them apart with a hash", () => {
    const a = daemonSetName(`${"x".repeat(70)}-a`);
    const b = daemonSetName(`${"x".repeat(70)}-b`);
    expect(a).toHaveLength(63);
    expect(b).toHaveLength(63);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^droptrace-x+-[0-9a-f]{10}$/);
  });

  it("never leaves a dash or dot before the hash", () => {
    const name = shortenName(`${"a".repeat(51)}.-.-${"b".repeat(20)}`, 63);
    expect(name).toMatch(/^a{51}-[0-9a-f]{10}$/);
  });

  it("fits a report of a long trace on a long node name into 253 characters", () => {
    const name = reportName("t".repeat(200), "n".repeat(200));
    expect(name).toHaveLength(253);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
});
