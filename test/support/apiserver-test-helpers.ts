// Helpers for the test API server's own tests: clients on a fresh server, objects, and the
// Status body of a failed client-node call.
import { fileURLToPath } from "node:url";
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type V1DaemonSet,
} from "@kubernetes/client-node";
import { defaultCrdDir } from "./crd.js";
import { startTestApiServer, type StatusBody, type TestApiServer, type TestApiServerOptions } from "./apiserver.js";

export const fixtureCrdDir = fileURLToPath(new URL("./fixtures/crds", import.meta.url));

export interface Clients {
  server: TestApiServer;
  custom: CustomObjectsApi;
  apps: AppsV1Api;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
}

export async function startWithClients(opts: TestApiServerOptions = {}): Promise<Clients> {
  const server = await startTestApiServer({ crdDirs: [defaultCrdDir, fixtureCrdDir], ...opts });
  const kc = server.kubeConfig;
  return {
    server,
    custom: kc.makeApiClient(CustomObjectsApi),
    apps: kc.makeApiClient(AppsV1Api),
    core: kc.makeApiClient(CoreV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
  };
}

export const mergePatch: ConfigurationOptions = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
export const jsonPatch: ConfigurationOptions = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
export const strategicMergePatch: ConfigurationOptions = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

export const dropTraces = { group: "droptrace.io", version: "v1alpha1", plural: "droptraces" } as const;
export const reports = { group: "droptrace.io", version: "v1alpha1", plural: "droptracereports" } as const;
export const widgets = { group: "test.droptrace.io", version: "v1", plural: "widgets" } as const;

export type Obj = Record<string, unknown> & {
  metadata: Record<string, unknown> & { name: string; resourceVersion?: string; uid?: string; generation?: number };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
};

export function dropTrace(name: string, spec: Record<string, unknown> = {}, labels?: Record<string, string>): Obj {
  return { apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", metadata: { name, ...(labels ? { labels } : {}) }, spec };
}

export function widget(name: string, spec: Record<string, unknown> = { size: 1 }): Obj {
  return { apiVersion: "test.droptrace.io/v1", kind: "Widget", metadata: { name }, spec };
}

/**
 * A client-node model written as an object literal. The models are classes, and the lint rule
 * no-unsafe-class-instance-assignment refuses literals where they are expected; the server only
 * ever sees their JSON.
 */
export type Plain<T> = T extends Date ? T : T extends (infer U)[] ? Plain<U>[] : T extends object ? { [K in keyof T]: Plain<T[K]> } : T;
export const model = <T>(value: Plain<T>): T => value as unknown as T;

export function daemonSet(name: string, labels: Record<string, string> = { app: name }): Plain<V1DaemonSet> {
  return {
    metadata: { name },
    spec: {
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: "agent", image: "droptrace:1.0" }] } },
    },
  };
}

/** The failed call's HTTP code and Status body. */
export async function failure(call: Promise<unknown>): Promise<{ code: number; body: StatusBody }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApiException) {
      const raw: unknown = err.body;
      const body = (typeof raw === "string" ? JSON.parse(raw) : raw) as StatusBody;
      return { code: err.code, body };
    }
    throw err;
  }
  throw new Error("the call succeeded");
}
