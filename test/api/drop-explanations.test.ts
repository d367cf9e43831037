// Every drop reason a row can carry has an explanation, and no explanation is for a name nothing
// knows: the table, the reason names a DropTrace may filter on (zod's and the CRD's enum), and the
// reason tables of the real kernels the agent reads (the shared fixtures' tracefs formats) must all
// name the same reasons. A kernel's new reason then fails here until someone explains it.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DROP_CLASSES, DROP_EXPLANATIONS, dropClass, explainDrop, explanationsFor, MAX_EXPLANATION_TEXT } from "../../src/api/drop-explanations.js";
import { KNOWN_DROP_REASONS, NO_REASON } from "../../src/api/drop-reasons.js";
import { DROPTRACE } from "../../src/api/constants.js";
import { parseKfreeSkbFormat } from "../../src/trace/kernel-reasons.js";
import { defaultCrdDir, loadCrds } from "../support/crd/index.js";
import { readFixture, type KernelFixture } from "../trace/fixture.js";

const KERNELS: KernelFixture[] = ["kernel-6.1-udp", "kernel-6.12-udp", "kernel-7.2-udp-neigh"];
/** The enum's end marker, in every kernel's table: not a reason a packet is dropped with. */
const END_MARKER = "MAX";

const explained = new Set(Object.keys(DROP_EXPLANATIONS));
const kernelNames = new Map(KERNELS.map((k) => [k, parseKfreeSkbFormat(readFixture("kfree_skb.format", k)).names.filter((n) => n !== END_MARKER)]));
/** The CRDs as installed from the repository and as the chart installs them. */
const CRD_DIRS = { "crds/": defaultCrdDir, "charts/droptrace/crds/": path.resolve(defaultCrdDir, "../charts/droptrace/crds") };
const crdReasonEnum = (dir: string): unknown => {
  const crd = loadCrds(dir).find((c) => c.kind === DROPTRACE.kind);
  return crd?.storageVersion.schema.properties?.["spec"]?.properties?.["filter"]?.properties?.["reasons"]?.items?.enum;
};
const missing = (names: Iterable<string>) => [...names].filter((n) => !explained.has(n));

describe("the table of drop explanations", () => {
  it("explains every reason a DropTrace may filter on, and the rows of kernels without reasons", () => {
    expect(missing(KNOWN_DROP_REASONS)).toEqual([]);
    expect(explained.has(NO_REASON)).toBe(true);
  });

  it.each(Object.entries(CRD_DIRS))("explains every reason in the enum of the DropTrace CRD in %s", (_, dir) => {
    const names = crdReasonEnum(dir);
    expect(Array.isArray(names) && names.length > 100).toBe(true);
    expect(missing(names as string[])).toEqual([]);
  });

  it.each(KERNELS)("explains every reason of %s's kfree_skb table, as the agent reads it", (kernel) => {
    const names = kernelNames.get(kernel) ?? [];
    expect(names.length).toBeGreaterThan(60);
    expect(missing(names)).toEqual([]);
  });

  it("has no entry for a name that neither the kernels nor the API know", () => {
    const known = new Set<string>([...KNOWN_DROP_REASONS, NO_REASON, ...[...kernelNames.values()].flat()]);
    expect([...explained].filter((n) => !known.has(n))).toEqual([]);
    // And the API's list is exactly what the kernels know between them, old names included.
    expect(new Set(KNOWN_DROP_REASONS)).toEqual(new Set([...kernelNames.values()].flat()));
  });

  it("gives each entry a class, one sentence of meaning and at most one of next step, short enough for status", () => {
    for (const [reason, entry] of Object.entries(DROP_EXPLANATIONS)) {
      expect(
        DROP_CLASSES.filter((c) => c !== "unknown"),
        reason,
      ).toContain(entry.class);
      for (const text of [entry.meaning, ...(entry.nextStep === undefined ? [] : [entry.nextStep])]) {
        expect(text.length, `${reason}: ${text}`).toBeLessThanOrEqual(MAX_EXPLANATION_TEXT);
        expect(text, reason).toMatch(/^[A-Za-z][^\n]*[.)]$/);
        // One sentence: no full stop followed by a new sentence inside.
        expect(text, reason).not.toMatch(/\. [A-Z]/);
        // Words for people who run clusters, not the kernel's variable names.
        expect(text, reason).not.toMatch(/\bskb\b|sk_buff/);
      }
    }
  });

  it("says where to look next for every reason that is not usually normal", () => {
    expect(Object.entries(DROP_EXPLANATIONS).filter(([, e]) => e.class !== "normal" && e.nextStep === undefined)).toEqual([]);
  });

  it("keeps normal for a handful of reasons, and the ones users ask about most where they belong", () => {
    const normal = Object.entries(DROP_EXPLANATIONS).filter(([, e]) => e.class === "normal");
    expect(normal.length).toBeLessThanOrEqual(20);
    expect(dropClass("QUEUE_PURGE")).toBe("normal");
    expect(dropClass("SOCKET_RCVBUFF")).toBe("fault");
    expect(dropClass("NO_SOCKET")).toBe("depends");
    expect(dropClass("NETFILTER_DROP")).toBe("depends");
    expect(explainDrop("NO_SOCKET").nextStep).toMatch(/targetPort/);
    expect(explainDrop("SOCKET_RCVBUFF").nextStep).toMatch(/receive buffer/);
    expect(explainDrop("NETFILTER_DROP").meaning).toMatch(/NetworkPolicy/);
  });
});

describe("a reason the table does not have", () => {
  it("is unknown, and says so and where to look it up", () => {
    for (const reason of ["UNKNOWN_196610", "SOME_FUTURE_REASON"]) {
      expect(dropClass(reason)).toBe("unknown");
      expect(explainDrop(reason).meaning).toMatch(/no explanation/);
      expect(explainDrop(reason).nextStep).toMatch(/dropreason-core\.h/);
    }
  });
});

describe("the explanations shown under rows", () => {
  const rows = (...reasons: string[]) => reasons.map((reason) => ({ reason }));

  it("are the distinct reasons in the rows' order, a few at most", () => {
    expect(explanationsFor(rows("NO_SOCKET", "NO_SOCKET", "QUEUE_PURGE", "NEIGH_FAILED"), 2).map((e) => e.reason)).toEqual(["NO_SOCKET", "QUEUE_PURGE"]);
    expect(explanationsFor([], 5)).toEqual([]);
  });

  it("always include the row to act on first, in place of the last one", () => {
    expect(explanationsFor(rows("QUEUE_PURGE", "TCP_CLOSE", "NEIGH_FAILED"), 2, "NEIGH_FAILED").map((e) => e.reason)).toEqual(["QUEUE_PURGE", "NEIGH_FAILED"]);
    expect(explanationsFor(rows("NEIGH_FAILED", "QUEUE_PURGE"), 2, "NEIGH_FAILED").map((e) => e.reason)).toEqual(["NEIGH_FAILED", "QUEUE_PURGE"]);
  });

  it("carry the reason, its class and its words", () => {
    expect(explanationsFor(rows("NEIGH_FAILED"))).toEqual([{ reason: "NEIGH_FAILED", ...DROP_EXPLANATIONS.NEIGH_FAILED }]);
    expect(DROP_EXPLANATIONS.NEIGH_FAILED.class).toBe("fault");
  });
});
