// The agent's own requests (src/agent/api-requests.ts), against the test API server: they must
// behave as the generated client's did for the agent's callers: the answer's JSON, ApiException
// with the status for isNotFound/isConflict, a server URL ending in a slash. That they carry the
// kubeconfig's credentials is shown by the walkthrough's RBAC test (requests made as the agent).
import { CoreV1Api, KubeConfig, type V1Namespace, type V1Pod } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listPods, reportApi } from "../../src/agent/api-requests.js";
import { DROPTRACE_REPORT, GROUP, VERSION } from "../../src/api/constants.js";
import { isConflict, isNotFound } from "../../src/kube/api.js";
import { model } from "../support/apiserver-test-helpers.js";
import { startTestApiServer, type TestApiServer } from "../support/apiserver.js";

const REPORTS = { group: GROUP, version: VERSION, plural: DROPTRACE_REPORT.plural };

let server: TestApiServer;

beforeEach(async () => {
  server = await startTestApiServer();
});

afterEach(async () => {
  await server.close();
});

const reportBody = (name: string, resourceVersion?: string, labels: Record<string, string> = {}) => ({
  apiVersion: `${GROUP}/${VERSION}`,
  kind: DROPTRACE_REPORT.kind,
  metadata: { name, labels, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
  spec: { trace: "dt1", node: "node-a" },
});

/** The server's own URL with a trailing slash: the join must not make `//apis`. */
function withTrailingSlash(kc: KubeConfig): KubeConfig {
  const cluster = kc.getCurrentCluster();
  const copy = new KubeConfig();
  copy.loadFromString(kc.exportConfig());
  copy.clusters = copy.clusters.map((c) => (c.name === cluster?.name ? { ...c, server: `${c.server}/` } : c));
  return copy;
}

describe("the agent's report requests", () => {
  it("reads nothing as 404, creates, reads back, replaces, and refuses a stale resourceVersion as 409", async () => {
    const api = reportApi(withTrailingSlash(server.kubeConfig));
    const missing = await api.getClusterCustomObject({ ...REPORTS, name: "dt1-node-a" }).catch((err: unknown) => err);
    expect(isNotFound(missing)).toBe(true);

    const created = (await api.createClusterCustomObject({ ...REPORTS, body: reportBody("dt1-node-a") })) as { metadata: { resourceVersion: string } };
    const read = (await api.getClusterCustomObject({ ...REPORTS, name: "dt1-node-a" })) as { metadata: { resourceVersion: string }; spec: unknown };
    expect(read.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(read.spec).toEqual(reportBody("dt1-node-a").spec);

    const replaced = (await api.replaceClusterCustomObject({
      ...REPORTS,
      name: "dt1-node-a",
      body: reportBody("dt1-node-a", created.metadata.resourceVersion, { changed: "yes" }),
    })) as { metadata: { resourceVersion: string } };
    expect(replaced.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
    const stale = await api
      .replaceClusterCustomObject({ ...REPORTS, name: "dt1-node-a", body: reportBody("dt1-node-a", created.metadata.resourceVersion) })
      .catch((err: unknown) => err);
    expect(isConflict(stale)).toBe(true);
    expect(String(stale)).toContain("409");
  });
});

describe("the agent's pod list", () => {
  it("lists the pods the field selector names, across namespaces, with the list's resourceVersion", async () => {
    const core = server.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: model<V1Namespace>({ metadata: { name: "shop" } }) });
    for (const [name, node] of [
      ["cart-1", "node-a"],
      ["cart-2", "node-b"],
    ] as const) {
      await core.createNamespacedPod({
        namespace: "shop",
        body: model<V1Pod>({ metadata: { name }, spec: { nodeName: node, containers: [{ name: "c", image: "i" }] } }),
      });
    }
    const list = await listPods(server.kubeConfig, "spec.nodeName=node-a");
    expect(list.items.map((p) => p.metadata?.name)).toEqual(["cart-1"]);
    expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
  });
});
