// A pod's workload from the pod alone (the agent reads no ReplicaSets or Jobs): what the
// Deployment and CronJob controllers name their children is what makes it exact.
import { describe, expect, it } from "vitest";
import { workloadOf } from "../../src/agent/workload.js";

const owned = (kind: string, name: string, labels: Record<string, string> = {}) => ({
  name: "p",
  labels,
  ownerReferences: [{ kind, name, controller: true }],
});

describe("workloadOf", () => {
  it("resolves a Deployment's ReplicaSet by its pod-template-hash", () => {
    // The Deployment controller names ReplicaSets <deployment>-<hash> and labels their pods with the hash.
    expect(workloadOf(owned("ReplicaSet", "cart-7d9c5b6f4", { "pod-template-hash": "7d9c5b6f4" }))).toEqual({ kind: "Deployment", name: "cart" });
    expect(workloadOf(owned("ReplicaSet", "shop-cart-v2-5c8f9d", { "pod-template-hash": "5c8f9d" }))).toEqual({ kind: "Deployment", name: "shop-cart-v2" });
  });

  it("keeps a ReplicaSet no Deployment made (no hash, or a name that does not end in it)", () => {
    expect(workloadOf(owned("ReplicaSet", "hand-made"))).toEqual({ kind: "ReplicaSet", name: "hand-made" });
    expect(workloadOf(owned("ReplicaSet", "rollout-abc", { "pod-template-hash": "xyz" }))).toEqual({ kind: "ReplicaSet", name: "rollout-abc" });
  });

  it("resolves a CronJob's Job by its scheduled-minute suffix, and keeps other Jobs", () => {
    // CronJob "backup" scheduled at 2026-12-03T17:00Z: minute 29411220 since the epoch.
    expect(workloadOf(owned("Job", `backup-${Math.floor(Date.parse("2026-12-03T17:00:00Z") / 60_000)}`))).toEqual({ kind: "CronJob", name: "backup" });
    expect(workloadOf(owned("Job", "migrate-db"))).toEqual({ kind: "Job", name: "migrate-db" });
    // A number that is no schedule time (a version, a build number) is not a CronJob's.
    expect(workloadOf(owned("Job", "build-12345"))).toEqual({ kind: "Job", name: "build-12345" });
  });

  it("names StatefulSets, DaemonSets and other owners as they are, and a bare pod as itself", () => {
    expect(workloadOf(owned("StatefulSet", "db"))).toEqual({ kind: "StatefulSet", name: "db" });
    expect(workloadOf(owned("DaemonSet", "cilium"))).toEqual({ kind: "DaemonSet", name: "cilium" });
    expect(workloadOf(owned("VirtualMachineInstance", "vm1"))).toEqual({ kind: "VirtualMachineInstance", name: "vm1" });
    expect(workloadOf({ name: "debug-shell" })).toEqual({ kind: "Pod", name: "debug-shell" });
  });

  it("follows the controller reference when a pod has several owners", () => {
    const pod = {
      name: "p",
      ownerReferences: [
        { kind: "ConfigMap", name: "not-a-controller" },
        { kind: "StatefulSet", name: "db", controller: true },
      ],
    };
    expect(workloadOf(pod)).toEqual({ kind: "StatefulSet", name: "db" });
  });
});
