// Status subresource separation, metadata.generation, merge/JSON/strategic patches.
import type { V1DaemonSet } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  daemonSet,
  dropTrace,
  dropTraces,
  failure,
  jsonPatch,
  mergePatch,
  model,
  startWithClients,
  strategicMergePatch,
  widget,
  widgets,
  type Clients,
  type Obj,
} from "./apiserver-test-helpers.js";

let c: Clients;
beforeEach(async () => {
  c = await startWithClients();
});
afterEach(async () => {
  await c.server.close();
});

const ns = "default";
const getWidget = async (name: string) => (await c.custom.getNamespacedCustomObject({ ...widgets, namespace: ns, name })) as Obj;

describe("status subresource", () => {
  it("drops status on create", async () => {
    const created = (await c.custom.createClusterCustomObject({ ...dropTraces, body: { ...dropTrace("s"), status: { phase: "Running" } } })) as Obj;
    expect(created.status).toBeUndefined();
  });

  it("ignores status written through the main resource", async () => {
    const created = (await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("s") })) as Obj;
    const updated = (await c.custom.replaceClusterCustomObject({
      ...dropTraces,
      name: "s",
      body: { ...created, metadata: { ...created.metadata, labels: { a: "b" } }, status: { phase: "Running" } },
    })) as Obj;
    expect(updated.status).toBeUndefined();
    expect(updated.metadata["labels"]).toEqual({ a: "b" });
  });

  it("takes only status through /status: spec and metadata changes are ignored", async () => {
    const created = (await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("s", { topN: 5 }) })) as Obj;
    const written = (await c.custom.replaceClusterCustomObjectStatus({
      ...dropTraces,
      name: "s",
      body: {
        ...created,
        metadata: { ...created.metadata, labels: { sneaky: "yes" } },
        spec: { topN: 50 },
        status: { phase: "Running", observedGeneration: 1 },
      },
    })) as Obj;
    expect(written.status).toEqual({ phase: "Running", observedGeneration: 1 });
    expect(written.spec?.["topN"]).toBe(5);
    expect(written.metadata["labels"]).toBeUndefined();
    expect(written.metadata.generation).toBe(1);
  });

  it("validates status writes against the schema", async () => {
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("s") });
    const err = await failure(c.custom.patchClusterCustomObjectStatus({ ...dropTraces, name: "s", body: { status: { phase: "Exploded" } } }, mergePatch));
    expect(err.code).toBe(422);
    expect(err.body.details?.causes?.[0]).toEqual({
      reason: "FieldValueNotSupported",
      field: "status.phase",
      message: 'Unsupported value: "Exploded": supported values: "Pending", "Running", "Completed", "Failed"',
    });
  });

  it("keeps a built-in kind's spec on /status and its status on the main resource", async () => {
    const created = await c.apps.createNamespacedDaemonSet({ namespace: ns, body: model<V1DaemonSet>(daemonSet("agent")) });
    expect(created.status).toEqual({ currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 });
    const status = await c.apps.patchNamespacedDaemonSetStatus(
      { name: "agent", namespace: ns, body: { spec: { revisionHistoryLimit: 1 }, status: { desiredNumberScheduled: 3, numberReady: 2 } } },
      mergePatch,
    );
    expect(status.status?.desiredNumberScheduled).toBe(3);
    expect(status.spec?.revisionHistoryLimit).toBe(10);
    const main = await c.apps.patchNamespacedDaemonSet({ name: "agent", namespace: ns, body: { status: { numberReady: 0 } } }, mergePatch);
    expect(main.status?.numberReady).toBe(2);
  });
});

describe("metadata.generation", () => {
  it("moves on a spec change and not on a status or metadata change", async () => {
    await c.custom.createNamespacedCustomObject({ ...widgets, namespace: ns, body: widget("w", { size: 1 }) });
    expect((await getWidget("w")).metadata.generation).toBe(1);
    await c.custom.patchNamespacedCustomObject({ ...widgets, namespace: ns, name: "w", body: { spec: { size: 2 } } }, mergePatch);
    expect((await getWidget("w")).metadata.generation).toBe(2);
    await c.custom.patchNamespacedCustomObjectStatus({ ...widgets, namespace: ns, name: "w", body: { status: { observedGeneration: 2 } } }, mergePatch);
    await c.custom.patchNamespacedCustomObject({ ...widgets, namespace: ns, name: "w", body: { metadata: { labels: { x: "y" } } } }, mergePatch);
    const w = await getWidget("w");
    expect(w.metadata.generation).toBe(2);
    expect(w.status).toEqual({ observedGeneration: 2 });
  });

  it("moves for a DaemonSet template change, with the template generation annotation", async () => {
    await c.apps.createNamespacedDaemonSet({ namespace: ns, body: model<V1DaemonSet>(daemonSet("agent")) });
    const patched = await c.apps.patchNamespacedDaemonSet(
      { name: "agent", namespace: ns, body: { spec: { template: { spec: { containers: [{ name: "agent", image: "droptrace:2.0" }] } } } } },
      strategicMergePatch,
    );
    expect(patched.metadata?.generation).toBe(2);
    expect(patched.metadata?.annotations?.["deprecated.daemonset.template.generation"]).toBe("2");
    expect(patched.spec?.template.spec?.containers[0]?.image).toBe("droptrace:2.0");
  });
});

describe("patches", () => {
  it("applies a JSON merge patch (null deletes, objects merge, lists are replaced)", async () => {
    await c.custom.createNamespacedCustomObject({
      ...widgets,
      namespace: ns,
      body: widget("w", { size: 1, labels: { a: "1", b: "2" }, parts: [{ name: "x" }, { name: "y" }] }),
    });
    const patched = (await c.custom.patchNamespacedCustomObject(
      { ...widgets, namespace: ns, name: "w", body: { spec: { labels: { a: null, c: "3" }, parts: [{ name: "z", count: 5 }] } } },
      mergePatch,
    )) as Obj;
    expect(patched.spec).toEqual({ size: 1, color: "blue", labels: { b: "2", c: "3" }, parts: [{ name: "z", count: 5 }] });
  });

  it("applies a JSON patch, and answers 422 when a test operation fails", async () => {
    await c.custom.createNamespacedCustomObject({ ...widgets, namespace: ns, body: widget("w", { size: 1, parts: [{ name: "x" }] }) });
    const patched = (await c.custom.patchNamespacedCustomObject(
      {
        ...widgets,
        namespace: ns,
        name: "w",
        body: [
          { op: "test", path: "/spec/size", value: 1 },
          { op: "replace", path: "/spec/size", value: 4 },
          { op: "add", path: "/spec/parts/-", value: { name: "y" } },
          { op: "remove", path: "/spec/color" },
        ],
      },
      jsonPatch,
    )) as Obj;
    expect(patched.spec).toEqual({
      size: 4,
      color: "blue",
      parts: [
        { name: "x", count: 1 },
        { name: "y", count: 1 },
      ],
    });

    const err = await failure(
      c.custom.patchNamespacedCustomObject({ ...widgets, namespace: ns, name: "w", body: [{ op: "test", path: "/spec/size", value: 1 }] }, jsonPatch),
    );
    expect(err.code).toBe(422);
    expect(err.body.details?.causes?.[0]?.message).toBe("testing value /spec/size failed: test failed");
  });

  it("checks a resourceVersion carried by a patch", async () => {
    const created = (await c.custom.createNamespacedCustomObject({ ...widgets, namespace: ns, body: widget("w") })) as Obj;
    await c.custom.patchNamespacedCustomObject({ ...widgets, namespace: ns, name: "w", body: { spec: { size: 2 } } }, mergePatch);
    const err = await failure(
      c.custom.patchNamespacedCustomObject(
        { ...widgets, namespace: ns, name: "w", body: { metadata: { resourceVersion: created.metadata.resourceVersion }, spec: { size: 3 } } },
        mergePatch,
      ),
    );
    expect(err.code).toBe(409);
    expect(err.body.reason).toBe("Conflict");
  });

  it("refuses a strategic merge patch on a custom resource with 415", async () => {
    await c.custom.createNamespacedCustomObject({ ...widgets, namespace: ns, body: widget("w") });
    const err = await failure(c.custom.patchNamespacedCustomObject({ ...widgets, namespace: ns, name: "w", body: { spec: { size: 2 } } }, strategicMergePatch));
    expect(err.code).toBe(415);
    expect(err.body.reason).toBe("UnsupportedMediaType");
  });

  it("evaluates transition rules against the stored object and formats durations as CEL durations", async () => {
    await c.custom.createNamespacedCustomObject({ ...widgets, namespace: ns, body: widget("w", { size: 3, timeout: "30m" }) });
    const shrink = await failure(c.custom.patchNamespacedCustomObject({ ...widgets, namespace: ns, name: "w", body: { spec: { size: 2 } } }, mergePatch));
    expect(shrink.body.message).toBe('Widget.test.droptrace.io "w" is invalid: spec.size: Invalid value: "integer": size may only grow');
    const long = await failure(c.custom.patchNamespacedCustomObject({ ...widgets, namespace: ns, name: "w", body: { spec: { timeout: "2h" } } }, mergePatch));
    expect(long.body.details?.causes?.map((x) => x.field)).toEqual(["spec.timeout"]);
  });

  it("selects custom resources by a CRD's selectableFields", async () => {
    await c.custom.createNamespacedCustomObject({ ...widgets, namespace: ns, body: widget("a", { size: 1, color: "red" }) });
    await c.custom.createNamespacedCustomObject({ ...widgets, namespace: ns, body: widget("b", { size: 1 }) });
    const list = (await c.custom.listNamespacedCustomObject({ ...widgets, namespace: ns, fieldSelector: "spec.color=blue" })) as { items: Obj[] };
    expect(list.items.map((i) => i.metadata.name)).toEqual(["b"]);
  });
});
