// Deletion: owner references (the emulated garbage collector), propagation policies, finalizers,
// namespaces.
import type { V1DaemonSet, V1DeleteOptions, V1Namespace, V1OwnerReference } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  daemonSet,
  dropTrace,
  dropTraces,
  failure,
  mergePatch,
  model,
  reports,
  startWithClients,
  type Clients,
  type Obj,
  type Plain,
} from "./apiserver-test-helpers.js";
import { until } from "./until.js";

let c: Clients;
beforeEach(async () => {
  c = await startWithClients();
});
afterEach(async () => {
  await c.server.close();
});

const ns = "droptrace-system";

const namespace = (name: string) => model<V1Namespace>({ metadata: { name } });

async function ownerWithDependents(name: string): Promise<{ owner: Obj; ref: Plain<V1OwnerReference> }> {
  await c.core.createNamespace({ body: namespace(ns) });
  const owner = (await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace(name) })) as Obj;
  const ref: Plain<V1OwnerReference> = {
    apiVersion: "droptrace.io/v1alpha1",
    kind: "DropTrace",
    name,
    uid: owner.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
  await c.apps.createNamespacedDaemonSet({
    namespace: ns,
    body: model<V1DaemonSet>({ ...daemonSet(`droptrace-${name}`), metadata: { name: `droptrace-${name}`, ownerReferences: [ref] } }),
  });
  await c.custom.createClusterCustomObject({
    ...reports,
    body: {
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTraceReport",
      metadata: { name: `${name}-worker-1`, ownerReferences: [{ ...ref, controller: false }] },
      spec: { trace: name, node: "worker-1" },
    },
  });
  return { owner, ref };
}

const dsNames = async () => (await c.apps.listDaemonSetForAllNamespaces()).items.map((d) => d.metadata?.name);
const reportNames = async () => ((await c.custom.listClusterCustomObject(reports)) as { items: Obj[] }).items.map((r) => r.metadata.name);

describe("garbage collection", () => {
  it("deletes a DropTrace's DaemonSet and reports with it (Background, the default)", async () => {
    await ownerWithDependents("t");
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("unrelated") });
    expect(await dsNames()).toEqual(["droptrace-t"]);
    const status = (await c.custom.deleteClusterCustomObject({ ...dropTraces, name: "t" })) as Record<string, unknown>;
    expect(status["status"]).toBe("Success");
    expect(status["details"]).toMatchObject({ name: "t", group: "droptrace.io", kind: "droptraces" });
    expect(await dsNames()).toEqual([]);
    expect(await reportNames()).toEqual([]);
    const left = (await c.custom.listClusterCustomObject(dropTraces)) as { items: Obj[] };
    expect(left.items.map((i) => i.metadata.name)).toEqual(["unrelated"]);
  });

  it("with Foreground, shows the owner deleting until its dependents are gone", async () => {
    await ownerWithDependents("t");
    const seen: string[] = [];
    c.server.store.watchers.add({
      key: "droptrace.io/droptraces",
      deliver: (e) => seen.push(`${e.type} ${JSON.stringify((e.object["metadata"] as { finalizers?: string[] }).finalizers ?? [])}`),
    });
    c.server.store.watchers.add({ key: "apps/daemonsets", deliver: (e) => seen.push(`${e.type} daemonset`) });
    await c.custom.deleteClusterCustomObject({ ...dropTraces, name: "t", propagationPolicy: "Foreground" });
    expect(seen).toEqual(['MODIFIED ["foregroundDeletion"]', "DELETED daemonset", "DELETED []"]);
    expect(await reportNames()).toEqual([]);
  });

  it("with Orphan, leaves the dependents without the owner reference", async () => {
    await ownerWithDependents("t");
    await c.custom.deleteClusterCustomObject({ ...dropTraces, name: "t", propagationPolicy: "Orphan" });
    const ds = await c.apps.readNamespacedDaemonSet({ name: "droptrace-t", namespace: ns });
    expect(ds.metadata?.ownerReferences).toBeUndefined();
    expect(await reportNames()).toEqual(["t-worker-1"]);
  });

  it("keeps a dependent that still has another owner, dropping the dead reference", async () => {
    const { ref } = await ownerWithDependents("t");
    const other = (await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("u") })) as Obj;
    await c.custom.patchClusterCustomObject(
      {
        ...reports,
        name: "t-worker-1",
        body: {
          metadata: {
            ownerReferences: [
              { ...ref, controller: false },
              { ...ref, name: "u", uid: other.metadata.uid, controller: false },
            ],
          },
        },
      },
      mergePatch,
    );
    await c.custom.deleteClusterCustomObject({ ...dropTraces, name: "t" });
    const report = (await c.custom.getClusterCustomObject({ ...reports, name: "t-worker-1" })) as Obj;
    expect((report.metadata["ownerReferences"] as Plain<V1OwnerReference>[]).map((r) => r.name)).toEqual(["u"]);
  });

  it("collects an object whose owner does not exist", async () => {
    await c.core.createNamespace({ body: namespace(ns) });
    await c.apps.createNamespacedDaemonSet({
      namespace: ns,
      body: model<V1DaemonSet>({
        ...daemonSet("orphan"),
        metadata: { name: "orphan", ownerReferences: [{ apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "nope", uid: "0000" }] },
      }),
    });
    await until("the orphan to be collected", () => c.server.store.get("apps/daemonsets", ns, "orphan") === undefined);
  });
});

describe("finalizers", () => {
  it("keeps an object with finalizers, with a deletionTimestamp, until the last one is removed", async () => {
    await c.custom.createClusterCustomObject({ ...dropTraces, body: { ...dropTrace("f"), metadata: { name: "f", finalizers: ["droptrace.io/cleanup"] } } });
    const deleting = (await c.custom.deleteClusterCustomObject({ ...dropTraces, name: "f" })) as Obj;
    expect(deleting.metadata["deletionTimestamp"]).toMatch(/Z$/);
    expect(deleting.metadata.generation).toBe(2);
    const still = (await c.custom.getClusterCustomObject({ ...dropTraces, name: "f" })) as Obj;
    expect(still.metadata["finalizers"]).toEqual(["droptrace.io/cleanup"]);

    const added = await failure(
      c.custom.patchClusterCustomObject({ ...dropTraces, name: "f", body: { metadata: { finalizers: ["droptrace.io/cleanup", "x.io/y"] } } }, mergePatch),
    );
    expect(added.code).toBe(422);
    expect(added.body.details?.causes?.[0]?.field).toBe("metadata.finalizers");

    await c.custom.patchClusterCustomObject({ ...dropTraces, name: "f", body: { metadata: { finalizers: null } } }, mergePatch);
    expect((await failure(c.custom.getClusterCustomObject({ ...dropTraces, name: "f" }))).code).toBe(404);
  });

  it("checks delete preconditions", async () => {
    const created = (await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("p") })) as Obj;
    const err = await failure(
      c.custom.deleteClusterCustomObject({ ...dropTraces, name: "p", body: model<V1DeleteOptions>({ preconditions: { uid: "not-it" } }) }),
    );
    expect(err.code).toBe(409);
    expect(err.body.message).toBe(
      `Operation cannot be fulfilled on droptraces.droptrace.io "p": Precondition failed: UID in precondition: not-it, UID in object meta: ${created.metadata.uid ?? ""}`,
    );
  });
});

describe("namespaces", () => {
  it("deletes a namespace's content and then the namespace", async () => {
    await c.core.createNamespace({ body: namespace(ns) });
    await c.apps.createNamespacedDaemonSet({ namespace: ns, body: model<V1DaemonSet>(daemonSet("a")) });
    await c.core.deleteNamespace({ name: ns });
    expect(await dsNames()).toEqual([]);
    expect((await failure(c.core.readNamespace({ name: ns }))).code).toBe(404);
  });
});
