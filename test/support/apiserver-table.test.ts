// Server-side printing: get, list and watch answered as meta.k8s.io Tables when asked with
// kubectl's Accept header, with the CRDs' printer columns and the built-in printers' columns.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { humanDuration, translateTimestampSince } from "./apiserver/human-duration.js";
import { evaluateSimplePath } from "./apiserver/jsonpath.js";
import { daemonSet, dropTrace, dropTraces, mergePatch, model, startWithClients, widget, widgets, type Clients, type Obj } from "./apiserver-test-helpers.js";
import { raw, tableAccept, watchEvents } from "./apiserver-http-helpers.js";
import { until } from "./until.js";

interface Table {
  kind: string;
  apiVersion: string;
  metadata: Record<string, unknown>;
  columnDefinitions: { name: string; type: string; format: string; description: string; priority: number }[] | null;
  rows: { cells: unknown[]; object: Record<string, unknown> | null; conditions?: unknown[] }[];
}

let c: Clients;
beforeEach(async () => {
  c = await startWithClients();
});
afterEach(async () => {
  await c.server.close();
});

const table = async (path: string): Promise<Table> => {
  const res = await raw(c.server, path, { headers: { Accept: tableAccept } });
  expect(res.status, res.text).toBe(200);
  return res.json as Table;
};
const columns = (t: Table) => t.columnDefinitions?.map((d) => (d.priority > 0 ? `(${d.name})` : d.name));

describe("ages", () => {
  it("prints durations as HumanDuration does", () => {
    const s = 1000;
    const cases: [number, string][] = [
      [0, "0s"],
      [-1500, "0s"],
      [-3000, "<invalid>"],
      [5 * s, "5s"],
      [119 * s, "119s"],
      [120 * s, "2m"],
      [190 * s, "3m10s"],
      [600 * s, "10m"],
      [179 * 60 * s, "179m"],
      [180 * 60 * s, "3h"],
      [185 * 60 * s, "3h5m"],
      [8 * 3600 * s, "8h"],
      [47 * 3600 * s, "47h"],
      [48 * 3600 * s, "2d"],
      [50 * 3600 * s, "2d2h"],
      [8 * 86400 * s, "8d"],
      [730 * 86400 * s, "2y"],
      [733 * 86400 * s, "2y3d"],
      [9 * 365 * 86400 * s, "9y"],
    ];
    for (const [ms, text] of cases) expect(humanDuration(ms), `${ms} ms`).toBe(text);
    expect(translateTimestampSince("2024-01-01T00:00:00Z", Date.parse("2024-01-01T00:03:10Z"))).toBe("3m10s");
    expect(translateTimestampSince(undefined)).toBe("<unknown>");
  });

  it("evaluates the simple JSONPaths printer columns use", () => {
    const obj = { status: { phase: "Running", items: [{ name: "a" }] }, metadata: { labels: { "app.kubernetes.io/name": "x" } } };
    expect(evaluateSimplePath(obj, ".status.phase")).toBe("Running");
    expect(evaluateSimplePath(obj, ".status.items[0].name")).toBe("a");
    expect(evaluateSimplePath(obj, ".metadata.labels['app.kubernetes.io/name']")).toBe("x");
    expect(evaluateSimplePath(obj, ".status.missing.deeper")).toBeUndefined();
  });
});

describe("custom resources", () => {
  it("prints Name and the version's additionalPrinterColumns, rows carrying PartialObjectMetadata", async () => {
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("b-trace") });
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("a-trace") });
    await c.custom.patchClusterCustomObjectStatus(
      {
        ...dropTraces,
        name: "a-trace",
        body: { status: { phase: "Running", nodeProgress: "1/3", totalDrops: 42, topSymbol: "tcp_v4_rcv", topWorkload: "Deployment shop/cart" } },
      },
      mergePatch,
    );
    const t = await table("/apis/droptrace.io/v1alpha1/droptraces");
    expect(t.kind).toBe("Table");
    expect(t.apiVersion).toBe("meta.k8s.io/v1");
    expect(t.metadata["resourceVersion"]).toBe(String(c.server.store.currentResourceVersion()));
    expect(t.columnDefinitions?.map((d) => [d.name, d.type, d.format])).toEqual([
      ["Name", "string", "name"],
      ["Phase", "string", ""],
      ["Nodes", "string", ""],
      ["Drops", "integer", ""],
      ["Top Symbol", "string", ""],
      ["Top Workload", "string", ""],
      ["Age", "date", ""],
    ]);
    expect(t.columnDefinitions?.[1]?.description).toBe("Custom resource definition column (in JSONPath format): .status.phase");
    expect(t.columnDefinitions?.[2]?.description).toBe("Nodes done (completed or failed) out of nodes wanted");
    expect(t.rows.map((r) => r.cells)).toEqual([
      // Age: seconds since creation, which a loaded machine can make more than 0.
      ["a-trace", "Running", "1/3", 42, "tcp_v4_rcv", "Deployment shop/cart", expect.stringMatching(/^\d+s$/)],
      ["b-trace", null, null, null, null, null, expect.stringMatching(/^\d+s$/)],
    ]);
    const row = t.rows[0]?.object;
    expect(row?.["kind"]).toBe("PartialObjectMetadata");
    expect(row?.["apiVersion"]).toBe("meta.k8s.io/v1");
    expect((row?.["metadata"] as Record<string, unknown>)["name"]).toBe("a-trace");
    expect(row).not.toHaveProperty("spec");
  });

  it("answers a get with a one-row Table at the object's resourceVersion, and honours includeObject", async () => {
    const created = (await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("one") })) as Obj;
    const t = await table("/apis/droptrace.io/v1alpha1/droptraces/one");
    expect(t.metadata).toEqual({ resourceVersion: created.metadata.resourceVersion });
    expect(t.rows).toHaveLength(1);
    const full = await table("/apis/droptrace.io/v1alpha1/droptraces/one?includeObject=Object");
    expect(full.rows[0]?.object?.["spec"]).toEqual(created.spec);
    expect(full.rows[0]?.object?.["kind"]).toBe("DropTrace");
    const none = await table("/apis/droptrace.io/v1alpha1/droptraces/one?includeObject=None");
    expect(none.rows[0]?.object).toBeNull();
    const bad = await raw(c.server, "/apis/droptrace.io/v1alpha1/droptraces/one?includeObject=Everything", { headers: { Accept: tableAccept } });
    expect(bad.status).toBe(400);
    expect((bad.json as { message: string }).message).toBe(
      `Unable to convert to Table as requested: includeObject: Invalid value: "Everything": must be 'Metadata', 'Object', 'None', or empty`,
    );
  });

  it("gives a CRD without printer columns an Age column", async () => {
    await c.custom.createNamespacedCustomObject({ ...widgets, namespace: "default", body: widget("w") });
    const t = await table("/apis/test.droptrace.io/v1/namespaces/default/widgets");
    expect(t.columnDefinitions?.map((d) => [d.name, d.type])).toEqual([
      ["Name", "string"],
      ["Age", "date"],
    ]);
    expect(t.columnDefinitions?.[1]?.description).toMatch(/^CreationTimestamp is a timestamp/);
    expect(t.rows[0]?.cells).toEqual(["w", "0s"]);
  });

  it("answers a v1beta1 Table, PartialObjectMetadataList, and 406 for what it cannot serve", async () => {
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("x") });
    const beta = await raw(c.server, "/apis/droptrace.io/v1alpha1/droptraces", { headers: { Accept: "application/json;as=Table;v=v1beta1;g=meta.k8s.io" } });
    expect((beta.json as Table).apiVersion).toBe("meta.k8s.io/v1beta1");
    const partial = await raw(c.server, "/apis/droptrace.io/v1alpha1/droptraces", {
      headers: { Accept: "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io" },
    });
    expect(partial.json).toMatchObject({ kind: "PartialObjectMetadataList", items: [{ kind: "PartialObjectMetadata", metadata: { name: "x" } }] });
    const protobufOnly = await raw(c.server, "/apis/droptrace.io/v1alpha1/droptraces", { headers: { Accept: "application/vnd.kubernetes.protobuf" } });
    expect(protobufOnly.status).toBe(406);
    // A client that prefers protobuf but takes JSON (client-go's typed clients) gets JSON.
    const either = await raw(c.server, "/apis/droptrace.io/v1alpha1/droptraces", {
      headers: { Accept: "application/vnd.kubernetes.protobuf, application/json" },
    });
    expect((either.json as { kind: string }).kind).toBe("DropTraceList");
  });

  it("watches with one Table per event, column definitions on the first only", async () => {
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("w1") });
    const events = watchEvents(c.server, "/apis/droptrace.io/v1alpha1/droptraces?watch=true", 3, { headers: { Accept: tableAccept } });
    await until("the watch to be open", () => c.server.openWatches() === 1);
    await c.custom.patchClusterCustomObjectStatus({ ...dropTraces, name: "w1", body: { status: { phase: "Completed" } } }, mergePatch);
    await c.custom.deleteClusterCustomObject({ ...dropTraces, name: "w1" });
    const got = await events;
    expect(got.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    const tables = got.map((e) => e.object as unknown as Table);
    expect(tables.map((t) => t.kind)).toEqual(["Table", "Table", "Table"]);
    expect(tables[0]?.columnDefinitions).toHaveLength(7);
    expect(tables[1]?.columnDefinitions).toBeNull();
    expect(tables[2]?.columnDefinitions).toBeNull();
    expect(tables[1]?.rows[0]?.cells.slice(0, 2)).toEqual(["w1", "Completed"]);
  });

  it("passes a watch's ERROR Status through untransformed", async () => {
    c.server.faults.expireHistory();
    const [event] = await watchEvents(c.server, "/apis/droptrace.io/v1alpha1/droptraces?watch=true&resourceVersion=1", 1, { headers: { Accept: tableAccept } });
    expect(event?.type).toBe("ERROR");
    expect(event?.object["kind"]).toBe("Status");
  });
});

describe("built-in kinds", () => {
  it("prints DaemonSets with the server's columns, wide ones included", async () => {
    const ds = daemonSet("agents");
    if (ds.spec?.template.spec !== undefined) ds.spec.template.spec.nodeSelector = { "kubernetes.io/os": "linux" };
    await c.apps.createNamespacedDaemonSet({ namespace: "default", body: model(ds) });
    const t = await table("/apis/apps/v1/namespaces/default/daemonsets");
    expect(columns(t)).toEqual([
      "Name",
      "Desired",
      "Current",
      "Ready",
      "Up-to-date",
      "Available",
      "Node Selector",
      "Age",
      "(Containers)",
      "(Images)",
      "(Selector)",
    ]);
    expect(t.rows[0]?.cells).toEqual(["agents", 0, 0, 0, 0, 0, "kubernetes.io/os=linux", "0s", "agent", "droptrace:1.0", "app=agents"]);
    expect(t.columnDefinitions?.[1]?.description).toMatch(/^The total number of nodes that should be running the daemon pod/);
  });

  it("prints pods, namespaces, service accounts, secrets and leases", async () => {
    await raw(c.server, "/api/v1/namespaces/default/pods", {
      method: "POST",
      body: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox:1" }], nodeName: "node-a" } },
    });
    await c.core.patchNamespacedPodStatus(
      {
        namespace: "default",
        name: "p",
        body: {
          status: {
            phase: "Running",
            podIPs: [{ ip: "10.0.0.7" }],
            containerStatuses: [{ name: "c", ready: true, restartCount: 0, state: { running: {} }, image: "busybox:1", imageID: "", started: true }],
            conditions: [{ type: "Ready", status: "True" }],
          },
        },
      },
      mergePatch,
    );
    const pods = await table("/api/v1/namespaces/default/pods");
    expect(columns(pods)).toEqual(["Name", "Ready", "Status", "Restarts", "Age", "(IP)", "(Node)", "(Nominated Node)", "(Readiness Gates)"]);
    expect(pods.rows[0]?.cells).toEqual(["p", "1/1", "Running", "0", "0s", "10.0.0.7", "node-a", "<none>", "<none>"]);

    const ns = await table("/api/v1/namespaces/default");
    expect(columns(ns)).toEqual(["Name", "Status", "Age"]);
    expect(ns.rows[0]?.cells.slice(0, 2)).toEqual(["default", "Active"]);

    await raw(c.server, "/api/v1/namespaces/default/serviceaccounts", { method: "POST", body: { metadata: { name: "sa" } } });
    expect((await table("/api/v1/namespaces/default/serviceaccounts/sa")).rows[0]?.cells).toEqual(["sa", 0, "0s"]);
    await raw(c.server, "/api/v1/namespaces/default/secrets", { method: "POST", body: { metadata: { name: "s" }, stringData: { a: "1", b: "2" } } });
    const secrets = await table("/api/v1/namespaces/default/secrets");
    expect(columns(secrets)).toEqual(["Name", "Type", "Data", "Age"]);
    expect(secrets.rows[0]?.cells).toEqual(["s", "Opaque", 2, "0s"]);
    await raw(c.server, "/apis/coordination.k8s.io/v1/namespaces/default/leases", {
      method: "POST",
      body: { metadata: { name: "l" }, spec: { holderIdentity: "me" } },
    });
    expect((await table("/apis/coordination.k8s.io/v1/namespaces/default/leases")).rows[0]?.cells).toEqual(["l", "me", "0s"]);
  });

  it("prints events as kubectl get events shows them", async () => {
    // 20 minutes ago prints "20m" for a whole minute, so a slow machine cannot tip it into the next value.
    const now = new Date(Date.now() - 20 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    await raw(c.server, "/api/v1/namespaces/default/events", {
      method: "POST",
      body: {
        metadata: { name: "all-nodes.1" },
        involvedObject: { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "all-nodes" },
        reason: "Started",
        message: "Tracing 3 nodes ",
        type: "Normal",
        source: { component: "droptrace-controller" },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 2,
      },
    });
    const t = await table("/api/v1/events");
    expect(columns(t)).toEqual(["Last Seen", "Type", "Reason", "Object", "(Subobject)", "(Source)", "Message", "(First Seen)", "(Count)", "(Name)"]);
    expect(t.rows[0]?.cells).toEqual([
      "20m",
      "Normal",
      "Started",
      "droptrace/all-nodes",
      "",
      "droptrace-controller",
      "Tracing 3 nodes",
      "20m",
      2,
      "all-nodes.1",
    ]);
  });

  it("prints Deployments, and ClusterRoles with the default Name and Created At", async () => {
    c.server.store.commit("ADDED", "rbac.authorization.k8s.io/clusterroles", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "reader", creationTimestamp: "2024-05-01T10:00:00Z", uid: "u" },
      rules: [],
    });
    const roles = await table("/apis/rbac.authorization.k8s.io/v1/clusterroles");
    expect(roles.columnDefinitions?.map((d) => [d.name, d.type])).toEqual([
      ["Name", "string"],
      ["Created At", "date"],
    ]);
    expect(roles.rows[0]?.cells).toEqual(["reader", "2024-05-01T10:00:00Z"]);
    const res = await raw(c.server, "/apis/apps/v1/namespaces/default/deployments", {
      method: "POST",
      body: {
        metadata: { name: "d" },
        spec: {
          selector: { matchLabels: { app: "d" } },
          template: { metadata: { labels: { app: "d" } }, spec: { containers: [{ name: "c", image: "x:1" }] } },
        },
      },
    });
    expect(res.status).toBe(201);
    const deployments = await table("/apis/apps/v1/namespaces/default/deployments");
    expect(columns(deployments)).toEqual(["Name", "Ready", "Up-to-date", "Available", "Age", "(Containers)", "(Images)", "(Selector)"]);
    expect(deployments.rows[0]?.cells).toEqual(["d", "0/1", 0, 0, "0s", "c", "x:1", "app=d"]);
  });
});
