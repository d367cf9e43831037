// filter.namespaces and filter.podSelector as the agent applies them to named rows, the label
// selector's semantics (Kubernetes' own), and the settings that carry them from the DaemonSet.
import { describe, expect, it } from "vitest";
import { filterStatus, keepsRow, podFilterOf, type PodFilter } from "../../src/agent/pod-filter.js";
import { agentSettingsFromEnv } from "../../src/agent/settings.js";
import { carryOver } from "../../src/agent/carry-over.js";
import { AGENT_ENV } from "../../src/api/agent-env.js";
import { selectorMatches, type LabelSelector } from "../../src/api/kubernetes.js";
import type { DropTraceReportStatus, ReportRow } from "../../src/api/report.js";

describe("a label selector", () => {
  const labels = { app: "cart", tier: "web", "example.com/team": "shop" };
  const cases: [string, LabelSelector, boolean][] = [
    ["empty: every pod", {}, true],
    ["matchLabels all equal", { matchLabels: { app: "cart", tier: "web" } }, true],
    ["matchLabels one differs", { matchLabels: { app: "cart", tier: "db" } }, false],
    ["matchLabels a label the pod lacks", { matchLabels: { zone: "a" } }, false],
    ["matchLabels an empty value the pod lacks", { matchLabels: { zone: "" } }, false],
    ["In, listed", { matchExpressions: [{ key: "app", operator: "In", values: ["db", "cart"] }] }, true],
    ["In, not listed", { matchExpressions: [{ key: "app", operator: "In", values: ["db"] }] }, false],
    ["In, label missing", { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }, false],
    ["NotIn, listed", { matchExpressions: [{ key: "app", operator: "NotIn", values: ["cart"] }] }, false],
    ["NotIn, not listed", { matchExpressions: [{ key: "app", operator: "NotIn", values: ["db"] }] }, true],
    ["NotIn, label missing (Kubernetes: matches)", { matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, true],
    ["Exists", { matchExpressions: [{ key: "example.com/team", operator: "Exists" }] }, true],
    ["Exists, missing", { matchExpressions: [{ key: "zone", operator: "Exists" }] }, false],
    ["DoesNotExist", { matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }, true],
    ["DoesNotExist, present", { matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, false],
    [
      "matchLabels and expressions all hold",
      {
        matchLabels: { app: "cart" },
        matchExpressions: [
          { key: "tier", operator: "In", values: ["web"] },
          { key: "zone", operator: "DoesNotExist" },
        ],
      },
      true,
    ],
    [
      "matchLabels hold, one expression fails",
      { matchLabels: { app: "cart" }, matchExpressions: [{ key: "tier", operator: "NotIn", values: ["web"] }] },
      false,
    ],
  ];
  it.each(cases)("%s", (_name, selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });

  it("does not take an inherited property for a label", () => {
    expect(selectorMatches({ matchExpressions: [{ key: "toString", operator: "Exists" }] }, {})).toBe(false);
  });
});

const row = (count: number, owner: Partial<ReportRow> = {}): ReportRow => ({
  symbol: "udp_rcv+0x452",
  interface: "eth0",
  netns: 4026532252,
  module: "kernel",
  reason: "NO_SOCKET",
  class: "depends",
  count,
  ...owner,
});
const podNetns: Record<string, number> = { cart: 4026532301, db: 4026532302, web: 4026532303, gone: 4026532304 };
const pod = (namespace: string, name: string) => ({
  netns: podNetns[name] ?? 0,
  attribution: "netns" as const,
  pod: { namespace, name, uid: `uid-${name}` },
  workload: { kind: "Pod", name },
});
const LABELS: Record<string, Record<string, string>> = { "uid-cart": { app: "cart" }, "uid-db": { app: "db" }, "uid-web": { app: "web" } };
const labelsOf = (uid: string) => LABELS[uid];

function status(rows: ReportRow[]): DropTraceReportStatus {
  return { phase: "Running", intervals: 1, totalDrops: rows.reduce((s, r) => s + r.count, 0) + 7, uncountedDrops: 0, otherRows: 1, otherDrops: 7, rows };
}

describe("the agent's pod filter", () => {
  const rows = [
    row(30, pod("shop", "cart")),
    row(20, pod("shop", "db")),
    row(10, pod("web", "web")),
    row(5, { attribution: "host", netns: 4026531833 }),
    row(3, { attribution: "unknown", netns: 4026532999 }),
    row(2),
  ];

  it("keeps rows of pods in the namespaces, leaves out every other row, and moves their count from totalDrops to filteredDrops", () => {
    const filtered = filterStatus(status(rows), { namespaces: ["shop"] }, labelsOf);
    expect(filtered.rows.map((r) => r.pod?.name)).toEqual(["cart", "db"]);
    expect(filtered).toMatchObject({ totalDrops: 57, filteredDrops: 20, otherDrops: 7 });
    // Every drop is somewhere: rows, other, filtered.
    expect(filtered.totalDrops + (filtered.filteredDrops ?? 0)).toBe(status(rows).totalDrops);
  });

  it("keeps rows of pods whose labels match, in both filters when both are set", () => {
    expect(
      filterStatus(status(rows), { podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["cart", "web"] }] } }, labelsOf).rows.map(
        (r) => r.pod?.name,
      ),
    ).toEqual(["cart", "web"]);
    const both: PodFilter = { namespaces: ["shop"], podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["cart", "web"] }] } };
    expect(filterStatus(status(rows), both, labelsOf).rows.map((r) => r.pod?.name)).toEqual(["cart"]);
    // An empty selector selects every pod, and so only rows a pod owns.
    expect(filterStatus(status(rows), { podSelector: {} }, labelsOf).filteredDrops).toBe(10);
  });

  it("keeps a row whose pod's labels are no longer known: it was named, and kept, before the agent restarted", () => {
    expect(keepsRow({ podSelector: { matchLabels: { app: "cart" } } }, row(4, pod("shop", "gone")), labelsOf)).toBe(true);
    // The namespace is on the row itself, so that part still applies.
    expect(keepsRow({ namespaces: ["web"], podSelector: { matchLabels: { app: "cart" } } }, row(4, pod("shop", "gone")), labelsOf)).toBe(false);
  });

  it("adds what it left out before a restart to what it leaves out after", () => {
    const before = filterStatus(status(rows), { namespaces: ["shop"] }, labelsOf);
    const after = filterStatus(carryOver(before, status([row(1, pod("web", "web"))]), 1000), { namespaces: ["shop"] }, labelsOf);
    expect(after.filteredDrops).toBe(21);
    expect(after.rows.reduce((s, r) => s + r.count, 0)).toBe(50);
  });

  it("is absent when the spec sets neither filter", () => {
    expect(podFilterOf(undefined)).toBeUndefined();
    expect(podFilterOf({ interfaces: ["eth0"] })).toBeUndefined();
    expect(podFilterOf({ namespaces: ["shop"] })).toEqual({ namespaces: ["shop"] });
  });
});

describe("the agent's settings", () => {
  const env = { [AGENT_ENV.trace]: "t", [AGENT_ENV.traceUid]: "u", [AGENT_ENV.node]: "n", [AGENT_ENV.duration]: "60s" };

  it("read the pod filters the controller set, and none when the variables are empty", () => {
    const settings = agentSettingsFromEnv({
      ...env,
      [AGENT_ENV.namespaces]: "shop,web",
      [AGENT_ENV.podSelector]: JSON.stringify({ matchExpressions: [{ key: "app", operator: "Exists" }] }),
    });
    expect(settings.podFilter).toEqual({ namespaces: ["shop", "web"], podSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] } });
    expect(agentSettingsFromEnv({ ...env, [AGENT_ENV.namespaces]: "", [AGENT_ENV.podSelector]: "" }).podFilter).toBeUndefined();
  });

  it("refuse a selector that is not JSON, or one the API would have refused, saying which", () => {
    expect(() => agentSettingsFromEnv({ ...env, [AGENT_ENV.podSelector]: "{app: cart" })).toThrow(/DROPTRACE_POD_SELECTOR is not JSON/);
    expect(() => agentSettingsFromEnv({ ...env, [AGENT_ENV.podSelector]: JSON.stringify({ matchExpressions: [{ key: "app", operator: "In" }] }) })).toThrow(
      /spec\.filter\.podSelector\.matchExpressions\[0\]\.values/,
    );
    expect(() => agentSettingsFromEnv({ ...env, [AGENT_ENV.namespaces]: "Shop" })).toThrow(/spec\.filter\.namespaces\[0\]/);
  });
});
