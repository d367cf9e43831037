// The real kubectl (/usr/bin/kubectl, v1.32) against the test API server: get with server-side
// printing, get -w, apply with server-side strict validation (OpenAPI v3 says fieldValidation is
// supported), apply of a change as a patch, the real refusals, and describe with events.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApiServer, type TestApiServer } from "./apiserver.js";
import { Cli, manifest, tableLines } from "./apiserver-cli-helpers.js";
import { raw } from "./apiserver-http-helpers.js";
import { until } from "./until.js";

const example = path.resolve(import.meta.dirname, "../../examples/all-nodes-one-minute.yaml");

let server: TestApiServer;
let cli: Cli;
beforeAll(async () => {
  server = await startTestApiServer({ namespaces: ["default", "kube-system", "droptrace-system"] });
  cli = new Cli(server);
});
afterAll(async () => {
  cli.cleanup();
  await server.close();
});

const ok = async (args: string[], input?: string) => {
  const r = await cli.kubectl(args, input === undefined ? {} : { input });
  expect(r.stderr).toBe("");
  expect(r.exitCode).toBe(0);
  return r.stdout;
};
const setStatus = (name: string, status: Record<string, unknown>) =>
  raw(server, `/apis/droptrace.io/v1alpha1/droptraces/${name}/status`, {
    method: "PATCH",
    body: { status },
    headers: { "Content-Type": "application/merge-patch+json" },
  });

describe("kubectl apply", () => {
  it("creates the example with fieldValidation=Strict, then applies a changed label as a merge patch", async () => {
    expect(await ok(["apply", "-f", example])).toBe("droptrace.droptrace.io/all-nodes created");
    const create = server.requests.find((r) => r.method === "POST" && r.path === "/apis/droptrace.io/v1alpha1/droptraces");
    expect(create?.query).toContain("fieldValidation=Strict");
    expect(server.requests.some((r) => r.path === "/openapi/v3/apis/droptrace.io/v1alpha1")).toBe(true);
    expect(await ok(["apply", "-f", example])).toBe("droptrace.droptrace.io/all-nodes unchanged");

    const labelled = manifest(
      cli,
      "labelled.yaml",
      "apiVersion: droptrace.io/v1alpha1\nkind: DropTrace\nmetadata:\n  name: all-nodes\n  labels: {team: net}\nspec:\n  duration: 60s\n",
    );
    expect(await ok(["apply", "-f", labelled])).toBe("droptrace.droptrace.io/all-nodes configured");
    expect(server.requests.at(-1)).toMatchObject({ method: "PATCH", path: "/apis/droptrace.io/v1alpha1/droptraces/all-nodes", status: 200 });
    expect(server.store.get("droptrace.io/droptraces", "", "all-nodes")?.["metadata"]).toMatchObject({ labels: { team: "net" } });
  });

  it("creates a built-in kind and applies a change to it as a strategic merge patch", async () => {
    const ns = (team: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: applied\n  labels: {team: ${team}}\n`;
    expect(await ok(["apply", "-f", "-"], ns("a"))).toBe("namespace/applied created");
    expect(await ok(["apply", "-f", "-"], ns("b"))).toBe("namespace/applied configured");
    expect(await ok(["get", "ns", "applied", "--show-labels", "--no-headers"])).toMatch(
      /^applied\s+Active\s+\d+s\s+kubernetes\.io\/metadata\.name=applied,team=b$/,
    );
  });

  it("refuses a typo with the real strict decoding error and an invalid value with the real 422", async () => {
    const typo = manifest(cli, "typo.yaml", "apiVersion: droptrace.io/v1alpha1\nkind: DropTrace\nmetadata:\n  name: typo\nspec:\n  duration: 60s\n  x: 1\n");
    const refused = await cli.kubectl(["apply", "-f", typo]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe(
      `Error from server (BadRequest): error when creating "${typo}": DropTrace in version "v1alpha1" cannot be handled as a DropTrace: strict decoding error: unknown field "spec.x"`,
    );
    const existing = manifest(
      cli,
      "typo2.yaml",
      "apiVersion: droptrace.io/v1alpha1\nkind: DropTrace\nmetadata:\n  name: all-nodes\nspec:\n  duration: 60s\n  x: 1\n",
    );
    const patched = await cli.kubectl(["apply", "-f", existing]);
    expect(patched.stderr).toMatch(/^The request is invalid: patch: Invalid value: ".*": strict decoding error: unknown field "spec\.x"$/);
    const zero = manifest(cli, "zero.yaml", "apiVersion: droptrace.io/v1alpha1\nkind: DropTrace\nmetadata:\n  name: zero\nspec:\n  duration: 60s\n  topN: 0\n");
    const invalid = await cli.kubectl(["apply", "-f", zero]);
    expect(invalid.stderr).toBe('The DropTrace "zero" is invalid: spec.topN: Invalid value: 0: spec.topN in body should be greater than or equal to 1');
  });
});

describe("kubectl get", () => {
  it("prints DropTraces and their reports with the CRDs' printer columns", async () => {
    await setStatus("all-nodes", { phase: "Running", nodeProgress: "1/3", totalDrops: 42, topSymbol: "tcp_v4_rcv", topWorkload: "Deployment shop/cart" });
    expect(tableLines(await ok(["get", "dt"]))).toEqual([
      "NAME | PHASE | NODES | DROPS | TOP SYMBOL | TOP WORKLOAD | AGE",
      expect.stringMatching(/^all-nodes \| Running \| 1\/3 \| 42 \| tcp_v4_rcv \| Deployment shop\/cart \| \d+s$/),
    ]);
    const report = {
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTraceReport",
      metadata: { name: "all-nodes-node-a" },
      spec: { trace: "all-nodes", node: "node-a" },
    };
    expect((await raw(server, "/apis/droptrace.io/v1alpha1/droptracereports", { method: "POST", body: report })).status).toBe(201);
    expect(tableLines(await ok(["get", "droptracereports"]))).toEqual([
      "NAME | TRACE | NODE | PHASE | DROPS | KERNEL | AGE",
      expect.stringMatching(/^all-nodes-node-a \| all-nodes \| node-a \| \d+s$/),
    ]);
  });

  it("prints DaemonSets and pods of a namespace, and events of every namespace", async () => {
    const ds = {
      metadata: { name: "droptrace-all-nodes" },
      spec: {
        selector: { matchLabels: { app: "agent" } },
        template: {
          metadata: { labels: { app: "agent" } },
          spec: { nodeSelector: { "kubernetes.io/os": "linux" }, containers: [{ name: "agent", image: "agent:1" }] },
        },
      },
    };
    expect((await raw(server, "/apis/apps/v1/namespaces/droptrace-system/daemonsets", { method: "POST", body: ds })).status).toBe(201);
    const pod = {
      metadata: { name: "droptrace-all-nodes-x2k9q", labels: { app: "agent" } },
      spec: { nodeName: "node-a", containers: [{ name: "agent", image: "agent:1" }] },
    };
    expect((await raw(server, "/api/v1/namespaces/droptrace-system/pods", { method: "POST", body: pod })).status).toBe(201);
    const out = tableLines(await ok(["-n", "droptrace-system", "get", "ds,pods"]));
    expect(out[0]).toBe("NAME | DESIRED | CURRENT | READY | UP-TO-DATE | AVAILABLE | NODE SELECTOR | AGE");
    expect(out[1]).toMatch(/^daemonset\.apps\/droptrace-all-nodes \| 0 \| 0 \| 0 \| 0 \| 0 \| kubernetes\.io\/os=linux \| \d+s$/);
    expect(out[3]).toBe("NAME | READY | STATUS | RESTARTS | AGE");
    expect(out[4]).toMatch(/^pod\/droptrace-all-nodes-x2k9q \| 0\/1 \| Pending \| 0 \| \d+s$/);

    const uid = (server.store.get("droptrace.io/droptraces", "", "all-nodes")?.["metadata"] as { uid: string }).uid;
    const event = {
      metadata: { name: "all-nodes.1" },
      involvedObject: { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "all-nodes", uid },
      reason: "Started",
      message: "Tracing 3 nodes",
      type: "Normal",
      source: { component: "droptrace-controller" },
      firstTimestamp: new Date().toISOString(),
      lastTimestamp: new Date().toISOString(),
      count: 1,
    };
    expect((await raw(server, "/api/v1/namespaces/default/events", { method: "POST", body: event })).status).toBe(201);
    expect(tableLines(await ok(["get", "events", "-A"]))).toEqual([
      "NAMESPACE | LAST SEEN | TYPE | REASON | OBJECT | MESSAGE",
      expect.stringMatching(/^default \| \d+s \| Normal \| Started \| droptrace\/all-nodes \| Tracing 3 nodes$/),
    ]);
  });

  it("describes a DropTrace with its events, found in default by involvedObject field selectors", async () => {
    const out = await ok(["describe", "dt", "all-nodes"]);
    expect(out).toMatch(/^Name:\s+all-nodes$/m);
    expect(out).toMatch(/^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n.*\n\s+Normal\s+Started\s+\d+s\s+droptrace-controller\s+Tracing 3 nodes$/m);
    const events = server.requests.filter((r) => r.path === "/api/v1/events").at(-1);
    const selector = new URLSearchParams(events?.query ?? "").get("fieldSelector")?.split(",").sort();
    expect(selector).toEqual([
      "involvedObject.kind=DropTrace",
      "involvedObject.name=all-nodes",
      "involvedObject.namespace=",
      expect.stringMatching(/^involvedObject\.uid=[0-9a-f-]{36}$/),
    ]);
  });

  it("watches with get -w: the row, then a row per change", async () => {
    const watch = cli.spawnKubectl(["get", "dt", "all-nodes", "-w"]);
    // A chunk may end inside a line (seen: "NAME" alone, then the rest of the header): only
    // complete lines count.
    let text = "";
    watch.stdout.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    const completeLines = () =>
      text
        .slice(0, text.lastIndexOf("\n") + 1)
        .split("\n")
        .filter((l) => l !== "");
    try {
      await until("the header and the row", () => completeLines().length >= 2, { everyMs: 50 });
      await setStatus("all-nodes", { phase: "Completed", nodeProgress: "3/3", totalDrops: 1125 });
      await until("the changed row", () => completeLines().length >= 3, { everyMs: 50 });
    } finally {
      watch.kill();
      await watch;
    }
    expect(tableLines(completeLines().join("\n"))).toEqual([
      "NAME | PHASE | NODES | DROPS | TOP SYMBOL | TOP WORKLOAD | AGE",
      expect.stringMatching(/^all-nodes \| Running \| 1\/3 \| 42 \| tcp_v4_rcv \| Deployment shop\/cart \| \d+s$/),
      expect.stringMatching(/^all-nodes \| Completed \| 3\/3 \| 1125 \| tcp_v4_rcv \| Deployment shop\/cart \| \d+s$/),
    ]);
    expect(server.requests.some((r) => r.query.includes("watch=true") && r.path === "/apis/droptrace.io/v1alpha1/droptraces")).toBe(true);
  });
});
