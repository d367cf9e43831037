// The CRD validator on its own, against the project's real CRDs and the test fixture.
import { describe, expect, it } from "vitest";
import { defaultCrdDir, loadCrds, validateCustomResource, type LoadedCrd } from "./crd.js";
import { fixtureCrdDir } from "./apiserver-test-helpers.js";

const crds = [...loadCrds(defaultCrdDir), ...loadCrds(fixtureCrdDir)];
const crd = (kind: string): LoadedCrd => {
  const found = crds.find((c) => c.kind === kind);
  if (found === undefined) throw new Error(`no CRD ${kind}`);
  return found;
};
const trace = (spec: unknown, name = "t") => ({ apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name }, spec });
const widget = (spec: unknown) => ({ apiVersion: "test.droptrace.io/v1", kind: "Widget", metadata: { name: "w", namespace: "default" }, spec });

describe("loadCrds", () => {
  it("reads the project's CRDs with their names, scope and subresources", () => {
    const dt = crd("DropTrace");
    expect([dt.name, dt.plural, dt.namespaced, dt.storageVersion.name, dt.storageVersion.statusSubresource]).toEqual([
      "droptraces.droptrace.io",
      "droptraces",
      false,
      "v1alpha1",
      true,
    ]);
    expect(crd("DropTraceReport").storageVersion.statusSubresource).toBe(false);
    expect(crd("Widget").namespaced).toBe(true);
  });
});

describe("validateCustomResource", () => {
  it("applies structural defaults, including inside defaulted values and list items", () => {
    const r = validateCustomResource(crd("Widget"), widget({ size: 1, parts: [{ name: "a" }, { name: "b", count: 3 }] }));
    expect(r.causes).toEqual([]);
    expect((r.object as { spec: unknown }).spec).toEqual({
      size: 1,
      color: "blue",
      parts: [
        { name: "a", count: 1 },
        { name: "b", count: 3 },
      ],
    });
  });

  it("drops a non-nullable null and defaults it, keeps a nullable one", () => {
    const r = validateCustomResource(crd("Widget"), widget({ size: 1, color: null, note: null }));
    expect((r.object as { spec: unknown }).spec).toEqual({ size: 1, color: "blue", note: null });
  });

  it("prunes unknown fields, everywhere but metadata's known fields, and reports them", () => {
    const r = validateCustomResource(crd("DropTrace"), { ...trace({ topN: 3, extra: 1 }), metadata: { name: "t", bogus: 1 }, top: 2 });
    expect(r.causes).toEqual([]);
    expect(r.unknownFields).toEqual(["metadata.bogus", "spec.extra", "top"]);
    expect(r.object).toEqual({
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTrace",
      metadata: { name: "t" },
      spec: { topN: 3, duration: "60s", tolerations: [{ operator: "Exists" }], stacks: false, maxProbeCPUPercent: 5 },
    });
  });

  it("reports unknown fields as causes in strict mode", () => {
    const r = validateCustomResource(crd("DropTrace"), trace({ extra: 1 }), undefined, { strict: true });
    expect(r.causes).toEqual([{ field: "spec.extra", reason: "FieldValueInvalid", message: 'Invalid value: "": unknown field "spec.extra"' }]);
  });

  it("words schema errors as kube-openapi does", () => {
    const r = validateCustomResource(
      crd("DropTrace"),
      trace({ topN: "many", duration: "1d", filter: { interfaces: ["abcdefghijklmnopq", "eth0", "eth0"] }, tolerations: [{ operator: "Sometimes" }] }),
    );
    expect(r.causes).toEqual(
      expect.arrayContaining([
        { field: "spec.topN", reason: "FieldValueTypeInvalid", message: 'Invalid value: "string": spec.topN in body must be of type integer: "string"' },
        {
          field: "spec.duration",
          reason: "FieldValueInvalid",
          message: `Invalid value: "1d": spec.duration in body should match '^([0-9]+h)?([0-9]+m)?([0-9]+s)?$'`,
        },
        { field: "spec.filter.interfaces[0]", reason: "FieldValueTooLong", message: "Too long: may not be more than 16 bytes" },
        { field: "spec.filter.interfaces[2]", reason: "FieldValueDuplicate", message: 'Duplicate value: "eth0"' },
        {
          field: "spec.tolerations[0].operator",
          reason: "FieldValueNotSupported",
          message: 'Unsupported value: "Sometimes": supported values: "Exists", "Equal"',
        },
      ]),
    );
  });

  it("reports a missing required field", () => {
    const r = validateCustomResource(crd("DropTraceReport"), {
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTraceReport",
      metadata: { name: "r" },
      spec: { trace: "t" },
    });
    expect(r.causes).toEqual([
      { field: "spec.node", reason: "FieldValueRequired", message: "Required value" },
      {
        field: "<nil>",
        reason: "FieldValueInvalid",
        message:
          'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      },
    ]);
  });

  it("evaluates CEL rules with their messages and field paths", () => {
    expect(validateCustomResource(crd("DropTrace"), trace({ duration: "25h" })).causes).toEqual([
      { field: "spec.duration", reason: "FieldValueInvalid", message: 'Invalid value: "string": duration must be between 5s and 24h' },
    ]);
    expect(validateCustomResource(crd("DropTrace"), trace({ tolerations: [{ key: "Bad Key!", operator: "Exists" }] })).causes).toEqual([
      {
        field: "spec.tolerations[0].key",
        reason: "FieldValueInvalid",
        message: `Invalid value: "object": key must be a qualified name such as 'example.com/dedicated'`,
      },
    ]);
  });

  it("skips transition rules on create and enforces them on update against the stored (defaulted) object", () => {
    const old = trace({ duration: "90s" });
    expect(validateCustomResource(crd("DropTrace"), trace({ duration: "90s", topN: 20 }), old).causes).toEqual([]);
    expect(validateCustomResource(crd("DropTrace"), trace({ duration: "2m" }), old).causes.map((x) => x.field)).toEqual(["spec"]);
    expect(validateCustomResource(crd("Widget"), widget({ size: 1 })).causes).toEqual([]);
    expect(validateCustomResource(crd("Widget"), widget({ size: 1 }), widget({ size: 2 })).causes.map((x) => x.message)).toEqual([
      'Invalid value: "integer": size may only grow',
    ]);
  });

  it("treats format: duration strings as CEL durations and checks the format", () => {
    expect(validateCustomResource(crd("Widget"), widget({ size: 1, timeout: "59m" })).causes).toEqual([]);
    expect(validateCustomResource(crd("Widget"), widget({ size: 1, timeout: "61m" })).causes.map((x) => x.message)).toEqual([
      'Invalid value: "string": timeout must be at most 1h',
    ]);
    expect(validateCustomResource(crd("Widget"), widget({ size: 1, timeout: "soon" })).causes).toEqual([
      expect.objectContaining({
        field: "spec.timeout",
        reason: "FieldValueTypeInvalid",
        message: 'Invalid value: "soon": spec.timeout in body must be of type duration: "soon"',
      }),
      expect.objectContaining({ field: "<nil>" }),
    ]);
  });

  it("reports duplicate keys of a map-type list", () => {
    const r = validateCustomResource(crd("Widget"), widget({ size: 1, parts: [{ name: "a" }, { name: "a" }] }));
    expect(r.causes[0]).toEqual({ field: "spec.parts[1]", reason: "FieldValueDuplicate", message: 'Duplicate value: map[string]interface {}{"name":"a"}' });
  });

  it("validates metadata.name as a DNS subdomain", () => {
    expect(validateCustomResource(crd("DropTrace"), trace({}, "ok.name-1")).causes).toEqual([]);
    const r = validateCustomResource(crd("DropTrace"), trace({}, "-bad"));
    expect(r.causes.map((x) => [x.field, x.reason])).toEqual([["metadata.name", "FieldValueInvalid"]]);
    expect(validateCustomResource(crd("DropTrace"), trace({}, "a".repeat(254))).causes[0]?.message).toMatch(/must be no more than 253 characters$/);
  });

  it("leaves its input untouched", () => {
    const input = trace({ topN: 3 });
    validateCustomResource(crd("DropTrace"), input);
    expect(input).toEqual(trace({ topN: 3 }));
  });
});
