// The zod schemas (src/api) and the CRDs (crds/) must accept and refuse the same objects,
// name the same fields, and apply the same defaults. Every case of the corpus runs through
// both: the CRD side with its structural schema and its CEL rules really evaluated.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { DropTraceSchema, INTERFACE_PATTERN, specChanged, TOP_N_BOUNDS, TOP_N_DEFAULT } from "../../src/api/droptrace.js";
import { DropTraceReportSchema, REASON_PATTERN } from "../../src/api/report.js";
import { KNOWN_DROP_REASONS } from "../../src/api/drop-reasons.js";
import { KERNEL_COUNTER_NAMES } from "../../src/api/kernel-counters.js";
import { DROP_CLASSES, MAX_EXPLAINED_REASONS, MAX_EXPLANATION_TEXT } from "../../src/api/drop-explanations.js";
import { DURATION_PATTERN } from "../../src/api/duration.js";
import { MAX_PROBE_CPU_PERCENT_BOUNDS, MAX_PROBE_CPU_PERCENT_DEFAULT } from "../../src/api/probe-cost.js";
import { MAX_FRAME_LENGTH, MAX_STACK_FRAMES, MAX_STACKS_PER_ROW } from "../../src/api/stacks.js";
import { fieldErrors } from "../../src/api/field-errors.js";
import { DROPTRACE, DROPTRACE_REPORT, MAX_REPORT_ROWS } from "../../src/api/constants.js";
import { loadCrds, validateCustomResource, type LoadedCrd } from "../support/crd/index.js";
import { expectedVerdicts, loadCorpus } from "./corpus.js";

const crds = loadCrds();
function crdFor(kind: string): LoadedCrd {
  const crd = crds.find((c) => c.kind === kind);
  if (!crd) throw new Error(`no CRD for ${kind} in crds/`);
  return crd;
}

interface Verdict {
  valid: boolean;
  fields: string[];
  /** The object's spec after defaults, when valid. */
  spec?: unknown;
}

function throughCrd(kind: string, object: unknown, old?: unknown): Verdict {
  const result = validateCustomResource(crdFor(kind), structuredClone(object), old === undefined ? undefined : structuredClone(old), {
    strict: true,
  });
  const fields = [...result.causes.map((c) => c.field), ...result.unknownFields];
  const spec = (result.object as { spec?: unknown } | undefined)?.spec;
  return { valid: fields.length === 0, fields, spec };
}

function throughZod(kind: string, object: unknown, old?: unknown): Verdict {
  const schema = kind === DROPTRACE.kind ? DropTraceSchema : DropTraceReportSchema;
  const result = schema.safeParse(structuredClone(object));
  if (!result.success) return { valid: false, fields: fieldErrors(result.error).map((e) => e.field) };
  if (old !== undefined) {
    const before = schema.safeParse(structuredClone(old));
    if (before.success && specChanged(before.data.spec, result.data.spec)) return { valid: false, fields: ["spec"] };
  }
  return { valid: true, fields: [], spec: result.data.spec };
}

const corpus = loadCorpus();
const namesField = (fields: string[], field: string) => fields.some((f) => f === field || f.startsWith(`${field}.`) || f.startsWith(`${field}[`));

describe("zod and the CRDs agree on every corpus case", () => {
  it.each(corpus.map((c) => [c.case, c] as const))("%s", (_name, c) => {
    const expected = expectedVerdicts(c);
    const crd = throughCrd(c.kind, c.object, c.old);
    const zod = throughZod(c.kind, c.object, c.old);

    expect(
      { crd: crd.valid ? "valid" : "invalid", zod: zod.valid ? "valid" : "invalid" },
      `CRD fields ${crd.fields.join(", ")}; zod fields ${zod.fields.join(", ")}`,
    ).toEqual(expected);
    if (c.field !== undefined) {
      if (!crd.valid) expect(crd.fields, "the CRD names the field").toSatisfy((f: string[]) => namesField(f, c.field ?? ""));
      if (!zod.valid) expect(zod.fields, "zod names the field").toSatisfy((f: string[]) => namesField(f, c.field ?? ""));
    }
    if (crd.valid && zod.valid) {
      expect(zod.spec, "both apply the same defaults").toEqual(crd.spec);
      if (c.defaulted !== undefined) expect(crd.spec).toEqual(c.defaulted);
    }
  });
});

describe("the corpus covers what it must", () => {
  const hostile = (pattern: RegExp) => corpus.filter((c) => pattern.test(c.case) && expectedVerdicts(c).crd === "invalid");

  it("holds at least 40 cases, valid and invalid, for both kinds", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    expect(corpus.filter((c) => c.expect === "valid").length).toBeGreaterThanOrEqual(10);
    expect(corpus.filter((c) => c.kind === DROPTRACE_REPORT.kind).length).toBeGreaterThanOrEqual(5);
  });

  it("refuses each hostile kind of input", () => {
    for (const pattern of [/interface with a space/, /quote/, /semicolon/, /newline/, /command substitution/, /16 characters/]) {
      expect(hostile(pattern), String(pattern)).not.toHaveLength(0);
    }
    for (const d of ["0s", "4s", "24h1s", "-5s", "1.5h"]) {
      expect(
        corpus.some((c) => (c.object["spec"] as { duration?: unknown } | undefined)?.duration === d && c.expect === "invalid"),
        d,
      ).toBe(true);
    }
    expect(hostile(/topN of 0/)).toHaveLength(1);
    expect(hostile(/topN of 201/)).toHaveLength(1);
    expect(hostile(/maxProbeCPUPercent of 0$/)).toHaveLength(1);
    expect(hostile(/maxProbeCPUPercent of 51/)).toHaveLength(1);
    expect(hostile(/^stacks as/).length).toBe(2);
    expect(hostile(/unknown field/).length).toBeGreaterThanOrEqual(3);
    expect(hostile(/^reason /).length).toBeGreaterThanOrEqual(4);
  });

  it("keeps documented splits rare", () => {
    // Label keys of a map, which CEL cannot check within the API server's cost budget: nodeSelector's and podSelector.matchLabels'.
    expect(corpus.filter((c) => c.expect === undefined).map((c) => c.case)).toHaveLength(2);
  });
});

/** A report whose status is a Running one with no rows, changed by `status`. */
function reportWith(status: Record<string, unknown>) {
  return {
    apiVersion: "droptrace.io/v1alpha1",
    kind: "DropTraceReport",
    metadata: { name: "t-n" },
    spec: { trace: "t", node: "n" },
    status: { phase: "Running", intervals: 1, totalDrops: 0, uncountedDrops: 0, otherRows: 0, otherDrops: 0, rows: [], ...status },
  };
}

describe("cases too large for the corpus", () => {
  it("both refuse a report over the row cap", () => {
    const row = { symbol: "udp_rcv+0x452", interface: "lo", netns: 1, module: "kernel", reason: "NO_SOCKET", class: "depends", count: 1 };
    const report = (rows: number) => reportWith({ totalDrops: rows, rows: Array.from({ length: rows }, () => row) });
    expect(throughCrd(DROPTRACE_REPORT.kind, report(MAX_REPORT_ROWS)).valid).toBe(true);
    expect(throughZod(DROPTRACE_REPORT.kind, report(MAX_REPORT_ROWS)).valid).toBe(true);
    expect(throughCrd(DROPTRACE_REPORT.kind, report(MAX_REPORT_ROWS + 1)).fields).toContain("status.rows");
    expect(throughZod(DROPTRACE_REPORT.kind, report(MAX_REPORT_ROWS + 1)).fields).toContain("status.rows");
  });

  it("both take a report's kernel counters, and refuse a counter the catalogue does not name", () => {
    const withCounters = (name: string) =>
      reportWith({
        phase: "Completed",
        kernelCounters: {
          netns: 4026531833,
          counters: [{ name, interface: "eth0", count: 3 }],
          unseenDrops: 3,
          partlySeenDrops: 0,
          checks: [{ counter: "UdpNoPorts", kernel: 0, traced: 0, verdict: "agree", message: "UdpNoPorts counted 0, the probe 0 as NO_SOCKET: they agree" }],
        },
      });
    expect(throughCrd(DROPTRACE_REPORT.kind, withCounters("RxFifoErrors")).valid).toBe(true);
    expect(throughZod(DROPTRACE_REPORT.kind, withCounters("RxFifoErrors")).valid).toBe(true);
    expect(throughCrd(DROPTRACE_REPORT.kind, withCounters("RxBogus")).fields).toContain("status.kernelCounters.counters[0].name");
    expect(throughZod(DROPTRACE_REPORT.kind, withCounters("RxBogus")).fields).toContain("status.kernelCounters.counters[0].name");
  });
});

describe("reports of agents older than the class field", () => {
  it("both take rows without a class (a 0.1 agent's), which the controller classes itself", () => {
    const old = reportWith({ totalDrops: 3, rows: [{ symbol: "udp_rcv+0x452", interface: "lo", netns: 1, module: "kernel", reason: "NO_SOCKET", count: 3 }] });
    expect(throughCrd(DROPTRACE_REPORT.kind, old).valid).toBe(true);
    expect(throughZod(DROPTRACE_REPORT.kind, old).valid).toBe(true);
  });
});

describe("the constants the corpus cannot enumerate", () => {
  const specProps = crdFor(DROPTRACE.kind).storageVersion.schema.properties?.["spec"]?.properties ?? {};

  it("the CRD's reason enum is exactly the known drop reasons", () => {
    expect(specProps["filter"]?.properties?.["reasons"]?.items?.enum).toEqual([...KNOWN_DROP_REASONS]);
  });

  it("the CRDs' counter enums are exactly the counter catalogue", () => {
    const counters = crdFor(DROPTRACE_REPORT.kind).storageVersion.schema.properties?.["status"]?.properties?.["kernelCounters"]?.properties ?? {};
    expect(counters["counters"]?.items?.properties?.["name"]?.enum).toEqual([...KERNEL_COUNTER_NAMES]);
    expect(counters["checks"]?.items?.properties?.["counter"]?.enum).toEqual([...KERNEL_COUNTER_NAMES]);
    const status = crdFor(DROPTRACE.kind).storageVersion.schema.properties?.["status"]?.properties?.["kernelCounters"]?.properties ?? {};
    expect(status["counters"]?.items?.properties?.["name"]?.enum).toEqual([...KERNEL_COUNTER_NAMES]);
    expect(status["checks"]?.items?.properties?.["counter"]?.enum).toEqual([...KERNEL_COUNTER_NAMES]);
  });

  it("the CRD's patterns are the ones the schemas use", () => {
    expect(specProps["duration"]?.pattern).toBe(DURATION_PATTERN);
    expect(specProps["reportInterval"]?.pattern).toBe(DURATION_PATTERN);
    expect(specProps["filter"]?.properties?.["interfaces"]?.items?.pattern).toBe(INTERFACE_PATTERN);
    const reportStatus = crdFor(DROPTRACE_REPORT.kind).storageVersion.schema.properties?.["status"]?.properties ?? {};
    expect(reportStatus["reason"]?.pattern).toBe(REASON_PATTERN);
  });

  it("the CRDs' row classes and the status's explanations have the schemas' values and bounds", () => {
    const status = crdFor(DROPTRACE.kind).storageVersion.schema.properties?.["status"]?.properties ?? {};
    const reportStatus = crdFor(DROPTRACE_REPORT.kind).storageVersion.schema.properties?.["status"]?.properties ?? {};
    expect(status["drops"]?.items?.properties?.["class"]?.enum).toEqual([...DROP_CLASSES]);
    expect(reportStatus["rows"]?.items?.properties?.["class"]?.enum).toEqual([...DROP_CLASSES]);
    const explanations = status["explanations"];
    expect(explanations?.maxItems).toBe(MAX_EXPLAINED_REASONS);
    expect(explanations?.items?.properties?.["class"]?.enum).toEqual([...DROP_CLASSES]);
    expect(explanations?.items?.properties?.["meaning"]?.maxLength).toBe(MAX_EXPLANATION_TEXT);
    expect(explanations?.items?.properties?.["nextStep"]?.maxLength).toBe(MAX_EXPLANATION_TEXT);
  });

  it("the CRD's topN bounds and default are the schema's", () => {
    expect(specProps["topN"]).toMatchObject({ minimum: TOP_N_BOUNDS.min, maximum: TOP_N_BOUNDS.max, default: TOP_N_DEFAULT });
  });

  it("the CRD's CPU limit bounds and default, and the stacks' bounds in both CRDs, are the schemas'", () => {
    expect(specProps["maxProbeCPUPercent"]).toMatchObject({
      minimum: MAX_PROBE_CPU_PERCENT_BOUNDS.min,
      maximum: MAX_PROBE_CPU_PERCENT_BOUNDS.max,
      default: MAX_PROBE_CPU_PERCENT_DEFAULT,
    });
    expect(specProps["stacks"]).toMatchObject({ type: "boolean", default: false });
    const statusRows = crdFor(DROPTRACE.kind).storageVersion.schema.properties?.["status"]?.properties?.["drops"]?.items?.properties ?? {};
    const reportRows = crdFor(DROPTRACE_REPORT.kind).storageVersion.schema.properties?.["status"]?.properties?.["rows"]?.items?.properties ?? {};
    for (const stacks of [statusRows["stacks"], reportRows["stacks"]]) {
      expect(stacks?.maxItems).toBe(MAX_STACKS_PER_ROW);
      expect(stacks?.items?.properties?.["frames"]).toMatchObject({ minItems: 1, maxItems: MAX_STACK_FRAMES });
      expect(stacks?.items?.properties?.["frames"]?.items?.maxLength).toBe(MAX_FRAME_LENGTH);
    }
  });
});

describe("examples/", () => {
  const dir = path.resolve(import.meta.dirname, "../../examples");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));

  it("has examples", () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)("%s is valid for both the CRD and the schemas", (file) => {
    const object: unknown = parse(readFileSync(path.join(dir, file), "utf8"));
    expect(throughCrd(DROPTRACE.kind, object).fields).toEqual([]);
    expect(throughZod(DROPTRACE.kind, object).fields).toEqual([]);
  });
});
