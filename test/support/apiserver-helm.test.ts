// The real helm v4 against the test API server: install of the chart with client-side apply (its
// CRDs created through the API and established, its objects created, the release stored in a
// Secret by helm's protobuf client), list, status, --wait, uninstall; and the clear refusal of
// helm's default server-side apply.
import { afterEach, describe, expect, it } from "vitest";
import { CHART_DIR } from "../chart/helm.js";
import { startTestApiServer, type TestApiServer } from "./apiserver.js";
import { Cli } from "./apiserver-cli-helpers.js";
import { raw } from "./apiserver-http-helpers.js";
import { until } from "./until.js";

const NS = "droptrace-system";
let server: TestApiServer;
let cli: Cli;

afterEach(async () => {
  cli.cleanup();
  await server.close();
});

async function start(): Promise<void> {
  server = await startTestApiServer({ crdDirs: [], namespaces: ["default", "kube-system"] });
  cli = new Cli(server);
}

const get = (key: string, ns: string, name: string) => server.store.get(key, ns, name);
const conditions = (crd: Record<string, unknown> | undefined) =>
  (crd?.["status"] as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];

describe("helm", () => {
  it("installs the chart client-side, lists it, shows its status, and uninstalls it", async () => {
    await start();
    const install = await cli.helm(["install", "droptrace", CHART_DIR, "-n", NS, "--create-namespace", "--server-side=false"]);
    expect(install.stderr).toBe("");
    expect(install.exitCode).toBe(0);
    expect(install.stdout).toMatch(/^STATUS: deployed$/m);

    for (const crd of ["droptraces.droptrace.io", "droptracereports.droptrace.io"]) {
      expect(conditions(get("apiextensions.k8s.io/customresourcedefinitions", "", crd))).toContainEqual(
        expect.objectContaining({ type: "Established", status: "True" }),
      );
    }
    expect((await raw(server, "/apis/droptrace.io/v1alpha1/droptraces")).status).toBe(200);
    expect(get("apps/deployments", NS, "droptrace-controller")?.["spec"]).toMatchObject({ replicas: 1, strategy: { type: "RollingUpdate" } });
    expect(get("rbac.authorization.k8s.io/clusterroles", "", "droptrace-controller")).toBeDefined();
    expect(get("rbac.authorization.k8s.io/rolebindings", "default", "droptrace-controller-events")).toBeDefined();
    const release = get("/secrets", NS, "sh.helm.release.v1.droptrace.v1");
    expect(release).toMatchObject({ type: "helm.sh/release.v1", metadata: { labels: { owner: "helm", name: "droptrace", status: "deployed" } } });

    const list = await cli.helm(["list", "-A"]);
    const row = list.stdout
      .split("\n")[1]
      ?.split("\t")
      .map((c) => c.trim());
    expect(row).toEqual(["droptrace", NS, "1", expect.stringMatching(/ UTC$/), "deployed", "droptrace-0.1.0", "0.1.0"]);
    const status = await cli.helm(["status", "droptrace", "-n", NS]);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/^STATUS: deployed$/m);

    const uninstall = await cli.helm(["uninstall", "droptrace", "-n", NS]);
    expect(uninstall.stdout).toBe('release "droptrace" uninstalled');
    expect(get("apps/deployments", NS, "droptrace-controller")).toBeUndefined();
    expect(get("rbac.authorization.k8s.io/clusterroles", "", "droptrace-controller")).toBeUndefined();
    expect(get("/secrets", NS, "sh.helm.release.v1.droptrace.v1")).toBeUndefined();
    // helm never deletes what it installed from crds/
    expect(get("apiextensions.k8s.io/customresourcedefinitions", "", "droptraces.droptrace.io")).toBeDefined();
    expect((await cli.helm(["list", "-A"])).stdout.trim().split("\n")).toHaveLength(1);
  });

  it("waits with --wait for the CRDs to be established and the Deployment to be available", async () => {
    await start();
    const install = cli.helm(["install", "droptrace", CHART_DIR, "-n", NS, "--create-namespace", "--server-side=false", "--wait", "--timeout", "20s"]);
    // No controller runs here: play the Deployment controller once the Deployment exists.
    await until("the Deployment", () => get("apps/deployments", NS, "droptrace-controller"), { timeoutMs: 15_000, everyMs: 50 });
    const ready = await raw(server, `/apis/apps/v1/namespaces/${NS}/deployments/droptrace-controller/status`, {
      method: "PATCH",
      headers: { "Content-Type": "application/merge-patch+json" },
      body: {
        status: {
          observedGeneration: 1,
          replicas: 1,
          updatedReplicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
          conditions: [
            { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." },
            { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: "ReplicaSet has successfully progressed." },
          ],
        },
      },
    });
    expect(ready.status).toBe(200);
    const result = await install;
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    // helm's status watcher (client-go 1.35) asks for watch-list streams.
    expect(server.requests.some((r) => r.query.includes("sendInitialEvents=true"))).toBe(true);
  });

  it("refuses helm's default server-side apply, saying to pass --server-side=false", async () => {
    await start();
    const install = await cli.helm(["install", "droptrace", CHART_DIR, "-n", NS, "--create-namespace"]);
    expect(install.exitCode).toBe(1);
    expect(install.stderr).toContain("does not implement server-side apply: apply client-side, e.g. helm install --server-side=false");
  });
});
