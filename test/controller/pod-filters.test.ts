// filter.namespaces and filter.podSelector from the user to the agents and back: the API
// server refuses a bad filter with the field's path (schema and CEL), the controller refuses
// what the CRD cannot check and marks the trace Failed, passes a good filter to every agent, and
// shows what the agents' filters left out.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AGENT_ENV } from "../../src/api/agent-env.js";
import {
  agents,
  condition,
  createTrace,
  FAST,
  getDaemonSet,
  getTrace,
  reportStatus,
  setDesiredNodes,
  startCluster,
  startController,
  untilPhase,
  type Cluster,
} from "./harness.js";
import { raw } from "../support/apiserver-http-helpers.js";
import { holdsFor, until } from "../support/until.js";

let cluster: Cluster;
beforeEach(async () => {
  cluster = await startCluster();
});
afterEach(async () => {
  await cluster.close();
});

async function refusal(filter: unknown): Promise<{ status: number; message: unknown }> {
  const res = await raw(cluster.server, "/apis/droptrace.io/v1alpha1/droptraces", {
    method: "POST",
    body: { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name: "bad" }, spec: { filter } },
  });
  return { status: res.status, message: (res.json as { message: unknown }).message };
}

describe("the API server", () => {
  it("refuses a bad pod filter with the field's path, from the schema and from CEL", async () => {
    const cases: [unknown, RegExp][] = [
      [{ namespaces: ["Shop"] }, /^DropTrace\.droptrace\.io "bad" is invalid: spec\.filter\.namespaces\[0\]: Invalid value: "Shop": .*should match/],
      [
        { podSelector: { matchExpressions: [{ key: "app", operator: "In" }] } },
        /spec\.filter\.podSelector\.matchExpressions\[0\]\.values: Invalid value: .*values must be non-empty when operator is In or NotIn, and empty when it is Exists or DoesNotExist/,
      ],
      [
        { podSelector: { matchExpressions: [{ key: "my app", operator: "Exists" }] } },
        /spec\.filter\.podSelector\.matchExpressions\[0\]\.key: Invalid value: .*key must be a label key such as 'app\.kubernetes\.io\/name'/,
      ],
      [
        { podSelector: { matchExpressions: [{ key: "app", operator: "Equals", values: ["x"] }] } },
        /spec\.filter\.podSelector\.matchExpressions\[0\]\.operator: Unsupported value: "Equals"/,
      ],
    ];
    for (const [filter, message] of cases) {
      const refused = await refusal(filter);
      expect(refused.status).toBe(422);
      expect(refused.message).toMatch(message);
    }
  });
});

describe("the controller", () => {
  it("marks a trace whose podSelector has a bad matchLabels key Failed with the field's error, and starts no agent", async () => {
    await startController(cluster);
    // The CRD checks matchLabels values only (keys would cost too much CEL), as for nodeSelector.
    await createTrace(cluster, "bad-selector", { filter: { podSelector: { matchLabels: { "not a label key!": "x" } } } });
    const failed = await untilPhase(cluster, "bad-selector", "Failed");
    expect(condition(failed, "Ready")).toMatchObject({ status: "False", reason: "InvalidSpec" });
    expect(condition(failed, "Ready")?.message).toBe(
      "the spec is invalid, nothing was started: spec.filter.podSelector.matchLabels: matchLabels keys must be label keys such as 'app.kubernetes.io/name'; delete this DropTrace and apply a corrected one",
    );
    await holdsFor("no DaemonSet written", 2 * FAST.resyncMs, () => !cluster.server.writes().some((w) => w.path.includes("daemonsets")));
  });

  it("gives every agent the filters, and shows what they left out in status.filteredDrops and the Ready message", async () => {
    await startController(cluster);
    const podSelector = { matchLabels: { app: "cart" }, matchExpressions: [{ key: "track", operator: "NotIn", values: ["canary"] }] };
    const trace = await createTrace(cluster, "shop-only", { duration: "30s", reportInterval: "5s", filter: { namespaces: ["shop", "web"], podSelector } });
    const ds = await until("the DaemonSet", () => getDaemonSet(cluster, "shop-only"));
    const env = Object.fromEntries((ds.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env[AGENT_ENV.namespaces]).toBe("shop,web");
    expect(JSON.parse(env[AGENT_ENV.podSelector] ?? "")).toEqual(podSelector);

    await setDesiredNodes(cluster, "shop-only", 2);
    const [a, b] = agents(cluster, trace, "node-a", "node-b");
    if (a === undefined || b === undefined) throw new Error("two agents");
    const cart = { attribution: "netns" as const, pod: { namespace: "shop", name: "cart-1", uid: "u1" }, workload: { kind: "Deployment", name: "cart" } };
    await a.report(
      reportStatus("Completed", [{ symbol: "udp_rcv+0x452", interface: "eth0", netns: 7, module: "kernel", reason: "NO_SOCKET", count: 40, ...cart }], {
        totalDrops: 40,
        filteredDrops: 25,
      }),
    );
    await b.report(reportStatus("Completed", [], { totalDrops: 0, filteredDrops: 5 }));
    const done = await untilPhase(cluster, "shop-only", "Completed");
    expect(done.status).toMatchObject({ totalDrops: 40, filteredDrops: 30, topWorkload: "Deployment shop/cart" });
    expect(condition(done, "Ready")?.message).toMatch(
      /^40 drops counted on 2 nodes \(and 30 more of other pods or of no pod, left out by filter\.namespaces or filter\.podSelector: status\.filteredDrops\), every node finished; look first at NO_SOCKET at udp_rcv\+0x452 by Deployment shop\/cart on eth0 \(40 drops on 1 node\)/,
    );
    expect((await getTrace(cluster, "shop-only"))?.status?.drops?.[0]).toMatchObject({
      workload: { kind: "Deployment", namespace: "shop", name: "cart" },
      pods: 1,
    });
  });
});
