// Fault injection and the request log.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dropTrace, dropTraces, failure, mergePatch, startWithClients, type Clients } from "./apiserver-test-helpers.js";

let c: Clients;
beforeEach(async () => {
  c = await startWithClients();
});
afterEach(async () => {
  await c.server.close();
});

describe("faults", () => {
  it("fails the next matching requests with the given status, then serves again", async () => {
    c.server.faults.failNext({ method: "POST", pathPrefix: "/apis/droptrace.io/", status: 503, count: 2 });
    const first = await failure(c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("a") }));
    expect(first.code).toBe(503);
    expect(first.body.reason).toBe("ServiceUnavailable");
    // A GET does not match the rule and is not consumed by it.
    const list = (await c.custom.listClusterCustomObject(dropTraces)) as { items: unknown[] };
    expect(list.items).toEqual([]);
    expect((await failure(c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("a") }))).code).toBe(503);
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("a") });
    expect(c.server.store.get("droptrace.io/droptraces", "", "a")).toBeDefined();
  });

  it("answers 429 with Retry-After, 409 and 500 like the real server", async () => {
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("a") });
    c.server.faults.failNext({ pathRegex: /\/droptraces\/a$/, status: 429 });
    const throttled = await failure(c.custom.getClusterCustomObject({ ...dropTraces, name: "a" }));
    expect(throttled.code).toBe(429);
    expect(throttled.body.details?.retryAfterSeconds).toBe(1);
    c.server.faults.failNext({ method: "PATCH", status: 409 });
    expect((await failure(c.custom.patchClusterCustomObject({ ...dropTraces, name: "a", body: { metadata: { labels: { x: "y" } } } }, mergePatch))).code).toBe(
      409,
    );
    c.server.faults.failNext({ status: 500 });
    const internal = await failure(c.custom.getClusterCustomObject({ ...dropTraces, name: "a" }));
    expect(internal.body.reason).toBe("InternalError");
    expect(internal.body.message).toBe("Internal error occurred: injected fault");
  });

  it("delays matching requests", async () => {
    c.server.faults.delay(200, { method: "GET" });
    const started = Date.now();
    await c.custom.listClusterCustomObject(dropTraces);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    c.server.faults.clear();
    const again = Date.now();
    await c.custom.listClusterCustomObject(dropTraces);
    expect(Date.now() - again).toBeLessThan(150);
  });

  it("logs every request with its status, so tests can count writes", async () => {
    await c.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("a") });
    await c.custom.getClusterCustomObject({ ...dropTraces, name: "a" });
    await failure(c.custom.getClusterCustomObject({ ...dropTraces, name: "b" }));
    await c.custom.patchClusterCustomObject({ ...dropTraces, name: "a", body: { metadata: { labels: { x: "y" } } } }, mergePatch);
    expect(c.server.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      "POST /apis/droptrace.io/v1alpha1/droptraces 201",
      "GET /apis/droptrace.io/v1alpha1/droptraces/a 200",
      "GET /apis/droptrace.io/v1alpha1/droptraces/b 404",
      "PATCH /apis/droptrace.io/v1alpha1/droptraces/a 200",
    ]);
    expect(c.server.writes()).toHaveLength(2);
  });
});

describe("discovery and raw HTTP", () => {
  it("serves discovery for the groups it knows", async () => {
    const get = async (path: string) => (await fetch(`${c.server.url}${path}`)).json() as Promise<Record<string, unknown>>;
    const apis = await get("/apis");
    expect((apis["groups"] as { name: string }[]).map((g) => g.name)).toEqual(
      expect.arrayContaining(["apps", "coordination.k8s.io", "events.k8s.io", "droptrace.io"]),
    );
    const resources = await get("/apis/droptrace.io/v1alpha1");
    expect((resources["resources"] as { name: string; namespaced: boolean }[]).map((r) => [r.name, r.namespaced])).toEqual([
      ["droptracereports", false],
      ["droptraces", false],
      ["droptraces/status", false],
    ]);
    expect((await get("/api"))["versions"]).toEqual(["v1"]);
  });

  it("sends a Warning header for each unknown field it drops", async () => {
    const res = await fetch(`${c.server.url}/apis/droptrace.io/v1alpha1/droptraces`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(dropTrace("w", { topN: 3, bogus: true, other: 1 })),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("warning")).toBe('299 - "unknown field \\"spec.bogus\\"", 299 - "unknown field \\"spec.other\\""');
  });

  it("answers 404 for a path it does not serve", async () => {
    const res = await fetch(`${c.server.url}/apis/batch/v1/namespaces/default/jobs`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ kind: "Status", reason: "NotFound", message: "the server could not find the requested resource" });
  });
});
