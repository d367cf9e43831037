// CustomResourceDefinitions written through the API: established and served right after create
// (what helm install and kubectl apply of a CRD rely on), re-served on update, and on delete
// their instances deleted and their kind no longer served.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { defaultCrdDir } from "./crd.js";
import { startTestApiServer, type TestApiServer } from "./apiserver.js";
import { raw, tableAccept, watchEvents } from "./apiserver-http-helpers.js";
import { until } from "./until.js";

const crdManifest = (file: string) => parse(readFileSync(path.join(defaultCrdDir, file), "utf8")) as Record<string, unknown>;
const crdsPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

let server: TestApiServer;
afterEach(async () => {
  await server.close();
});

interface Crd {
  metadata: { name: string; generation?: number; deletionTimestamp?: string; finalizers?: string[] };
  status?: {
    conditions?: { type: string; status: string; reason: string; message: string }[];
    acceptedNames?: Record<string, unknown>;
    storedVersions?: string[];
  };
}
const condition = (crd: Crd, type: string) => crd.status?.conditions?.find((c) => c.type === type);

describe("CRDs through the API", () => {
  it("establishes a created CRD right after, then serves its kind with the CRD's validation", async () => {
    server = await startTestApiServer({ crdDirs: [] });
    expect((await raw(server, "/apis/droptrace.io/v1alpha1")).status).toBe(404);
    const events = watchEvents(server, `${crdsPath}?watch=true`, 2);
    const created = await raw(server, crdsPath, { method: "POST", body: crdManifest("droptraces.droptrace.io.yaml") });
    expect(created.status).toBe(201);
    const crd = created.json as Crd;
    expect(crd.metadata.generation).toBe(1);
    expect(crd.status).toEqual({ acceptedNames: { plural: "", kind: "" }, storedVersions: ["v1alpha1"] });
    const [added, modified] = await events;
    expect(added?.type).toBe("ADDED");
    expect(modified?.type).toBe("MODIFIED");
    const established = modified?.object as unknown as Crd;
    expect(condition(established, "Established")).toMatchObject({
      status: "True",
      reason: "InitialNamesAccepted",
      message: "the initial names have been accepted",
    });
    expect(condition(established, "NamesAccepted")).toMatchObject({ status: "True", reason: "NoConflicts", message: "no conflicts found" });
    expect(established.status?.acceptedNames).toMatchObject({ kind: "DropTrace", plural: "droptraces", shortNames: ["dt"] });

    const discovery = await raw(server, "/apis/droptrace.io/v1alpha1");
    expect((discovery.json as { resources: { name: string }[] }).resources.map((r) => r.name)).toEqual(["droptraces", "droptraces/status"]);
    const invalid = await raw(server, "/apis/droptrace.io/v1alpha1/droptraces", {
      method: "POST",
      body: { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name: "zero" }, spec: { topN: 0 } },
    });
    expect(invalid.status).toBe(422);
    expect((invalid.json as { message: string }).message).toBe(
      'DropTrace.droptrace.io "zero" is invalid: spec.topN: Invalid value: 0: spec.topN in body should be greater than or equal to 1',
    );
  });

  it("holds the CRDs it serves from the start as Established objects, listed as kubectl get crd lists them", async () => {
    server = await startTestApiServer();
    const list = await raw(server, crdsPath, { headers: { Accept: tableAccept } });
    const t = list.json as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
    expect(t.columnDefinitions.map((d) => d.name)).toEqual(["Name", "Created At"]);
    expect(t.rows.map((r) => r.cells[0])).toEqual(["droptracereports.droptrace.io", "droptraces.droptrace.io"]);
    const crd = (await raw(server, `${crdsPath}/droptraces.droptrace.io`)).json as Crd;
    expect(condition(crd, "Established")?.status).toBe("True");
    const again = await raw(server, crdsPath, { method: "POST", body: crdManifest("droptraces.droptrace.io.yaml") });
    expect(again.status).toBe(409);
  });

  it("refuses a CRD whose name is not plural.group", async () => {
    server = await startTestApiServer({ crdDirs: [] });
    const manifest = crdManifest("droptraces.droptrace.io.yaml");
    (manifest["metadata"] as Record<string, unknown>)["name"] = "traces.droptrace.io";
    const res = await raw(server, crdsPath, { method: "POST", body: manifest });
    expect(res.status).toBe(422);
    expect((res.json as { message: string }).message).toBe(
      'CustomResourceDefinition.apiextensions.k8s.io "traces.droptrace.io" is invalid: metadata.name: Invalid value: "traces.droptrace.io": must be spec.names.plural+"."+spec.group',
    );
  });

  it("serves an updated CRD's new printer columns", async () => {
    server = await startTestApiServer();
    const crd = (await raw(server, `${crdsPath}/droptraces.droptrace.io`)).json as Record<string, unknown>;
    const spec = crd["spec"] as { versions: { additionalPrinterColumns: unknown[] }[] };
    spec.versions[0]?.additionalPrinterColumns.push({ name: "Duration", type: "string", jsonPath: ".spec.duration" });
    expect((await raw(server, `${crdsPath}/droptraces.droptrace.io`, { method: "PUT", body: crd })).status).toBe(200);
    await raw(server, "/apis/droptrace.io/v1alpha1/droptraces", {
      method: "POST",
      body: { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name: "d" }, spec: { duration: "90s" } },
    });
    const t = (await raw(server, "/apis/droptrace.io/v1alpha1/droptraces", { headers: { Accept: tableAccept } })).json as { rows: { cells: unknown[] }[] };
    expect(t.rows[0]?.cells.at(-1)).toBe("90s");
  });

  it("deletes a CRD's instances, then the CRD, then stops serving its kind", async () => {
    server = await startTestApiServer();
    for (const name of ["a", "b"]) {
      await raw(server, "/apis/droptrace.io/v1alpha1/droptraces", {
        method: "POST",
        body: { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name }, spec: {} },
      });
    }
    const deleted = await raw(server, `${crdsPath}/droptraces.droptrace.io`, { method: "DELETE" });
    expect(deleted.status).toBe(200);
    const marked = deleted.json as Crd;
    expect(marked.metadata.deletionTimestamp).toBeDefined();
    expect(marked.metadata.finalizers).toEqual(["customresourcecleanup.apiextensions.k8s.io"]);
    expect(condition(marked, "Terminating")).toMatchObject({ status: "True", reason: "InstanceDeletionPending" });
    await until("the CRD to be deleted", () => server.store.get("apiextensions.k8s.io/customresourcedefinitions", "", "droptraces.droptrace.io") === undefined);
    expect(server.store.list("droptrace.io/droptraces")).toEqual([]);
    expect((await raw(server, "/apis/droptrace.io/v1alpha1/droptraces")).status).toBe(404);
    const reports = (await raw(server, "/apis/droptrace.io/v1alpha1")).json as { resources: { name: string }[] };
    expect(reports.resources.map((r) => r.name)).toEqual(["droptracereports"]);
  });
});
