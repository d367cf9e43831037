import { AppsV1Api, type V1DaemonSet, type V1EnvVar } from "@kubernetes/client-node";
import { model } from "./apiserver-test-helpers.js";
import { describe, expect, it } from "vitest";
import { privilegedDisallowed, startTestApiServer, webhookDenies } from "./apiserver.js";

const ds = (privileged: boolean, name = "agents") =>
  model<V1DaemonSet>({
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: "a" } },
      template: { metadata: { labels: { app: "a" } }, spec: { containers: [{ name: "agent", image: "x:1", securityContext: { privileged } }] } },
    },
  });

describe("admission policies on cue", () => {
  it("refuse a privileged DaemonSet as --allow-privileged=false does, and admit the rest", async () => {
    const server = await startTestApiServer({ namespaces: ["default", "ns"] });
    const apps = server.kubeConfig.makeApiClient(AppsV1Api);
    const remove = server.admission.add(privilegedDisallowed());
    const err = await apps.createNamespacedDaemonSet({ namespace: "ns", body: ds(true) }).catch((e: unknown) => e);
    expect((err as { code?: number }).code).toBe(422);
    expect(JSON.parse(String((err as { body?: unknown }).body))).toMatchObject({
      reason: "Invalid",
      message: 'DaemonSet.apps "agents" is invalid: spec.template.spec.containers[0].securityContext.privileged: Forbidden: disallowed by cluster policy',
      details: { causes: [{ reason: "FieldValueForbidden", field: "spec.template.spec.containers[0].securityContext.privileged" }] },
    });
    await apps.createNamespacedDaemonSet({ namespace: "ns", body: ds(false, "plain") });
    remove();
    await apps.createNamespacedDaemonSet({ namespace: "ns", body: ds(true) });
    await server.close();
  });

  it("deny as a webhook does, with 403 and the webhook's name", async () => {
    const server = await startTestApiServer({ namespaces: ["default", "ns"] });
    const apps = server.kubeConfig.makeApiClient(AppsV1Api);
    server.admission.add(webhookDenies("daemonsets", "validate.kyverno.svc-fail", "privileged containers are not allowed"));
    const err = await apps.createNamespacedDaemonSet({ namespace: "ns", body: ds(false) }).catch((e: unknown) => e);
    expect((err as { code?: number }).code).toBe(403);
    expect((JSON.parse(String((err as { body?: unknown }).body)) as { message?: string }).message).toBe(
      'admission webhook "validate.kyverno.svc-fail" denied the request: privileged containers are not allowed',
    );
    await server.close();
  });

  it("store an env var's empty value as no value, as the real server does (omitempty)", async () => {
    const server = await startTestApiServer({ namespaces: ["default", "ns"] });
    const apps = server.kubeConfig.makeApiClient(AppsV1Api);
    const body = ds(false);
    const container = body.spec?.template.spec?.containers[0];
    if (container === undefined) throw new Error("no container");
    container.env = [model<V1EnvVar>({ name: "EMPTY", value: "" }), model<V1EnvVar>({ name: "SET", value: "x" })];
    const created = await apps.createNamespacedDaemonSet({ namespace: "ns", body });
    expect(created.spec?.template.spec?.containers[0]?.env).toEqual([{ name: "EMPTY" }, { name: "SET", value: "x" }]);
    await server.close();
  });
});
