// Authentication by bearer token and RBAC authorization from the roles and bindings stored in the
// server: the request attributes as kube-apiserver computes them, the real 401 and 403 bodies,
// the OwnerReferencesPermissionEnforcement check, and the chart's own RBAC, installed by the real
// helm, enforced on its service accounts.
import { afterEach, describe, expect, it } from "vitest";
import { CHART_DIR } from "../chart/helm.js";
import { permissionText, requestAttributes } from "./apiserver/request-info.js";
import { startTestApiServer, type TestApiServer } from "./apiserver.js";
import { Cli } from "./apiserver-cli-helpers.js";
import { raw, type RawRequest } from "./apiserver-http-helpers.js";

const CONTROLLER = "system:serviceaccount:droptrace-system:droptrace-controller";
const AGENT = "system:serviceaccount:droptrace-system:droptrace-agent";
const tokens = {
  admin: { user: "admin", groups: ["system:masters"] },
  controller: { user: CONTROLLER },
  agent: { user: AGENT },
  alice: { user: "alice", groups: ["net-team"] },
};

let server: TestApiServer;
let started = false;
let cli: Cli | undefined;
afterEach(async () => {
  cli?.cleanup();
  cli = undefined;
  if (started) await server.close();
  started = false;
});

const start = async (namespaces = ["default", "kube-system", "droptrace-system"]) => {
  server = await startTestApiServer({ namespaces, authorization: { tokens } });
  started = true;
};
const as = (token: keyof typeof tokens | "nope", path: string, req: RawRequest = {}) => raw(server, path, { ...req, token });
const admin = (path: string, body: unknown) => as("admin", path, { method: "POST", body });
const message = (r: { json: unknown }) => (r.json as { message: string }).message;
const dropTrace = (name: string) => ({ apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name }, spec: {} });

describe("request attributes", () => {
  const attrs = (method: string, path: string) => {
    const a = requestAttributes(method, new URL(path, "http://x"));
    return `${permissionText(a)}${a.resourceRequest ? "" : " (non-resource)"}`;
  };

  it("are what the real RequestInfo resolver computes", () => {
    expect(attrs("GET", "/apis/droptrace.io/v1alpha1/droptraces")).toBe("list droptraces.droptrace.io");
    expect(attrs("GET", "/apis/droptrace.io/v1alpha1/droptraces?watch=true")).toBe("watch droptraces.droptrace.io");
    expect(attrs("GET", "/apis/droptrace.io/v1alpha1/droptraces?watch=1&fieldSelector=metadata.name%3Dx")).toBe('watch droptraces.droptrace.io "x"');
    expect(attrs("GET", "/apis/droptrace.io/v1alpha1/droptraces/x")).toBe('get droptraces.droptrace.io "x"');
    expect(attrs("PUT", "/apis/droptrace.io/v1alpha1/droptraces/x/status")).toBe('update droptraces.droptrace.io/status "x"');
    expect(attrs("PATCH", "/apis/apps/v1/namespaces/ns/daemonsets/d")).toBe('patch daemonsets.apps "d" in ns');
    expect(attrs("DELETE", "/apis/apps/v1/namespaces/ns/daemonsets")).toBe("deletecollection daemonsets.apps in ns");
    expect(attrs("POST", "/api/v1/namespaces/default/events")).toBe("create events in default");
    expect(attrs("GET", "/api/v1/namespaces/ns")).toBe('get namespaces "ns" in ns');
    expect(attrs("PUT", "/api/v1/namespaces/ns/finalize")).toBe('update namespaces/finalize "ns" in ns');
    expect(attrs("GET", "/api/v1/pods")).toBe("list pods");
    expect(attrs("GET", "/apis/apps/v1")).toBe("get /apis/apps/v1 (non-resource)");
    expect(attrs("GET", "/openapi/v3")).toBe("get /openapi/v3 (non-resource)");
  });
});

describe("authentication", () => {
  it("answers 401 to a request without a token or with an unknown one", async () => {
    await start();
    for (const res of [await raw(server, "/api"), await as("nope", "/api")]) {
      expect(res.status).toBe(401);
      expect(res.json).toEqual({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "Unauthorized",
        reason: "Unauthorized",
        code: 401,
      });
    }
  });

  it("serves HTTPS, with a kubeconfig kubectl trusts", async () => {
    await start();
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.kubeconfig("x")).toContain("certificate-authority-data: ");
  });
});

describe("RBAC", () => {
  it("lets every authenticated user read discovery and OpenAPI, and answers 403 with the real message otherwise", async () => {
    await start();
    for (const path of ["/api", "/apis", "/apis/droptrace.io/v1alpha1", "/version", "/openapi/v3", "/healthz"])
      expect((await as("agent", path)).status, path).toBe(200);
    const list = await as("controller", "/apis/droptrace.io/v1alpha1/droptraces");
    expect(list.status).toBe(403);
    expect(list.json).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `droptraces.droptrace.io is forbidden: User "${CONTROLLER}" cannot list resource "droptraces" in API group "droptrace.io" at the cluster scope`,
      reason: "Forbidden",
      details: { group: "droptrace.io", kind: "droptraces" },
      code: 403,
    });
    const pod = await as("controller", "/api/v1/namespaces/x/pods/p");
    expect(message(pod)).toBe(`pods "p" is forbidden: User "${CONTROLLER}" cannot get resource "pods" in API group "" in the namespace "x"`);
    const status = await as("controller", "/apis/droptrace.io/v1alpha1/droptraces/t/status", { method: "PUT", body: dropTrace("t") });
    expect(message(status)).toBe(
      `droptraces.droptrace.io "t" is forbidden: User "${CONTROLLER}" cannot update resource "droptraces/status" in API group "droptrace.io" at the cluster scope`,
    );
    const path = await as("controller", "/metrics");
    expect(message(path)).toBe(`forbidden: User "${CONTROLLER}" cannot get path "/metrics"`);
  });

  it("decides from the stored ClusterRoles, Roles and their bindings", async () => {
    await start();
    await admin("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
      metadata: { name: "reader" },
      rules: [
        { apiGroups: ["droptrace.io"], resources: ["droptraces"], verbs: ["get", "list"] },
        { apiGroups: ["droptrace.io"], resources: ["*/status"], verbs: ["update"], resourceNames: ["only-this"] },
        { nonResourceURLs: ["/metrics"], verbs: ["get"] },
      ],
    });
    await admin("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: "net-team-reads" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "reader" },
      subjects: [{ kind: "Group", name: "net-team", apiGroup: "rbac.authorization.k8s.io" }],
    });
    // A RoleBinding's ServiceAccount subject without a namespace is the binding's namespace's.
    await admin("/apis/rbac.authorization.k8s.io/v1/namespaces/droptrace-system/roles", {
      metadata: { name: "ds" },
      rules: [{ apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["*"] }],
    });
    await admin("/apis/rbac.authorization.k8s.io/v1/namespaces/droptrace-system/rolebindings", {
      metadata: { name: "ds" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "ds" },
      subjects: [{ kind: "ServiceAccount", name: "droptrace-controller" }],
    });
    expect((await as("admin", "/apis/droptrace.io/v1alpha1/droptraces", { method: "POST", body: dropTrace("only-this") })).status).toBe(201);
    expect((await as("admin", "/apis/droptrace.io/v1alpha1/droptraces", { method: "POST", body: dropTrace("other") })).status).toBe(201);

    expect((await as("alice", "/apis/droptrace.io/v1alpha1/droptraces")).status).toBe(200);
    expect((await as("alice", "/metrics")).status).toBe(404); // allowed, then not served here
    expect((await as("alice", "/apis/droptrace.io/v1alpha1/droptraces/other", { method: "DELETE" })).status).toBe(403);
    const statusOf = (name: string) => ({ ...dropTrace(name), status: { phase: "Running" } });
    expect((await as("alice", "/apis/droptrace.io/v1alpha1/droptraces/only-this/status", { method: "PUT", body: statusOf("only-this") })).status).toBe(200);
    expect((await as("alice", "/apis/droptrace.io/v1alpha1/droptraces/other/status", { method: "PUT", body: statusOf("other") })).status).toBe(403);

    expect((await as("controller", "/apis/apps/v1/namespaces/droptrace-system/daemonsets")).status).toBe(200);
    expect((await as("controller", "/apis/apps/v1/namespaces/default/daemonsets")).status).toBe(403);
    expect((await as("controller", "/apis/apps/v1/daemonsets")).status).toBe(403);

    const read = server.requestsBy("alice").find((r) => r.path === "/apis/droptrace.io/v1alpha1/droptraces");
    expect(read).toMatchObject({
      status: 200,
      authorized: true,
      attributes: { verb: "list", apiGroup: "droptrace.io", resource: "droptraces", subresource: "", namespace: "" },
      reason: 'RBAC: allowed by ClusterRoleBinding "net-team-reads" of ClusterRole "reader" to Group "net-team"',
    });
    expect(server.requestsBy(CONTROLLER).find((r) => r.status === 200)?.reason).toBe(
      'RBAC: allowed by RoleBinding "ds/droptrace-system" of Role "ds" to ServiceAccount "droptrace-controller/droptrace-system"',
    );
    expect(server.requestsBy(CONTROLLER).filter((r) => !r.authorized)).toHaveLength(2);
  });

  it("says which role a binding names that does not exist", async () => {
    await start();
    await admin("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: "dangling" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "missing" },
      subjects: [{ kind: "ServiceAccount", name: "droptrace-agent", namespace: "droptrace-system" }],
    });
    const res = await as("agent", "/apis/droptrace.io/v1alpha1/droptraces");
    expect(message(res)).toBe(
      `droptraces.droptrace.io is forbidden: User "${AGENT}" cannot list resource "droptraces" in API group "droptrace.io" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found`,
    );
  });

  it("needs update on the owner's finalizers to set blockOwnerDeletion, as OwnerReferencesPermissionEnforcement does", async () => {
    await start();
    const owner = (await admin("/apis/droptrace.io/v1alpha1/droptraces", dropTrace("all-nodes"))).json as { metadata: { uid: string } };
    await admin("/apis/rbac.authorization.k8s.io/v1/namespaces/droptrace-system/roles", {
      metadata: { name: "ds" },
      rules: [{ apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["create"] }],
    });
    await admin("/apis/rbac.authorization.k8s.io/v1/namespaces/droptrace-system/rolebindings", {
      metadata: { name: "ds" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "ds" },
      subjects: [{ kind: "ServiceAccount", name: "droptrace-controller", namespace: "droptrace-system" }],
    });
    const ds = (name: string) => ({
      metadata: {
        name,
        ownerReferences: [
          { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "all-nodes", uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i:1" }] } } },
    });
    const refused = await as("controller", "/apis/apps/v1/namespaces/droptrace-system/daemonsets", { method: "POST", body: ds("agents") });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({
      message:
        'daemonsets.apps "agents" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a resource you can\'t set finalizers on: , <nil>',
      details: { name: "agents", group: "apps", kind: "daemonsets" },
    });
    await admin("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
      metadata: { name: "fin" },
      rules: [{ apiGroups: ["droptrace.io"], resources: ["droptraces/finalizers"], verbs: ["update"] }],
    });
    await admin("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: "fin" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "fin" },
      subjects: [{ kind: "ServiceAccount", name: "droptrace-controller", namespace: "droptrace-system" }],
    });
    expect((await as("controller", "/apis/apps/v1/namespaces/droptrace-system/daemonsets", { method: "POST", body: ds("agents") })).status).toBe(201);
    const created = server.requestsBy(CONTROLLER).at(-1);
    expect(created?.checks.map((c) => `${permissionText(c.attributes)}: ${String(c.allowed)}`)).toEqual([
      'update droptraces.droptrace.io/finalizers "all-nodes": true',
    ]);
  });
});

describe("the chart's RBAC, installed by helm", () => {
  it("is what the server enforces on the controller's and the agents' service accounts", async () => {
    await start(["default", "kube-system"]);
    cli = new Cli(server);
    const install = await cli.helm(["install", "droptrace", CHART_DIR, "-n", "droptrace-system", "--create-namespace", "--server-side=false"], "admin");
    expect(install.stderr).toBe("");
    expect(install.exitCode).toBe(0);
    expect(server.requestsBy("admin").length).toBeGreaterThan(10);

    expect((await as("admin", "/apis/droptrace.io/v1alpha1/droptraces", { method: "POST", body: dropTrace("all-nodes") })).status).toBe(201);
    expect((await as("controller", "/apis/droptrace.io/v1alpha1/droptraces?watch=true&timeoutSeconds=1")).status).toBe(200);
    // The controller reads through informers only: list and watch, no get.
    expect((await as("controller", "/apis/droptrace.io/v1alpha1/droptraces?limit=500")).status).toBe(200);
    expect((await as("controller", "/apis/droptrace.io/v1alpha1/droptraces/all-nodes")).status).toBe(403);
    expect((await as("controller", "/apis/droptrace.io/v1alpha1/droptraces", { method: "POST", body: dropTrace("x") })).status).toBe(403);
    expect((await as("controller", "/api/v1/namespaces/droptrace-system/configmaps")).status).toBe(403);
    expect((await as("agent", "/apis/droptrace.io/v1alpha1/droptraces")).status).toBe(403);
    const report = {
      apiVersion: "droptrace.io/v1alpha1",
      kind: "DropTraceReport",
      metadata: { name: "all-nodes-node-a" },
      spec: { trace: "all-nodes", node: "node-a" },
    };
    expect((await as("agent", "/apis/droptrace.io/v1alpha1/droptracereports", { method: "POST", body: report })).status).toBe(201);

    const canI = async (...args: string[]) => (await cli?.kubectl(["auth", "can-i", ...args, "--as", CONTROLLER], { token: "admin" }))?.stdout;
    expect(await canI("list", "droptraces")).toBe("yes");
    expect(await canI("update", "droptraces", "--subresource=finalizers")).toBe("yes");
    expect(await canI("create", "daemonsets", "-n", "droptrace-system")).toBe("yes");
    expect(await canI("create", "daemonsets", "-n", "default")).toBe("no");
    expect(await canI("create", "events", "-n", "default")).toBe("yes");
    const denied = await cli.kubectl(["get", "droptraces"], { token: "agent" });
    expect(denied.stderr).toBe(
      `Error from server (Forbidden): droptraces.droptrace.io is forbidden: User "${AGENT}" cannot list resource "droptraces" in API group "droptrace.io" at the cluster scope`,
    );
  });
});
