import type { Informer, KubernetesObject, ObjectCache } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { RestartingInformer, stuckInformers } from "../../src/kube/restarting-informer.js";
import { holdsFor, until } from "../support/until.js";
import { silentLogger } from "../../src/cli/log.js";

/** An informer whose start() fails (calls its error handlers) the first `failures` times, like client-node's ListWatch. */
function flakyInformer(failures: number) {
  const errorHandlers: ((err: unknown) => void)[] = [];
  const starts: number[] = [];
  let stopped = false;
  const informer = {
    on: (verb: string, cb: (err: unknown) => void) => {
      if (verb === "error") errorHandlers.push(cb);
    },
    off: () => undefined,
    start: () => {
      starts.push(Date.now());
      if (starts.length <= failures) for (const cb of errorHandlers) cb(new Error("Premature close"));
      return Promise.resolve();
    },
    stop: () => {
      stopped = true;
      // client-node reports the aborted watch as one more error.
      for (const cb of errorHandlers) cb(new Error("The operation was aborted"));
      return Promise.resolve();
    },
    get: () => undefined,
    list: () => [],
  } as unknown as Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  return { informer, starts, isStopped: () => stopped };
}

describe("an informer restarted after errors", () => {
  it("retries with doubling delays up to the cap, then is synced", async () => {
    const fake = flakyInformer(5);
    const restarts: string[] = [];
    const r = new RestartingInformer(fake.informer, {
      resource: "droptraces",
      backoff: { initialMs: 10, maxMs: 40, resetAfterMs: 10_000 },
      log: silentLogger,
      onRestart: (resource) => restarts.push(resource),
    });
    r.start();
    await r.waitForSync();
    expect(r.synced).toBe(true);
    expect(r.failing).toBeUndefined();
    expect(restarts).toEqual(["droptraces", "droptraces", "droptraces", "droptraces", "droptraces"]);
    const gaps = fake.starts.slice(1).map((t, i) => t - (fake.starts[i] ?? 0));
    // 10, 20, 40, 40, 40 ms (timers fire late, never early)
    expect(gaps).toHaveLength(5);
    [10, 20, 40, 40, 40].forEach((min, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(min - 2);
    });
    expect(gaps[4]).toBeLessThan(200);
  });

  it("does not restart after stop(), whatever its watch reports", async () => {
    const fake = flakyInformer(0);
    const restarts: string[] = [];
    const r = new RestartingInformer(fake.informer, {
      resource: "daemonsets",
      backoff: { initialMs: 5, maxMs: 5, resetAfterMs: 1 },
      log: silentLogger,
      onRestart: (x) => {
        restarts.push(x);
      },
    });
    r.start();
    await r.waitForSync();
    await r.stop();
    expect(fake.isStopped()).toBe(true);
    // A restart that does not happen cannot be waited for. The error stop() causes would
    // schedule one a backoff (5 ms) later: watch for six times that.
    await holdsFor("no restart after stop()", 30, () => restarts.length === 0 && fake.starts.length === 1);
    expect(restarts).toEqual([]);
    expect(fake.starts).toHaveLength(1);
  });

  it("says since when it has been failing, and is stuck for /healthz only once that lasted long enough", async () => {
    const fake = flakyInformer(1_000_000);
    const r = new RestartingInformer(fake.informer, { resource: "droptraces", backoff: { initialMs: 5, maxMs: 5, resetAfterMs: 60_000 }, log: silentLogger });
    const before = Date.now();
    r.start();
    await until("three failed starts", () => fake.starts.length >= 3);
    const failing = r.failing;
    expect(failing?.sinceMs).toBeGreaterThanOrEqual(before);
    // Failures since the first do not move the start of the outage: it is before the second start.
    // (Not "at the first start": that is read a moment before the first failure, in another millisecond at times.)
    expect(failing?.sinceMs).toBeLessThan(fake.starts[1] ?? 0);
    const since = failing?.sinceMs ?? 0;
    expect(stuckInformers([r], since + 299_999, 300_000)).toBeUndefined();
    expect(stuckInformers([r], since + 300_000, 300_000)).toBe("the droptraces watch has failed for 300s: Premature close");
    await r.stop();
  });

  it("is not failing once a start succeeds again", async () => {
    const fake = flakyInformer(2);
    const r = new RestartingInformer(fake.informer, { resource: "reports", backoff: { initialMs: 5, maxMs: 5, resetAfterMs: 60_000 }, log: silentLogger });
    r.start();
    await r.waitForSync();
    expect(r.failing).toBeUndefined();
    expect(stuckInformers([r], Date.now() + 10_000_000, 1)).toBeUndefined();
    await r.stop();
  });
});
