// SystemTap's own words, captured on a real 7.2 kernel (test/fixtures/kernel-guest), each
// mapped to the reason and advice a user sees in the node's report.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { classifyProbeFailure, skippedProbes, systemTapOverload, type ProbeFailureReason } from "../../src/probe/failures.js";

const fixtures = path.resolve(import.meta.dirname, "../fixtures/kernel-guest");
const real = (file: string) => readFileSync(path.join(fixtures, file), "utf8");
const fallback = { reason: "ProbeExited" as const, message: "staprun exited" };

describe("classifyProbeFailure on real SystemTap output", () => {
  it.each([
    ["dt_overload.err", "ProbeOverload", "too much CPU"],
    ["dt_map_overflow.err", "ProbeError", "Array overflow"],
    ["dup-second.err", "ModuleInUse", "staprun -d"],
    ["modules-disabled.err", "ModuleRejected", "kernel.modules_disabled"],
    ["badsetting.err", "ProbeError", "bad interface pattern"],
  ] as [string, ProbeFailureReason, string][])("%s is %s", (file, reason, words) => {
    const failure = classifyProbeFailure(real(file), fallback);
    expect(failure.reason).toBe(reason);
    expect(failure.message).toContain(words);
  });

  it("keeps the fallback, with SystemTap's words, for text it does not know", () => {
    expect(classifyProbeFailure("something new went wrong\n", fallback)).toEqual({
      reason: "ProbeExited",
      message: "staprun exited; SystemTap said:\nsomething new went wrong",
    });
  });

  it("knows SystemTap's overload stop in both its wordings, and nothing else as one", () => {
    expect(systemTapOverload(real("dt_overload.err"))).toEqual({ cycles: 1504130, threshold: 200000, interval: 1000000 });
    // SystemTap before 5 (its translate.cxx's overload check) said only this.
    expect(systemTapOverload("ERROR: probe overhead exceeded threshold\n")).toEqual({});
    expect(classifyProbeFailure("ERROR: probe overhead exceeded threshold\n", fallback).reason).toBe("ProbeOverload");
    for (const file of ["dt_map_overflow.err", "dup-second.err", "modules-disabled.err", "badsetting.err", "flood.err"]) {
      expect(systemTapOverload(real(file)), file).toBeUndefined();
    }
    // A word alone is not SystemTap's stop: a probe's own error text may say it.
    expect(classifyProbeFailure("ERROR: droptrace: overhead too high in the tests\n", fallback).reason).toBe("ProbeError");
  });

  it("reads the skipped-probe count from the exit warning", () => {
    expect(skippedProbes(real("dt_overload.err"))).toBe(0);
    expect(skippedProbes("WARNING: Number of errors: 0, skipped probes: 73\n")).toBe(73);
  });
});
