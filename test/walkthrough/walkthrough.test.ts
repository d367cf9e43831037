// The README's walkthrough, run for real: the real helm installs the chart into the test API
// server, the real kubectl applies the example and reads the results, the real controller
// (dist/src/cli/main.js, started from the Deployment helm created) schedules agents, and agents
// (the agent code, SystemTap replaying what the probe printed on Debian's 7.2 kernel) write
// their reports, each with its service account's token under the chart's RBAC, enforced.
// What a cluster would run but this machine cannot is played by kubelet.ts (its header says how).
//
// The README's console blocks must be this run's output (normalize() hides ages, timestamps,
// uids); DROPTRACE_UPDATE_README=1 rewrites them from a run. The test also checks what the
// output means (phases, counts, the failing node's message), and that every request the
// controller and the agents made was allowed by the chart's RBAC.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DROPTRACE, DROPTRACE_REPORT, GROUP, VERSION } from "../../src/api/constants.js";
import type { DropTraceStatus } from "../../src/api/droptrace.js";
import type { DropTraceReportStatus } from "../../src/api/report.js";
import { helmBinary, kubectlBinary } from "../chart/helm.js";
import type { TestApiServer } from "../support/apiserver.js";
import { until, type UntilOptions } from "../support/until.js";
import { IMAGES, NAMESPACE, SERVICE_ACCOUNTS, startWalkthroughCluster, type WalkthroughCluster } from "./cluster.js";
import type { Kubelet } from "./kubelet.js";
import { normalize, readmeBlocks, rewriteReadme, Transcript } from "./transcript.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const README = path.join(repoRoot, "README.md");
const TRACE = "all-nodes";

/** "namespace group/resource[/subresource] verb", the chart test's notation plus where. */
function permission(a: { verb: string; apiGroup: string; resource: string; subresource: string; namespace: string }): string {
  return `${a.namespace === "" ? "(cluster)" : a.namespace} ${a.apiGroup === "" ? "core" : a.apiGroup}/${a.resource}${a.subresource === "" ? "" : `/${a.subresource}`} ${a.verb}`;
}

/**
 * What each service account used in this walkthrough, as requests. test/chart/chart.test.ts lists
 * what the chart grants; the controller's grants this walkthrough does not use as requests:
 * droptraces delete (ttlSecondsAfterFinished, which the example does not set), daemonsets update
 * (replacing a DaemonSet someone edited), and droptraces/finalizers update, which is not a request but what the API server
 * checks before it lets the controller create a DaemonSet with blockOwnerDeletion on its trace.
 * The agents use all they are granted.
 */
const USED: Record<(typeof SERVICE_ACCOUNTS)[number], string[]> = {
  [`${NAMESPACE}/droptrace-controller`]: [
    "(cluster) core/nodes list",
    "(cluster) core/nodes watch",
    "(cluster) core/pods list",
    "(cluster) core/pods watch",
    "(cluster) core/services list",
    "(cluster) core/services watch",
    "(cluster) droptrace.io/droptracereports list",
    "(cluster) droptrace.io/droptracereports watch",
    "(cluster) droptrace.io/droptraces list",
    "(cluster) droptrace.io/droptraces watch",
    "(cluster) droptrace.io/droptraces/status update",
    "default core/events create",
    "droptrace-system apps/daemonsets create",
    "droptrace-system apps/daemonsets delete",
    "droptrace-system apps/daemonsets list",
    "droptrace-system apps/daemonsets watch",
    "droptrace-system coordination.k8s.io/leases create",
    "droptrace-system coordination.k8s.io/leases get",
    "droptrace-system coordination.k8s.io/leases update",
    "droptrace-system core/events list",
    "droptrace-system core/events watch",
    "droptrace-system core/pods list",
    "droptrace-system core/pods watch",
  ],
  [`${NAMESPACE}/droptrace-agent`]: [
    "(cluster) core/pods list",
    "(cluster) core/pods watch",
    "(cluster) droptrace.io/droptracereports create",
    "(cluster) droptrace.io/droptracereports get",
    "(cluster) droptrace.io/droptracereports update",
  ],
};

/** Polling a whole installation (helm, the controller, agents' pods) every 200 ms is often enough. */
const within = (timeoutMs: number): UntilOptions => ({ timeoutMs, everyMs: 200 });

describe("the README walkthrough", () => {
  let cluster: WalkthroughCluster;
  let server: TestApiServer;
  let kubelet: Kubelet;
  let custom: CustomObjectsApi;
  const transcript = new Transcript();
  let env: Record<string, string>;
  let requestsBeforeUninstall = 0;

  const trace = async () =>
    (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE.plural, name: TRACE })) as { status?: DropTraceStatus };
  const report = async (node: string) =>
    (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE_REPORT.plural, name: `${TRACE}-${node}` })) as {
      status?: DropTraceReportStatus;
    };
  const metrics = (step: string, port: number, shownPort: number, names: string) =>
    transcript
      .run(step, "bash", ["-c", `curl -s http://127.0.0.1:${String(port)}/metrics | grep -E '^${names}'`], {
        shown: `curl -s localhost:${String(shownPort)}/metrics | grep -E '^${names}'`,
      })
      .then(() => undefined);
  const kubectl = (step: string, args: string[], shown?: string) =>
    transcript.run(step, kubectlBinary(), args, { env, shown: shown ?? `kubectl ${args.join(" ")}` });

  beforeAll(async () => {
    cluster = await startWalkthroughCluster("walkthrough");
    ({ server, kubelet, custom, env } = cluster);
  }, 60_000);

  afterAll(async () => {
    await cluster.close();
  });

  it("installs the chart, traces three nodes, reads the results, and uninstalls", async () => {
    const helm = helmBinary();
    // ---- install
    await transcript.run(
      "install",
      helm,
      ["install", "droptrace", path.join(repoRoot, "charts/droptrace"), "-n", NAMESPACE, "--create-namespace", "--server-side=false", ...IMAGES],
      { env, shown: `helm install droptrace charts/droptrace -n ${NAMESPACE} --create-namespace --server-side=false \\\n    ${IMAGES.join(" ")}` },
    );
    await kubectl("install", ["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=privileged", "--overwrite"]);
    await until(
      "the controller to be ready",
      async () => (await fetch(`http://127.0.0.1:${kubelet.metricsPort({ podPrefix: "droptrace-controller" })}/readyz`)).ok,
      within(30_000),
    );
    await kubectl("install", ["-n", NAMESPACE, "get", "deployments,pods"]);

    // ---- a trace
    await kubectl("apply", ["apply", "-f", path.join(repoRoot, "examples/all-nodes-one-minute.yaml")], "kubectl apply -f examples/all-nodes-one-minute.yaml");
    // While it runs: every node has written what it will write before the probe is stopped.
    await until(
      "every node's first reports to be merged",
      async () => {
        const t = await trace();
        return t.status?.phase === "Running" && t.status.totalDrops === 1_100 && (t.status.nodes?.failed ?? 0) === 1 ? t : undefined;
      },
      within(60_000),
    );
    await kubectl("running", ["get", "dt"]);
    await kubectl("running", ["-n", NAMESPACE, "get", "daemonsets,pods", "-o", "wide"]);
    // In a cluster: kubectl -n droptrace-system port-forward pod/<agent pod> 9102. Here every pod's
    // port is a port of this machine, so curl reaches it directly.
    await metrics("running", kubelet.metricsPort({ node: "node-a" }), 9102, "droptrace_agent_(drops|uncounted_drops|intervals|rows|report_writes)");
    const done = await until(
      "the trace to complete",
      async () => {
        const t = await trace();
        return t.status?.phase === "Completed" ? t : undefined;
      },
      within(120_000),
    );
    await kubectl("completed", ["get", "dt"]);
    await kubectl("describe", ["describe", "dt", TRACE]);
    await kubectl("reports", ["get", "droptracereports", "-l", `droptrace.io/trace=${TRACE}`]);
    await kubectl(
      "reports",
      ["get", "dtr", `${TRACE}-node-c`, "-o", 'jsonpath={.status.message}{"\\n"}'],
      `kubectl get dtr ${TRACE}-node-c -o jsonpath='{.status.message}{"\\n"}'`,
    );
    // Whose the drops on node-a's pod interfaces were: the pods of Deployment cart, named from the node's /proc and pods.
    await kubectl(
      "reports",
      [
        "get",
        "dtr",
        `${TRACE}-node-a`,
        "-o",
        `jsonpath={range .status.rows[?(@.interface=="eth0")]}{.count}{" "}{.reason}{" "}{.attribution}{" "}{.pod.namespace}/{.pod.name}{" "}{.workload.kind}/{.workload.name}{"\\n"}{end}`,
      ],
      `kubectl get dtr ${TRACE}-node-a -o jsonpath='{range .status.rows[?(@.interface=="eth0")]}{.count}{" "}{.reason}{" "}{.attribution}{" "}{.pod.namespace}/{.pod.name}{" "}{.workload.kind}/{.workload.name}{"\\n"}{end}'`,
    );

    // The flows behind cart's NO_SOCKET row, across nodes: who sent to which pod, on which port.
    const flowsPath = `{range .status.drops[?(@.reason=="NO_SOCKET")]}{range .flows[?(@.destination.name)]}{.count}{" "}{.protocol}{" "}{.source.name}:{.source.port}{" -> "}{.destination.name}:{.destination.port}{"\\n"}{end}{end}`;
    await kubectl("reports", ["get", "dt", TRACE, "-o", `jsonpath=${flowsPath}`], `kubectl get dt ${TRACE} -o jsonpath='${flowsPath}'`);

    // ---- what the output means
    expect(done.status?.totalDrops).toBe(1_140);
    expect((await report("node-a")).status?.phase).toBe("Completed");
    // Every eth0 row of node-a is one of cart's two pods, by namespace; the node's own namespace is host; no count was lost to naming.
    const nodeA = (await report("node-a")).status;
    const eth0 = nodeA?.rows.filter((r) => r.interface === "eth0") ?? [];
    expect(eth0.length).toBeGreaterThan(0);
    for (const r of eth0) expect(r).toMatchObject({ attribution: "netns", pod: { namespace: "shop" }, workload: { kind: "Deployment", name: "cart" } });
    expect(new Set(eth0.map((r) => r.pod?.name))).toEqual(new Set(["cart-5c8f9d7b6-q4w8z", "cart-5c8f9d7b6-m2n7p"]));
    expect(nodeA?.rows.filter((r) => r.interface === "lo").every((r) => r.attribution === "host")).toBe(true);
    expect(nodeA?.rows.reduce((sum, r) => sum + r.count, 0)).toBe(nodeA?.totalDrops);
    const eth0Status = done.status?.drops?.find((d) => d.interface === "eth0" && d.reason === "NO_SOCKET");
    expect(eth0Status).toMatchObject({ attribution: "netns", workload: { kind: "Deployment", name: "cart" } });
    expect(eth0Status?.pod).toBeUndefined();
    // Its flows are the recording's: from node-a's own addresses to the cart pods' IPs, UDP port 6000, named from the cluster.
    expect(eth0Status?.flows?.length).toBeGreaterThan(0);
    for (const f of eth0Status?.flows ?? []) {
      expect(f).toMatchObject({ protocol: "UDP", source: { name: "node-a" }, destination: { port: 6000 } });
      expect(f.destination.name).toMatch(/^shop\/cart-5c8f9d7b6-(q4w8z|m2n7p)$/);
    }
    expect((await report("node-b")).status?.phase).toBe("Completed");
    const failed = (await report("node-c")).status;
    expect(failed?.phase).toBe("Failed");
    expect(failed?.message).toContain("linux-headers-7.2.13+deb14-amd64");
    // The DaemonSet is gone once the trace completed: nothing runs while no trace is active.
    await until("the agents to be stopped", () => !kubelet.runningPods().some((p) => p.startsWith("droptrace-all-nodes")), within(60_000));
    await metrics("completed", kubelet.metricsPort({ podPrefix: "droptrace-controller" }), 8080, "droptrace_controller_(traces|is_leader|events_total)");

    // ---- uninstall: the trace, then the release; helm leaves CRDs (and so DropTraces) in place
    await kubectl("uninstall", ["delete", "dt", TRACE]);
    requestsBeforeUninstall = server.requests.length;
    await transcript.run("uninstall", helm, ["uninstall", "droptrace", "-n", NAMESPACE], { env, shown: `helm uninstall droptrace -n ${NAMESPACE}` });
    await until("the controller to be stopped", () => kubelet.runningPods().length === 0, within(60_000));
    await kubectl("uninstall", ["get", "crd", "-o", "name"]);
    await kubectl("uninstall", ["delete", "crd", "droptraces.droptrace.io", "droptracereports.droptrace.io"]);
  }, 300_000);

  it("needed no permission the chart does not grant, and used every one it grants but those named", () => {
    for (const sa of SERVICE_ACCOUNTS) {
      const [ns, name] = sa.split("/");
      const user = `system:serviceaccount:${ns ?? ""}:${name ?? ""}`;
      // Until helm uninstall: it deletes the bindings before the controller has stopped, whose
      // last lease renewals are then refused, on a cluster as here.
      const requests = server.requests.slice(0, requestsBeforeUninstall).filter((r) => r.user === user && r.attributes.resourceRequest);
      expect(requests.length, `requests made as ${user}`).toBeGreaterThan(0);
      expect(
        requests.filter((r) => !r.authorized).map((r) => `${r.method} ${r.path}${r.query}: ${r.status}`),
        `requests of ${user} RBAC refused`,
      ).toEqual([]);
      const used = [...new Set(requests.map((r) => permission(r.attributes)))].sort();
      expect(used, `permissions ${user} used`).toEqual(USED[sa]);
    }
  });

  it("keeps the README's walkthrough true", () => {
    const readme = readFileSync(README, "utf8");
    if (process.env["DROPTRACE_UPDATE_README"] === "1") {
      writeFileSync(README, rewriteReadme(readme, transcript));
      return;
    }
    const blocks = readmeBlocks(readme);
    expect([...blocks.keys()].sort()).toEqual([...transcript.steps.keys()].sort());
    for (const [step, block] of blocks) expect(normalize(block), `README walkthrough step ${step}`).toBe(normalize(transcript.block(step)));
  });
});
