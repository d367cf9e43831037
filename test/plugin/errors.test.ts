// What `kubectl droptrace` says when it cannot do its job, against the test API server with
// RBAC enforced: each answer says what to do (install the chart, which verb is missing, the name
// is taken), and the API server's own field errors are printed as it words them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { CustomObjectsApi, KubeConfig, RbacAuthorizationV1Api, type V1ClusterRole, type V1ClusterRoleBinding } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../src/api/exit-codes.js";
import { startTestApiServer, type TestApiServer } from "../support/apiserver.js";
import { dropTrace, dropTraces, model } from "../support/apiserver-test-helpers.js";
import { freePort } from "../support/free-port.js";
import { kubeconfigFile, runPlugin } from "./plugin-io.js";

const TOKENS = {
  admin: { user: "admin", groups: ["system:masters"] },
  // may read DropTraces, not create them, nor list their reports
  viewer: { user: "viewer", groups: [] },
  // no role at all
  nobody: { user: "nobody", groups: [] },
};

let server: TestApiServer;
let bare: TestApiServer;
let dir: string;
const kubeconfigs: Record<string, string> = {};
let admin: CustomObjectsApi;

function clientFor(text: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return kc;
}

beforeAll(async () => {
  server = await startTestApiServer({ authorization: { tokens: Object.fromEntries(Object.entries(TOKENS).map(([token, who]) => [token, who])) } });
  // A cluster where nobody installed the chart: no droptrace CRDs.
  bare = await startTestApiServer({ crdDirs: [], tls: true });
  dir = mkdtempSync(path.join(tmpdir(), "droptrace-plugin-errors-"));
  for (const token of Object.keys(TOKENS)) kubeconfigs[token] = kubeconfigFile(dir, token, server.kubeconfig(token));
  kubeconfigs["bare"] = kubeconfigFile(dir, "bare", bare.kubeconfig());
  const adminConfig = clientFor(server.kubeconfig("admin"));
  admin = adminConfig.makeApiClient(CustomObjectsApi);
  const rbac = adminConfig.makeApiClient(RbacAuthorizationV1Api);
  await rbac.createClusterRole({
    body: model<V1ClusterRole>({
      metadata: { name: "droptrace-viewer" },
      rules: [{ apiGroups: ["droptrace.io"], resources: ["droptraces"], verbs: ["get", "list", "watch"] }],
    }),
  });
  await rbac.createClusterRoleBinding({
    body: model<V1ClusterRoleBinding>({
      metadata: { name: "viewer" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "droptrace-viewer" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "viewer" }],
    }),
  });
  // A trace no controller has seen (none runs here), and one with a status as a controller writes it.
  await admin.createClusterCustomObject({ ...dropTraces, body: dropTrace("unseen", { duration: "30s" }) });
  await admin.createClusterCustomObject({ ...dropTraces, body: dropTrace("seen", { duration: "30s" }) });
  await admin.replaceClusterCustomObjectStatus({
    ...dropTraces,
    name: "seen",
    body: {
      ...dropTrace("seen", { duration: "30s" }),
      status: {
        phase: "Completed",
        startTime: "2026-11-25T05:48:53Z",
        completionTime: "2026-11-25T05:49:29Z",
        nodes: { desired: 2, pending: 0, running: 0, completed: 1, failed: 1 },
        nodeProgress: "2/2",
        totalDrops: 300,
        drops: [{ symbol: "udp_rcv+0x452", interface: "lo", module: "kernel", reason: "NO_SOCKET", class: "depends", count: 300, nodes: 1 }],
        nodeSummary: [
          { node: "node-c", phase: "Failed", reason: "HeadersMissing", message: "no kernel headers: install them", totalDrops: 0 },
          { node: "node-a", phase: "Completed", totalDrops: 300 },
        ],
      },
    },
  });
});

afterAll(async () => {
  await server.close();
  await bare.close();
  rmSync(dir, { recursive: true, force: true });
});

const as = (who: string, ...argv: string[]) => runPlugin([...argv, "--kubeconfig", kubeconfigs[who] ?? ""]);

describe("a cluster without the droptrace CRDs", () => {
  it.each([
    ["trace", "x", "--duration", "30s"],
    ["get", "x"],
    ["nodes", "x"],
  ])("says to install the chart: %s", async (...argv) => {
    const out = await as("bare", ...argv);
    expect(out.code).toBe(EXIT.failed);
    expect(out.stderr).toBe(
      "error: this cluster does not serve droptraces.droptrace.io: the droptrace CRDs are not installed. Install the chart: " +
        'helm install droptrace charts/droptrace -n droptrace-system --create-namespace (see the droptrace README, "Installing")\n' +
        "  the API server said: the server could not find the requested resource\n",
    );
  });
});

describe("RBAC", () => {
  it("names the verb a user lacks to create a trace, with the API server's words", async () => {
    const out = await as("viewer", "trace", "x", "--duration", "30s");
    expect(out.code).toBe(EXIT.failed);
    expect(out.stderr).toBe(
      'error: you may not create droptraces.droptrace.io: your user needs the verb "create" on resource "droptraces" in API group "droptrace.io", ' +
        "from a ClusterRole (DropTraces and their reports are cluster-scoped); check with `kubectl auth can-i create droptraces.droptrace.io`\n" +
        '  the API server said: droptraces.droptrace.io is forbidden: User "viewer" cannot create resource "droptraces" in API group "droptrace.io" at the cluster scope\n',
    );
    expect(server.requestsBy("viewer").filter((r) => r.method === "POST")).toHaveLength(1);
  });

  it("names the verb a user lacks to read one", async () => {
    const out = await as("nobody", "get", "seen");
    expect(out.code).toBe(EXIT.failed);
    expect(out.stderr).toContain('error: you may not get droptraces.droptrace.io: your user needs the verb "get" on resource "droptraces"');
    expect(out.stderr).toContain('User "nobody" cannot get resource "droptraces" in API group "droptrace.io" at the cluster scope');
  });

  it("lists nodes from the trace's node summary for a user who may not list the reports", async () => {
    const out = await as("viewer", "nodes", "seen");
    expect(out.code).toBe(EXIT.ok);
    expect(out.stderr).toContain(
      'error: you may not list droptracereports.droptrace.io: your user needs the verb "list" on resource "droptracereports"'.slice(7),
    );
    expect(out.stderr).toContain("showing the trace's node summary instead: failing nodes first, without kernel releases\n");
    expect(out.stdout).toBe(
      [
        "NODE     PHASE       DROPS   KERNEL   REASON           MESSAGE",
        "node-c   Failed      0                HeadersMissing   no kernel headers: install them",
        "node-a   Completed   300",
        "",
      ].join("\n"),
    );
  });

  it("says when the API server does not know the user's credentials", async () => {
    const file = kubeconfigFile(dir, "stale", server.kubeconfig("expired-token"));
    const out = await runPlugin(["get", "seen", "--kubeconfig", file]);
    expect(out.code).toBe(EXIT.failed);
    expect(out.stderr).toBe(
      `error: the API server at ${server.url} did not accept your credentials (401 Unauthorized): log in again, or check the user of your kubeconfig's context\n`,
    );
  });
});

describe("a trace kubectl droptrace cannot create", () => {
  it("says the name is taken and what to do", async () => {
    const out = await as("admin", "trace", "seen", "--duration", "30s");
    expect(out.code).toBe(EXIT.failed);
    expect(out.stderr).toBe(
      'error: a DropTrace named "seen" exists already: read it with `kubectl droptrace get seen`, delete it with `kubectl delete dt seen`, ' +
        "or pick another name (or none, for a generated one)\n",
    );
  });

  it("prints the API server's field errors as it words them, and exits 2", async () => {
    const argv = ["trace", "bad", "--duration", "4s", "--interface", "eth0;reboot", "--top", "0"];
    const out = await as("admin", ...argv);
    expect(out.code).toBe(EXIT.badArguments);
    // The same spec sent by hand: the causes the server gives are the lines printed.
    const causes = await admin
      .createClusterCustomObject({ ...dropTraces, body: dropTrace("bad", { duration: "4s", filter: { interfaces: ["eth0;reboot"] }, topN: 0 }) })
      .then(
        () => expect.fail("the API server accepted an invalid DropTrace"),
        (err: unknown) => (JSON.parse(String((err as { body: unknown }).body)) as { details: { causes: { field: string; message: string }[] } }).details.causes,
      );
    expect(causes.length).toBeGreaterThanOrEqual(3);
    expect(out.stderr).toBe(
      `error: the API server refused droptraces.droptrace.io "bad" as invalid:\n${causes.map((c) => `  ${c.field}: ${c.message}\n`).join("")}`,
    );
    expect(out.stderr).toContain("  spec.topN: Invalid value: 0: spec.topN in body should be greater than or equal to 1\n");
  });

  it("passes the CPU limit and stacks to the API server, which refuses a limit out of bounds with the field's path", async () => {
    for (const limit of ["0", "51"]) {
      const out = await as("admin", "trace", `cpu-${limit}`, "--stacks", "--max-probe-cpu-percent", limit);
      expect(out.code).toBe(EXIT.badArguments);
      expect(out.stderr).toMatch(
        new RegExp(
          `^  spec\\.maxProbeCPUPercent: Invalid value: ${limit}: spec\\.maxProbeCPUPercent in body should be (greater|less) than or equal to (1|50)$`,
          "m",
        ),
      );
    }
  });

  it("refuses flags it cannot read before asking the API server", async () => {
    const before = server.requests.length;
    const out = await as("admin", "trace", "x", "--selector", "pool!=web");
    expect(out).toMatchObject({ code: EXIT.badArguments, stdout: "" });
    expect(out.stderr).toBe('error: --selector: "pool!=web" is not key=value: a DropTrace\'s nodeSelector matches labels by equality only\n');
    expect(server.requests.length).toBe(before);
    expect((await as("admin", "get", "seen", "-o", "wide")).code).toBe(EXIT.badArguments);
  });
});

describe("a trace the controller has not seen", () => {
  it("is printed as waiting for the controller", async () => {
    const out = await as("admin", "get", "unseen");
    expect(out).toEqual({
      code: EXIT.ok,
      stdout: "unseen: waiting for the controller (no status yet), duration 30s\nnot started; duration 30s\n\nno drops counted yet\n",
      stderr: "",
    });
  });

  it("has no rates to compare", async () => {
    const out = await as("admin", "diff", "seen", "unseen");
    expect(out.code).toBe(EXIT.failed);
    expect(out.stderr).toBe("error: unseen has not started yet: it has no rates to compare (`kubectl droptrace get unseen -w` follows it)\n");
  });
});

describe("kubeconfig", () => {
  let twoContexts: string;
  let deadServer: string;

  beforeAll(async () => {
    deadServer = `https://127.0.0.1:${String(await freePort())}`;
    const ca = Buffer.from(server.caData ?? "").toString("base64");
    twoContexts = kubeconfigFile(
      dir,
      "two-contexts",
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: gone, cluster: {server: "${deadServer}", certificate-authority-data: ${ca}}}, {name: live, cluster: {server: "${server.url}", certificate-authority-data: ${ca}}}]`,
        "users: [{name: admin, user: {token: admin}}]",
        "contexts: [{name: gone, context: {cluster: gone, user: admin}}, {name: live, context: {cluster: live, user: admin}}]",
        "current-context: gone",
        "",
      ].join("\n"),
    );
  });

  it("uses the context --context names", async () => {
    const out = await runPlugin(["get", "seen", "--kubeconfig", twoContexts, "--context", "live"]);
    expect(out.code).toBe(EXIT.ok);
    expect(out.stdout).toContain("seen: Completed, 2/2 nodes done (1 failed), 300 drops in 30s (10.00/s)\n");
  });

  it("says when the API server cannot be reached", async () => {
    const out = await runPlugin(["get", "seen", "--kubeconfig", twoContexts]);
    expect(out.code).toBe(EXIT.failed);
    expect(out.stderr).toMatch(new RegExp(`^error: cannot reach the API server at ${deadServer}: .*ECONNREFUSED`));
  });

  it("reads $KUBECONFIG without --kubeconfig", async () => {
    const saved = process.env["KUBECONFIG"];
    process.env["KUBECONFIG"] = kubeconfigs["admin"];
    try {
      expect((await runPlugin(["get", "seen"])).code).toBe(EXIT.ok);
    } finally {
      if (saved === undefined) delete process.env["KUBECONFIG"];
      else process.env["KUBECONFIG"] = saved;
    }
  });

  it.each([
    [["--context", "nope"], 'error: context "nope" does not exist in the kubeconfig (it has: gone, live)\n'],
    [["--kubeconfig", "/nonexistent/kubeconfig"], "error: cannot read the kubeconfig /nonexistent/kubeconfig: "],
  ])("exits 2 for %j", async (flags, message) => {
    const out = await runPlugin(["get", "seen", "--kubeconfig", twoContexts, ...flags]);
    expect(out.code).toBe(EXIT.badArguments);
    expect(out.stderr.startsWith(message)).toBe(true);
  });
});
