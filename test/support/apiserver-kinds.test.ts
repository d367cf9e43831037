// The kinds a Helm chart installs (Deployment, Service, ServiceAccount, Secret, ConfigMap, RBAC),
// strategic merge patch, protobuf request bodies, YAML bodies, OpenAPI v3 discovery, and the
// answers to what is not implemented (server-side apply).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTestApiServer, type TestApiServer } from "./apiserver.js";
import { raw } from "./apiserver-http-helpers.js";

let server: TestApiServer;
beforeEach(async () => {
  server = await startTestApiServer();
});
afterEach(async () => {
  await server.close();
});

type Obj = Record<string, unknown> & { metadata: Record<string, unknown>; spec?: Record<string, unknown>; status?: unknown };
const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => raw(server, path, { method: "POST", body, headers });
const message = (r: { json: unknown }) => (r.json as { message: string }).message;
const smp = { "Content-Type": "application/strategic-merge-patch+json" };

const deployment = (name: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: {
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          { name: "main", image: "main:1", env: [{ name: "A", value: "1" }] },
          { name: "side", image: "side:1" },
        ],
      },
    },
  },
});

describe("Deployments", () => {
  it("get the real defaults and an empty status", async () => {
    const res = await post("/apis/apps/v1/namespaces/default/deployments", deployment("d"));
    expect(res.status).toBe(201);
    const d = res.json as Obj;
    expect(d.spec).toMatchObject({
      replicas: 1,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } },
      template: { spec: { restartPolicy: "Always", dnsPolicy: "ClusterFirst", schedulerName: "default-scheduler" } },
    });
    expect(d.status).toEqual({});
    expect(d.metadata["generation"]).toBe(1);
  });

  it("merge a strategic merge patch's containers by name, keeping the others", async () => {
    await post("/apis/apps/v1/namespaces/default/deployments", deployment("d"));
    const patch = {
      spec: {
        template: {
          spec: {
            $setElementOrder: undefined,
            "$setElementOrder/containers": [{ name: "main" }, { name: "side" }],
            containers: [{ name: "main", image: "main:2", "$setElementOrder/env": [{ name: "A" }, { name: "B" }], env: [{ name: "B", value: "2" }] }],
          },
        },
      },
    };
    const res = await raw(server, "/apis/apps/v1/namespaces/default/deployments/d", { method: "PATCH", body: patch, headers: smp });
    expect(res.status, res.text).toBe(200);
    const containers = ((res.json as Obj).spec?.["template"] as { spec: { containers: { name: string; image: string; env?: unknown[] }[] } }).spec.containers;
    expect(containers.map((c) => [c.name, c.image])).toEqual([
      ["main", "main:2"],
      ["side", "side:1"],
    ]);
    expect(containers[0]?.env).toEqual([
      { name: "A", value: "1" },
      { name: "B", value: "2" },
    ]);
    expect((res.json as Obj).metadata["generation"]).toBe(2);
    const removed = await raw(server, "/apis/apps/v1/namespaces/default/deployments/d", {
      method: "PATCH",
      body: { spec: { template: { spec: { containers: [{ name: "side", $patch: "delete" }] } } } },
      headers: smp,
    });
    const left = ((removed.json as Obj).spec?.["template"] as { spec: { containers: { name: string }[] } }).spec.containers;
    expect(left.map((c) => c.name)).toEqual(["main"]);
  });

  it("keep their selector immutable", async () => {
    await post("/apis/apps/v1/namespaces/default/deployments", deployment("d"));
    const res = await raw(server, "/apis/apps/v1/namespaces/default/deployments/d", {
      method: "PATCH",
      body: { spec: { selector: { matchLabels: { app: "other" } }, template: { metadata: { labels: { app: "other" } } } } },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(res.status).toBe(422);
    expect(message(res)).toMatch(/^Deployment\.apps "d" is invalid: spec\.selector: Invalid value: .*: field is immutable$/);
  });
});

describe("StatefulSets", () => {
  it("get the real defaults and status, and own pods the garbage collector then keeps", async () => {
    const res = await post("/apis/apps/v1/namespaces/default/statefulsets", { ...deployment("db"), kind: "StatefulSet" });
    expect(res.status, res.text).toBe(201);
    const sts = res.json as Obj;
    expect(sts.spec).toMatchObject({
      replicas: 1,
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
    });
    expect(sts.status).toEqual({ replicas: 0, availableReplicas: 0 });
    const owner = { apiVersion: "apps/v1", kind: "StatefulSet", name: "db", uid: sts.metadata["uid"], controller: true };
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "db-0", ownerReferences: [owner] }, spec: { containers: [{ name: "db", image: "db:1" }] } };
    expect((await post("/api/v1/namespaces/default/pods", pod)).status).toBe(201);
    // The collector looks on the next tick: a pod whose owner did not exist would be gone by then.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await raw(server, "/api/v1/namespaces/default/pods/db-0")).status).toBe(200);
  });
});

describe("Services, Secrets, ConfigMaps", () => {
  it("allocates a Service's cluster IP, defaults its ports, and keeps the IP", async () => {
    const res = await post("/api/v1/namespaces/default/services", {
      metadata: { name: "metrics" },
      spec: { selector: { app: "x" }, ports: [{ name: "m", port: 8080 }] },
    });
    expect(res.status).toBe(201);
    const spec = (res.json as Obj).spec ?? {};
    expect(spec).toMatchObject({ type: "ClusterIP", sessionAffinity: "None", ports: [{ name: "m", port: 8080, protocol: "TCP", targetPort: 8080 }] });
    expect(spec["clusterIP"]).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\.\d+\.\d+$/);
    expect(spec["clusterIPs"]).toEqual([spec["clusterIP"]]);
    const changed = await raw(server, "/api/v1/namespaces/default/services/metrics", {
      method: "PATCH",
      body: { spec: { clusterIP: "10.96.0.99", clusterIPs: ["10.96.0.99"] } },
      headers: smp,
    });
    expect(changed.status).toBe(422);
    const noPorts = await post("/api/v1/namespaces/default/services", { metadata: { name: "none" }, spec: {} });
    expect(message(noPorts)).toBe('Service "none" is invalid: spec.ports: Required value');
  });

  it("turns a Secret's stringData into data, defaults its type, and keeps the type immutable", async () => {
    const res = await post("/api/v1/namespaces/default/secrets", { metadata: { name: "s" }, stringData: { password: "hunter2" } });
    expect(res.json).toMatchObject({ type: "Opaque", data: { password: Buffer.from("hunter2").toString("base64") } });
    expect(res.json).not.toHaveProperty("stringData");
    const changed = await raw(server, "/api/v1/namespaces/default/secrets/s", { method: "PATCH", body: { type: "kubernetes.io/tls" }, headers: smp });
    expect(message(changed)).toBe('Secret "s" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable');
  });

  it("refuses a ConfigMap key that is not a config key", async () => {
    const res = await post("/api/v1/namespaces/default/configmaps", { metadata: { name: "c" }, data: { "a b": "x" } });
    expect(res.status).toBe(422);
    expect(message(res)).toMatch(/^ConfigMap "c" is invalid: data: Invalid value: "a b": a valid config key must consist of/);
  });
});

describe("RBAC objects", () => {
  it("defaults a binding's API groups and refuses changing its roleRef", async () => {
    const res = await post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: "b" },
      roleRef: { kind: "ClusterRole", name: "r" },
      subjects: [
        { kind: "User", name: "alice" },
        { kind: "ServiceAccount", name: "sa", namespace: "default" },
      ],
    });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      roleRef: { apiGroup: "rbac.authorization.k8s.io" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io" }, { kind: "ServiceAccount" }],
    });
    const changed = await raw(server, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/b", {
      method: "PATCH",
      body: { roleRef: { name: "other" } },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(message(changed)).toBe(
      'ClusterRoleBinding.rbac.authorization.k8s.io "b" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"other"}: cannot change roleRef',
    );
  });

  it("validates rules: verbs, groups and resources, no non-resource URLs in a Role", async () => {
    const res = await post("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", {
      metadata: { name: "r" },
      rules: [
        { apiGroups: [""], resources: ["pods"] },
        { verbs: ["get"], nonResourceURLs: ["/healthz"] },
      ],
    });
    expect(message(res)).toBe(
      'Role.rbac.authorization.k8s.io "r" is invalid: [rules[0].verbs: Required value: verbs must contain at least one value, rules[1].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs]',
    );
    const names = await post("/apis/rbac.authorization.k8s.io/v1/clusterroles", { metadata: { name: "system:controller:x" }, rules: [] });
    expect(names.status).toBe(201);
  });
});

/** A protobuf field: tag, then the value (strings and nested messages length-delimited, varints otherwise). */
function field(n: number, value: string | Buffer | number | boolean): Buffer {
  const varint = (v: number) => {
    const out: number[] = [];
    let x = v;
    while (x > 0x7f) {
      out.push((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    out.push(x);
    return Buffer.from(out);
  };
  if (typeof value === "number" || typeof value === "boolean") return Buffer.concat([varint(n << 3), varint(Number(value))]);
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  return Buffer.concat([varint((n << 3) | 2), varint(bytes.length), bytes]);
}
const envelope = (apiVersion: string, kind: string, body: Buffer) =>
  Buffer.concat([Buffer.from([0x6b, 0x38, 0x73, 0]), field(1, Buffer.concat([field(1, apiVersion), field(2, kind)])), field(2, body)]);

describe("protobuf request bodies", () => {
  const proto = { "Content-Type": "application/vnd.kubernetes.protobuf" };

  it("decodes a Secret as helm's release storage sends it, and typed DeleteOptions", async () => {
    const meta = Buffer.concat([field(1, "sh.helm.release.v1.x.v1"), field(11, Buffer.concat([field(1, "owner"), field(2, "helm")]))]);
    const secret = Buffer.concat([
      field(1, meta),
      field(2, Buffer.concat([field(1, "release"), field(2, Buffer.from("H4sI"))])),
      field(3, "helm.sh/release.v1"),
    ]);
    const res = await raw(server, "/api/v1/namespaces/default/secrets", { method: "POST", body: envelope("v1", "Secret", secret), headers: proto });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({
      kind: "Secret",
      type: "helm.sh/release.v1",
      metadata: { name: "sh.helm.release.v1.x.v1", labels: { owner: "helm" } },
      data: { release: Buffer.from("H4sI").toString("base64") },
    });
    const listed = await raw(server, "/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm");
    expect((listed.json as { items: unknown[] }).items).toHaveLength(1);
    const del = await raw(server, "/api/v1/namespaces/default/secrets/sh.helm.release.v1.x.v1", {
      method: "DELETE",
      body: envelope("meta.k8s.io/v1", "DeleteOptions", field(4, "Background")),
      headers: proto,
    });
    expect(del.status).toBe(200);
  });

  it("answers 415 for a kind it cannot decode", async () => {
    const res = await raw(server, "/apis/apps/v1/namespaces/default/deployments", {
      method: "POST",
      body: envelope("apps/v1", "Deployment", field(1, field(1, "d"))),
      headers: proto,
    });
    expect(res.status).toBe(415);
    expect(message(res)).toMatch(
      /decodes protobuf for Namespace, Secret, ConfigMap, ServiceAccount, SelfSubjectAccessReview and DeleteOptions only: apps\/v1 Deployment\)$/,
    );
  });
});

describe("bodies and patches", () => {
  it("accepts YAML bodies", async () => {
    const res = await raw(server, "/api/v1/namespaces/default/configmaps", {
      method: "POST",
      body: Buffer.from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  a: b\n"),
      headers: { "Content-Type": "application/yaml" },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ data: { a: "b" } });
  });

  it("refuses server-side apply with 415, saying to apply client-side", async () => {
    const res = await raw(server, "/api/v1/namespaces/default/configmaps/y?fieldManager=helm", {
      method: "PATCH",
      body: Buffer.from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n"),
      headers: { "Content-Type": "application/apply-patch+yaml" },
    });
    expect(res.status).toBe(415);
    expect(message(res)).toContain("does not implement server-side apply: apply client-side, e.g. helm install --server-side=false");
  });

  it("words strict decoding errors as the create and patch handlers do", async () => {
    const dt = { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name: "t" }, spec: { duration: "60s" } };
    const created = await post("/apis/droptrace.io/v1alpha1/droptraces?fieldValidation=Strict", { ...dt, spec: { x: 1 } });
    expect(message(created)).toBe('DropTrace in version "v1alpha1" cannot be handled as a DropTrace: strict decoding error: unknown field "spec.x"');
    await post("/apis/droptrace.io/v1alpha1/droptraces", dt);
    const patched = await raw(server, "/apis/droptrace.io/v1alpha1/droptraces/t?fieldValidation=Strict", {
      method: "PATCH",
      body: { spec: { x: 1 } },
      headers: { "Content-Type": "application/merge-patch+json" },
    });
    expect(patched.status).toBe(422);
    expect(message(patched)).toMatch(
      /^ "" is invalid: patch: Invalid value: "\{\\"apiVersion\\":\\"droptrace\.io\/v1alpha1\\",\\"kind\\":\\"DropTrace\\",.*\\"x\\":1\}\}": strict decoding error: unknown field "spec\.x"$/,
    );
  });
});

describe("OpenAPI v3", () => {
  interface Operation {
    parameters?: { name: string; in: string }[];
    "x-kubernetes-group-version-kind"?: Record<string, string>;
  }

  it("indexes every group version and documents PATCH with fieldValidation, as kubectl checks before --validate=strict", async () => {
    const index = (await raw(server, "/openapi/v3")).json as { paths: Record<string, { serverRelativeURL: string }> };
    expect(Object.keys(index.paths)).toEqual(
      expect.arrayContaining(["api/v1", "apis/apps/v1", "apis/droptrace.io/v1alpha1", "apis/rbac.authorization.k8s.io/v1"]),
    );
    const url = index.paths["apis/droptrace.io/v1alpha1"]?.serverRelativeURL ?? "";
    expect(url).toMatch(/^\/openapi\/v3\/apis\/droptrace\.io\/v1alpha1\?hash=[0-9A-F]{128}$/);
    const doc = (await raw(server, url)).json as { paths: Record<string, { patch?: Operation }>; components: { schemas: Record<string, unknown> } };
    const patch = doc.paths["/apis/droptrace.io/v1alpha1/droptraces/{name}"]?.patch;
    expect(patch?.["x-kubernetes-group-version-kind"]).toEqual({ group: "droptrace.io", version: "v1alpha1", kind: "DropTrace" });
    expect(patch?.parameters).toContainEqual(expect.objectContaining({ name: "fieldValidation", in: "query" }));
    expect(doc.components.schemas).toHaveProperty("io.droptrace.v1alpha1.DropTrace");
    const stale = await raw(server, "/openapi/v3/apis/droptrace.io/v1alpha1?hash=0");
    expect(stale.status).toBe(301);
    expect(stale.headers["location"]).toBe(url);
  });
});
