// Watch streams and informers through client-node's Watch and makeInformer.
import { makeInformer, Watch, type KubernetesObject } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { dropTrace, dropTraces, mergePatch, startWithClients, type Clients, type Obj } from "./apiserver-test-helpers.js";
import { until } from "./until.js";

let c: Clients;
let aborts: AbortController[];
beforeEach(async () => {
  c = await startWithClients();
  aborts = [];
});
afterEach(async () => {
  for (const a of aborts) a.abort();
  await c.server.close();
});

const path = "/apis/droptrace.io/v1alpha1/droptraces";

interface Seen {
  type: string;
  name: string;
  rv: string;
  code?: number;
}

async function watch(query: Record<string, string | number | boolean>, seen: Seen[], done: { err?: unknown; ended: boolean }) {
  const w = new Watch(c.server.kubeConfig);
  const controller = await w.watch(
    path,
    query,
    (type, obj: { metadata?: { name?: string; resourceVersion?: string }; code?: number }) => {
      seen.push({ type, name: obj.metadata?.name ?? "", rv: obj.metadata?.resourceVersion ?? "", ...(obj.code === undefined ? {} : { code: obj.code }) });
    },
    (err) => {
      done.err = err;
      done.ended = true;
    },
  );
  aborts.push(controller);
}

const create = (o: Obj) => c.custom.createClusterCustomObject({ ...dropTraces, body: o }) as Promise<Obj>;

describe("watch", () => {
  it("streams ADDED, MODIFIED and DELETED in order from a resourceVersion", async () => {
    const list = (await c.custom.listClusterCustomObject(dropTraces)) as { metadata: { resourceVersion: string } };
    const seen: Seen[] = [];
    await watch({ resourceVersion: list.metadata.resourceVersion }, seen, { ended: false });
    const created = await create(dropTrace("w"));
    const patched = (await c.custom.patchClusterCustomObject({ ...dropTraces, name: "w", body: { metadata: { labels: { a: "b" } } } }, mergePatch)) as Obj;
    await c.custom.deleteClusterCustomObject({ ...dropTraces, name: "w" });
    await until("three events", () => seen.length === 3);
    expect(seen.map((s) => [s.type, s.name])).toEqual([
      ["ADDED", "w"],
      ["MODIFIED", "w"],
      ["DELETED", "w"],
    ]);
    expect(seen[0]?.rv).toBe(created.metadata.resourceVersion);
    expect(seen[1]?.rv).toBe(patched.metadata.resourceVersion);
    expect(Number(seen[2]?.rv)).toBeGreaterThan(Number(patched.metadata.resourceVersion));
  });

  it("replays the retained history to a watch from an older resourceVersion", async () => {
    const a = await create(dropTrace("a"));
    await create(dropTrace("b"));
    const seen: Seen[] = [];
    await watch({ resourceVersion: String(Number(a.metadata.resourceVersion) - 1) }, seen, { ended: false });
    await until("two events", () => seen.length === 2);
    expect(seen.map((s) => s.name)).toEqual(["a", "b"]);
  });

  it("starts with an ADDED per existing object when no resourceVersion is given", async () => {
    await create(dropTrace("old"));
    const seen: Seen[] = [];
    await watch({}, seen, { ended: false });
    await create(dropTrace("new"));
    await until("two events", () => seen.length === 2);
    expect(seen.map((s) => [s.type, s.name])).toEqual([
      ["ADDED", "old"],
      ["ADDED", "new"],
    ]);
  });

  it("answers a watch from a compacted resourceVersion with an ERROR event carrying 410 Expired", async () => {
    const a = await create(dropTrace("a"));
    await create(dropTrace("b"));
    c.server.faults.expireHistory();
    const seen: Seen[] = [];
    const done = { ended: false } as { err?: unknown; ended: boolean };
    await watch({ resourceVersion: a.metadata.resourceVersion ?? "" }, seen, done);
    await until("the watch to end", () => done.ended);
    expect(seen).toEqual([{ type: "ERROR", name: "", rv: "", code: 410 }]);
    expect(done.err).toBeNull();
  });

  it("compacts history past the configured window", async () => {
    const small = await startWithClients({ historyLimit: 2 });
    try {
      const first = (await small.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace("a") })) as Obj;
      for (const n of ["b", "c"]) await small.custom.createClusterCustomObject({ ...dropTraces, body: dropTrace(n) });
      expect(small.server.store.eventsSince("droptrace.io/droptraces", Number(first.metadata.resourceVersion) - 1)).toBeUndefined();
      expect(small.server.store.eventsSince("droptrace.io/droptraces", Number(first.metadata.resourceVersion))?.map((e) => e.type)).toEqual(["ADDED", "ADDED"]);
    } finally {
      await small.server.close();
    }
  });

  it("filters by label selector, sending DELETED when an object stops matching", async () => {
    const seen: Seen[] = [];
    await watch({ labelSelector: "team=net", resourceVersion: String(c.server.store.currentResourceVersion()) }, seen, { ended: false });
    await create(dropTrace("other", {}, { team: "storage" }));
    await create(dropTrace("mine", {}, { team: "net" }));
    await c.custom.patchClusterCustomObject({ ...dropTraces, name: "mine", body: { metadata: { labels: { team: "storage" } } } }, mergePatch);
    await c.custom.patchClusterCustomObject({ ...dropTraces, name: "other", body: { metadata: { labels: { team: "net" } } } }, mergePatch);
    await until("three events", () => seen.length === 3);
    expect(seen.map((s) => [s.type, s.name])).toEqual([
      ["ADDED", "mine"],
      ["DELETED", "mine"],
      ["ADDED", "other"],
    ]);
  });

  it("ends the stream after timeoutSeconds", async () => {
    const done = { ended: false } as { err?: unknown; ended: boolean };
    const started = Date.now();
    await watch({ timeoutSeconds: 1 }, [], done);
    await until("the watch to end", () => done.ended, { timeoutMs: 3_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(done.err).toBeNull();
  });

  it("sends bookmarks when asked", async () => {
    const quick = await startWithClients({ bookmarkIntervalMs: 50 });
    try {
      const w = new Watch(quick.server.kubeConfig);
      const types: string[] = [];
      const rvs: string[] = [];
      aborts.push(
        await w.watch(
          path,
          { allowWatchBookmarks: true },
          (type, obj: KubernetesObject) => {
            types.push(type);
            rvs.push(obj.metadata?.resourceVersion ?? "");
          },
          () => undefined,
        ),
      );
      await until("two bookmarks", () => types.length >= 2);
      expect(types.slice(0, 2)).toEqual(["BOOKMARK", "BOOKMARK"]);
      expect(rvs[0]).toBe(String(quick.server.store.currentResourceVersion()));
    } finally {
      await quick.server.close();
    }
  });
});

describe("informer", () => {
  const informerFor = () => makeInformer<KubernetesObject>(c.server.kubeConfig, path, () => c.custom.listClusterCustomObject(dropTraces) as never);

  it("lists, watches, and resumes from its resourceVersion after every watch is dropped", async () => {
    await create(dropTrace("before"));
    const informer = informerFor();
    const added: string[] = [];
    const errors: unknown[] = [];
    informer.on("add", (o) => added.push(o.metadata?.name ?? ""));
    // A cut connection is an error to client-node: the informer stops and its user restarts it.
    informer.on("error", (err) => errors.push(err));
    await informer.start();
    await until("the informer's watch", () => c.server.openWatches() === 1);
    expect(added).toEqual(["before"]);

    expect(c.server.faults.dropWatches()).toBe(1);
    await until("the dropped watch's error", () => errors.length === 1);
    await create(dropTrace("during"));
    const listsBefore = c.server.requests.filter((r) => r.method === "GET" && r.query === "").length;
    await informer.start();
    await until("the object created while no watch was open", () => added.includes("during"));
    await create(dropTrace("after"));
    await until("the object created after the restart", () => added.includes("after"));
    expect(added).toEqual(["before", "during", "after"]);
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(["after", "before", "during"]);
    // It resumed from its resourceVersion: no second list.
    expect(c.server.requests.filter((r) => r.method === "GET" && r.query === "").length).toBe(listsBefore);
    await informer.stop();
  });

  it("relists after a 410 and reports objects deleted meanwhile", async () => {
    await create(dropTrace("keep"));
    await create(dropTrace("gone"));
    const informer = informerFor();
    const deleted: string[] = [];
    const errors: unknown[] = [];
    informer.on("delete", (o) => deleted.push(o.metadata?.name ?? ""));
    informer.on("error", (err) => errors.push(err));
    await informer.start();
    await until("the informer's watch", () => c.server.openWatches() === 1);

    c.server.faults.dropWatches();
    await until("the dropped watch's error", () => errors.length === 1);
    await c.custom.deleteClusterCustomObject({ ...dropTraces, name: "gone" });
    await create(dropTrace("fresh"));
    c.server.faults.expireHistory();
    const listsBefore = c.server.requests.filter((r) => r.method === "GET" && r.query === "").length;
    await informer.start();
    await until("the DELETE of the object deleted meanwhile", () => deleted.includes("gone"));
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(["fresh", "keep"]);
    // The informer reports the DELETE from its relist, then starts its next watch: wait for that one.
    const watches = () => c.server.requests.filter((r) => r.query.includes("watch=true")).length;
    await until("the watch after the relist", () => watches() >= 3);
    expect(watches()).toBe(3);
    expect(c.server.requests.filter((r) => r.method === "GET" && r.query === "").length).toBe(listsBefore + 1);
    await informer.stop();
  });
});
