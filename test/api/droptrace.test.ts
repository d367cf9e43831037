import { describe, expect, it } from "vitest";
import { DropTraceSpecSchema, effectiveReportIntervalSeconds, specChanged } from "../../src/api/droptrace.js";
import { describeFieldErrors, fieldErrors } from "../../src/api/field-errors.js";
import { DropTraceReportSchema } from "../../src/api/report.js";

describe("DropTrace spec defaults", () => {
  it("fills duration, topN, tolerate-everything, no stacks and a 5% CPU limit", () => {
    expect(DropTraceSpecSchema.parse({})).toEqual({ duration: "60s", topN: 20, tolerations: [{ operator: "Exists" }], stacks: false, maxProbeCPUPercent: 5 });
  });

  it.each([
    [{}, 10],
    [{ duration: "7s" }, 7],
    [{ duration: "1h" }, 10],
    [{ duration: "1h", reportInterval: "5m" }, 300],
    [{ duration: "5s", reportInterval: "5s" }, 5],
  ])("reports %j every %i seconds", (spec, seconds) => {
    expect(effectiveReportIntervalSeconds(DropTraceSpecSchema.parse(spec))).toBe(seconds);
  });
});

describe("field errors", () => {
  it("spells paths as the API server does and names unknown fields", () => {
    const result = DropTraceSpecSchema.safeParse({ filter: { interfaces: ["ok", "bad name"], ports: [1] }, topN: 0 });
    expect(result.success).toBe(false);
    if (result.success) return;
    const errors = fieldErrors(result.error, "spec");
    expect(errors.map((e) => e.field).sort()).toEqual(["spec.filter.interfaces[1]", "spec.filter.ports", "spec.topN"]);
    expect(errors.find((e) => e.field === "spec.filter.ports")?.message).toBe("unknown field");
    expect(describeFieldErrors(errors)).toContain("spec.topN: ");
  });
});

describe("specChanged", () => {
  it("sees any change, including in lists and nested filters", () => {
    const spec = DropTraceSpecSchema.parse({ filter: { interfaces: ["eth0"] } });
    expect(specChanged(spec, structuredClone(spec))).toBe(false);
    expect(specChanged(spec, { ...spec, filter: { interfaces: ["eth1"] } })).toBe(true);
    expect(specChanged(spec, { ...spec, topN: 21 })).toBe(true);
  });
});

describe("DropTraceReport", () => {
  it("keeps netns inodes and counts beyond 32 bits exactly", () => {
    const report = DropTraceReportSchema.parse({
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTraceReport",
      metadata: { name: "t-n" },
      spec: { trace: "t", node: "n" },
      status: {
        phase: "Completed",
        intervals: 3,
        totalDrops: 2 ** 40,
        uncountedDrops: 0,
        otherRows: 0,
        otherDrops: 0,
        rows: [{ symbol: "udp_rcv+0x452", interface: "lo", netns: 4026531840, module: "kernel", reason: "NO_SOCKET", class: "depends", count: 2 ** 40 }],
      },
    });
    expect(report.status?.rows[0]?.netns).toBe(4026531840);
    expect(report.status?.totalDrops).toBe(2 ** 40);
  });
});
