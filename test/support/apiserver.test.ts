// The test API server through the real @kubernetes/client-node: CRUD, selectors, conflicts,
// validation, defaults. Status, patch, watch, GC and faults have their own files.
import type { CoreV1Event, V1DaemonSet, V1Lease, V1Node, V1Pod } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dropTrace, dropTraces, failure, model, startWithClients, widget, widgets, type Clients, type Obj } from "./apiserver-test-helpers.js";

let c: Clients;
beforeEach(async () => {
  c = await startWithClients();
});
afterEach(async () => {
  await c.server.close();
});

const create = (obj: Obj) => c.custom.createClusterCustomObject({ ...dropTraces, body: obj }) as Promise<Obj>;

describe("create, get, list", () => {
  it("creates a DropTrace with server-set metadata and the CRD's defaults", async () => {
    const created = await create(dropTrace("all-nodes", { duration: "90s" }));
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.generation).toBe(1);
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(1000);
    expect(created.metadata["creationTimestamp"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(created.spec).toEqual({ duration: "90s", topN: 20, tolerations: [{ operator: "Exists" }], stacks: false, maxProbeCPUPercent: 5 });

    const got = (await c.custom.getClusterCustomObject({ ...dropTraces, name: "all-nodes" })) as Obj;
    expect(got).toEqual(created);
  });

  it("lists with equality, inequality, set and existence label selectors", async () => {
    await create(dropTrace("a", {}, { team: "net", tier: "1" }));
    await create(dropTrace("b", {}, { team: "storage", tier: "2" }));
    await create(dropTrace("c", {}, { team: "net" }));
    const names = async (labelSelector: string) => {
      const list = (await c.custom.listClusterCustomObject({ ...dropTraces, labelSelector })) as { items: Obj[] };
      return list.items.map((i) => i.metadata.name);
    };
    expect(await names("team=net")).toEqual(["a", "c"]);
    expect(await names("team==net,tier=1")).toEqual(["a"]);
    expect(await names("team!=net")).toEqual(["b"]);
    expect(await names("tier!=1")).toEqual(["b", "c"]);
    expect(await names("team in (storage, other)")).toEqual(["b"]);
    expect(await names("team notin (storage)")).toEqual(["a", "c"]);
    expect(await names("tier")).toEqual(["a", "b"]);
    expect(await names("!tier")).toEqual(["c"]);
  });

  it("lists with a metadata.name field selector and answers a custom resource list's shape", async () => {
    await create(dropTrace("x"));
    await create(dropTrace("y"));
    const list = (await c.custom.listClusterCustomObject({ ...dropTraces, fieldSelector: "metadata.name=y" })) as {
      kind: string;
      apiVersion: string;
      metadata: { resourceVersion: string };
      items: Obj[];
    };
    expect(list.kind).toBe("DropTraceList");
    expect(list.apiVersion).toBe("droptrace.io/v1alpha1");
    expect(list.items.map((i) => [i["kind"], i.metadata.name])).toEqual([["DropTrace", "y"]]);
    expect(list.metadata.resourceVersion).toBe(String(c.server.store.currentResourceVersion()));
  });

  it("refuses a field selector the kind does not serve with 400", async () => {
    const err = await failure(c.custom.listClusterCustomObject({ ...dropTraces, fieldSelector: "spec.topN=3" }));
    expect(err.code).toBe(400);
    expect(err.body.reason).toBe("BadRequest");
    expect(err.body.message).toBe('"spec.topN" is not a known field selector: only "metadata.name", "metadata.namespace"');
  });

  it("pages a list with limit and continue", async () => {
    for (const n of ["p1", "p2", "p3"]) await create(dropTrace(n));
    const first = (await c.custom.listClusterCustomObject({ ...dropTraces, limit: 2 })) as { items: Obj[]; metadata: Record<string, unknown> };
    expect(first.items.map((i) => i.metadata.name)).toEqual(["p1", "p2"]);
    expect(first.metadata["remainingItemCount"]).toBe(1);
    const next = (await c.custom.listClusterCustomObject({ ...dropTraces, limit: 2, _continue: String(first.metadata["continue"]) })) as {
      items: Obj[];
      metadata: Record<string, unknown>;
    };
    expect(next.items.map((i) => i.metadata.name)).toEqual(["p3"]);
    expect(next.metadata["continue"]).toBeUndefined();
  });

  it("generates a name from generateName", async () => {
    const created = await create({ ...dropTrace(""), metadata: { name: "", generateName: "trace-" } });
    expect(created.metadata.name).toMatch(/^trace-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it("answers 404 with the real NotFound Status", async () => {
    const err = await failure(c.custom.getClusterCustomObject({ ...dropTraces, name: "missing" }));
    expect(err.code).toBe(404);
    expect(err.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'droptraces.droptrace.io "missing" not found',
      reason: "NotFound",
      details: { name: "missing", group: "droptrace.io", kind: "droptraces" },
      code: 404,
    });
  });

  it("answers 409 AlreadyExists for a second create", async () => {
    await create(dropTrace("twice"));
    const err = await failure(create(dropTrace("twice")));
    expect(err.code).toBe(409);
    expect(err.body.reason).toBe("AlreadyExists");
    expect(err.body.message).toBe('droptraces.droptrace.io "twice" already exists');
  });

  it("refuses a create that carries a resourceVersion, as etcd storage does", async () => {
    const err = await failure(create({ ...dropTrace("rv"), metadata: { name: "rv", resourceVersion: "5" } }));
    expect(err.code).toBe(500);
    expect(err.body.message).toBe("Internal error occurred: resourceVersion should not be set on objects to be created");
  });

  it("serves nodes (cluster-scoped) and pods (namespaced) with field selectors", async () => {
    await c.core.createNode({ body: model<V1Node>({ metadata: { name: "worker-1", labels: { "kubernetes.io/os": "linux" } } }) });
    await c.core.createNode({ body: model<V1Node>({ metadata: { name: "worker-2" } }) });
    const linux = await c.core.listNode({ labelSelector: "kubernetes.io/os=linux" });
    expect(linux.items.map((n) => n.metadata?.name)).toEqual(["worker-1"]);
    await c.core.createNamespacedPod({
      namespace: "default",
      body: model<V1Pod>({ metadata: { name: "p" }, spec: { nodeName: "worker-2", containers: [{ name: "c", image: "busybox:1.36" }] } }),
    });
    const onWorker2 = await c.core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=worker-2" });
    expect(onWorker2.items.map((p) => p.metadata?.name)).toEqual(["p"]);
    expect(onWorker2.items[0]?.status?.phase).toBe("Pending");
    expect(onWorker2.items[0]?.spec?.containers[0]?.imagePullPolicy).toBe("IfNotPresent");
  });

  it("refuses a namespaced write into a namespace that does not exist", async () => {
    const err = await failure(c.custom.createNamespacedCustomObject({ ...widgets, namespace: "nowhere", body: widget("w") }));
    expect(err.code).toBe(404);
    expect(err.body.message).toBe('namespaces "nowhere" not found');
  });

  it("serves leases and core events", async () => {
    const lease = await c.coordination.createNamespacedLease({
      namespace: "kube-system",
      body: model<V1Lease>({ metadata: { name: "droptrace-controller" }, spec: { holderIdentity: "pod-a", leaseDurationSeconds: 15 } }),
    });
    expect(lease.spec?.holderIdentity).toBe("pod-a");
    const event = await c.core.createNamespacedEvent({
      namespace: "default",
      body: model<CoreV1Event>({
        metadata: { generateName: "droptrace-" },
        involvedObject: { kind: "DropTrace", name: "t", apiVersion: "droptrace.io/v1alpha1" },
        reason: "Started",
        message: "tracing",
        type: "Normal",
      }),
    });
    expect(event.metadata.name).toMatch(/^droptrace-[a-z0-9]{5}$/);
    const events = await c.core.listNamespacedEvent({ namespace: "default", fieldSelector: "involvedObject.name=t,reason=Started" });
    expect(events.items).toHaveLength(1);
  });

  it("refuses an event about a cluster-scoped object outside the default namespace", async () => {
    const err = await failure(
      c.core.createNamespacedEvent({
        namespace: "kube-system",
        body: model<CoreV1Event>({ metadata: { name: "e" }, involvedObject: { kind: "DropTrace", name: "t" }, reason: "Started", message: "m" }),
      }),
    );
    expect(err.code).toBe(422);
    expect(err.body.message).toBe('Event "e" is invalid: involvedObject.namespace: Invalid value: "": does not match event.namespace');
  });
});

describe("optimistic concurrency", () => {
  it("answers 409 Conflict to a PUT with a stale resourceVersion", async () => {
    const created = await create(dropTrace("cas", {}, { v: "1" }));
    const first = { ...created, metadata: { ...created.metadata, labels: { v: "2" } } };
    const updated = (await c.custom.replaceClusterCustomObject({ ...dropTraces, name: "cas", body: first })) as Obj;
    expect(Number(updated.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));

    const stale = { ...created, metadata: { ...created.metadata, labels: { v: "3" } } };
    const err = await failure(c.custom.replaceClusterCustomObject({ ...dropTraces, name: "cas", body: stale }));
    expect(err.code).toBe(409);
    expect(err.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'Operation cannot be fulfilled on droptraces.droptrace.io "cas": the object has been modified; please apply your changes to the latest version and try again',
      reason: "Conflict",
      details: { name: "cas", group: "droptrace.io", kind: "droptraces" },
      code: 409,
    });
  });

  it("stores nothing for an update that changes nothing", async () => {
    const created = await create(dropTrace("same"));
    const again = (await c.custom.replaceClusterCustomObject({ ...dropTraces, name: "same", body: created })) as Obj;
    expect(again.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
  });
});

describe("validation", () => {
  it("answers 422 with the real message and causes", async () => {
    const err = await failure(create(dropTrace("bad", { topN: 0 })));
    expect(err.code).toBe(422);
    expect(err.body.reason).toBe("Invalid");
    expect(err.body.message).toBe(
      'DropTrace.droptrace.io "bad" is invalid: spec.topN: Invalid value: 0: spec.topN in body should be greater than or equal to 1',
    );
    expect(err.body.details).toEqual({
      name: "bad",
      group: "droptrace.io",
      kind: "DropTrace",
      causes: [{ reason: "FieldValueInvalid", message: "Invalid value: 0: spec.topN in body should be greater than or equal to 1", field: "spec.topN" }],
    });
  });

  it("names list items, enums and CEL rules at their field paths", async () => {
    const err = await failure(
      create(dropTrace("bad", { duration: "10s", reportInterval: "30s", filter: { interfaces: ["eth0", "bad name"], reasons: ["NOPE"] } })),
    );
    expect(err.code).toBe(422);
    const causes = err.body.details?.causes ?? [];
    expect(causes.map((x) => [x.field, x.reason])).toEqual([
      ["spec.filter.interfaces[1]", "FieldValueInvalid"],
      ["spec.filter.reasons[0]", "FieldValueNotSupported"],
      ["<nil>", "FieldValueInvalid"],
    ]);
    expect(causes[0]?.message).toBe(`Invalid value: "bad name": spec.filter.interfaces[1] in body should match '^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}[*]?$'`);
    expect(causes[2]?.message).toContain("some validation rules were not checked because the object was invalid");
  });

  it("reports a failed CEL rule with its message at the rule's field path", async () => {
    const err = await failure(create(dropTrace("cel", { duration: "10s", reportInterval: "30s" })));
    expect(err.body.message).toBe(
      'DropTrace.droptrace.io "cel" is invalid: spec.reportInterval: Invalid value: "object": reportInterval must not be longer than duration',
    );
  });

  it("refuses an object larger than etcd accepts with the bare 500 the real server passes through", async () => {
    const big = "x".repeat(1_600_000);
    const err = await failure(c.custom.createNamespacedCustomObject({ ...widgets, namespace: "default", body: widget("big", { size: 1, labels: { big } }) }));
    expect(err.code).toBe(500);
    expect(err.body).toEqual({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "etcdserver: request is too large", code: 500 });
  });

  it("refuses a name that is not a DNS subdomain", async () => {
    const err = await failure(create(dropTrace("Not_A_Name")));
    expect(err.body.details?.causes?.[0]?.field).toBe("metadata.name");
    expect(err.body.details?.causes?.[0]?.message).toMatch(/^Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain/);
  });

  it("prunes unknown fields with a warning by default and refuses them with fieldValidation=Strict", async () => {
    const created = await create(dropTrace("extra", { topN: 3, colour: "red" }));
    expect(created.spec).not.toHaveProperty("colour");
    const warned = c.server.requests.at(-1);
    expect(warned?.status).toBe(201);

    const err = await failure(c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("strict", { colour: "red" }), fieldValidation: "Strict" }));
    expect(err.code).toBe(400);
    expect(err.body.message).toBe('DropTrace in version "v1alpha1" cannot be handled as a DropTrace: strict decoding error: unknown field "spec.colour"');
  });

  it("keeps spec immutable through the CRD's transition rule on update only", async () => {
    const created = await create(dropTrace("frozen", { duration: "90s" }));
    const changed = { ...created, spec: { ...created.spec, duration: "2m" } };
    const err = await failure(c.custom.replaceClusterCustomObject({ ...dropTraces, name: "frozen", body: changed }));
    expect(err.code).toBe(422);
    expect(err.body.details?.causes).toEqual([
      {
        reason: "FieldValueInvalid",
        field: "spec",
        message: 'Invalid value: "object": spec is immutable once created; delete this DropTrace and apply a new one',
      },
    ]);
  });

  it("validates a DaemonSet's selector against its template labels", async () => {
    const err = await failure(
      c.apps.createNamespacedDaemonSet({
        namespace: "default",
        body: model<V1DaemonSet>({
          metadata: { name: "ds" },
          spec: {
            selector: { matchLabels: { app: "a" } },
            template: { metadata: { labels: { app: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } },
          },
        }),
      }),
    );
    expect(err.code).toBe(422);
    expect(err.body.details?.causes?.[0]).toEqual({
      reason: "FieldValueInvalid",
      field: "spec.template.metadata.labels",
      message: 'Invalid value: map[string]interface {}{"app":"b"}: `selector` does not match template `labels`',
    });
  });
});
