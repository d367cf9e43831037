// Two replicas on one Lease: one leads and reconciles, the other waits; when the leader stops
// (handing the lease back) or dies (leaving it to expire), the other takes over.
import { CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LEASE_NAME } from "../../src/controller/defaults.js";
import { LeaderElector } from "../../src/kube/leader-election.js";
import { createTrace, FAST, getDaemonSet, NAMESPACE, startCluster, startController, stopController, testLog, untilPhase, type Cluster } from "./harness.js";
import { holdsFor, until } from "../support/until.js";

let cluster: Cluster;
beforeEach(async () => {
  cluster = await startCluster();
});
afterEach(async () => {
  await cluster.close();
});

const readLease = (): Promise<V1Lease> => cluster.coordination.readNamespacedLease({ name: LEASE_NAME, namespace: NAMESPACE });
const electing = (podName: string) => ({ env: { DROPTRACE_LEADER_ELECT: "true", POD_NAME: podName } });
const counter = async (c: { metrics: { registry: { getSingleMetricAsString(n: string): Promise<string> } } }, name: string) =>
  c.metrics.registry.getSingleMetricAsString(name);

describe("leader election between two replicas", () => {
  it("lets one lead; the other takes over when the leader stops and hands the lease back", async () => {
    const a = await startController(cluster, electing("controller-a"));
    await until("a to lead", () => a.isLeader);
    const b = await startController(cluster, electing("controller-b"));
    expect(b.ready()).toBeUndefined(); // a standby is ready: its caches are warm

    await createTrace(cluster, "one");
    await untilPhase(cluster, "one", "Pending");
    // Several retry periods: b keeps waiting, and has written nothing. Not leading is an absence
    // no wait can show: watch b through four of its tries at the lease.
    await holdsFor("b to stay a standby", 4 * FAST.lease.retryPeriodMs, () => !b.isLeader);
    expect(b.isLeader).toBe(false);
    expect(await counter(b, "droptrace_controller_status_writes_total")).not.toContain('result="ok"');
    expect(await counter(b, "droptrace_controller_is_leader")).toContain("droptrace_controller_is_leader 0");
    expect(await counter(a, "droptrace_controller_is_leader")).toContain("droptrace_controller_is_leader 1");
    const held = await readLease();
    expect(held.spec?.holderIdentity).toMatch(/^controller-a_/);
    expect(held.spec?.leaseTransitions).toBe(0);
    expect(held.spec?.leaseDurationSeconds).toBe(1);

    const stoppedAt = Date.now();
    await stopController(cluster, a);
    await until("b to lead", () => b.isLeader);
    // Handed back: b did not wait for the lease to expire.
    expect(Date.now() - stoppedAt).toBeLessThan(FAST.lease.durationMs);
    const taken = await readLease();
    expect(taken.spec?.holderIdentity).toMatch(/^controller-b_/);
    expect(taken.spec?.leaseTransitions).toBe(1); // one change of holder: a to b

    // b now does the work.
    await createTrace(cluster, "two");
    await until("b's DaemonSet for two", () => getDaemonSet(cluster, "two"));
    await untilPhase(cluster, "two", "Pending");
  });

  it("takes over from a leader that died, once its lease has expired", async () => {
    const a = await startController(cluster, { ...electing("controller-a"), releaseLeaseOnStop: false });
    await until("a to lead", () => a.isLeader);
    const b = await startController(cluster, electing("controller-b"));
    const diedAt = Date.now();
    await stopController(cluster, a); // does not hand the lease back, like a crash
    await until("b to lead", () => b.isLeader, { timeoutMs: 5_000 });
    expect(Date.now() - diedAt).toBeGreaterThanOrEqual(FAST.lease.durationMs - 100);
    const lease = await readLease();
    expect(lease.spec?.holderIdentity).toMatch(/^controller-b_/);
    expect(lease.spec?.leaseTransitions).toBe(1);
  });
});

describe("the Lease protocol", () => {
  const elector = (identity: string, releaseOnCancel = true) =>
    new LeaderElector({
      api: cluster.server.kubeConfig.makeApiClient(CoordinationV1Api),
      namespace: NAMESPACE,
      name: "protocol-test",
      identity,
      timings: FAST.lease,
      log: testLog,
      releaseOnCancel,
    });

  it("never has two leaders at once while candidates race for a fresh lease", async () => {
    const candidates = ["x", "y", "z"].map((id) => ({ id, elector: elector(id), stop: new AbortController() }));
    let leaders = 0;
    let maxLeaders = 0;
    const runs = candidates.map((c) =>
      c.elector.run(c.stop.signal, async (leading) => {
        leaders += 1;
        maxLeaders = Math.max(maxLeaders, leaders);
        await new Promise<void>((resolve) => {
          leading.addEventListener("abort", () => {
            resolve();
          });
        });
        leaders -= 1;
      }),
    );
    await until("someone to lead", () => leaders === 1);
    // A second leader is an absence no wait can show: watch through five rounds of the others' tries.
    await holdsFor("one leader at most", 5 * FAST.lease.retryPeriodMs, () => maxLeaders === 1);
    expect(maxLeaders).toBe(1);
    for (const c of candidates) c.stop.abort();
    await Promise.all(runs);
    expect(leaders).toBe(0);
  });

  it("steps down when it cannot renew within the renew deadline", async () => {
    const stop = new AbortController();
    let lost = false;
    const e = elector("flaky", false);
    const run = e.run(stop.signal, async (leading) => {
      await new Promise<void>((resolve) => {
        leading.addEventListener("abort", () => {
          lost = true;
          resolve();
        });
      });
    });
    await until("flaky to lead", () => e.isLeader);
    // Every lease request fails from now on.
    cluster.server.faults.failNext({ pathRegex: /\/leases\//, status: 500, count: 1000 });
    const failingSince = Date.now();
    await until("flaky to step down", () => lost, { timeoutMs: 3_000 });
    expect(Date.now() - failingSince).toBeLessThan(FAST.lease.durationMs + FAST.lease.retryPeriodMs);
    expect(e.isLeader).toBe(false);
    stop.abort();
    cluster.server.faults.clear();
    await run;
  });
});
