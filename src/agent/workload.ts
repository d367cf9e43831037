// A pod's workload: the top of its owner chain, read from the pod alone.
//
// The agent may list and watch pods on its node and nothing else, so it never reads a
// ReplicaSet or a Job. Two links of the chain are therefore read from names the controllers
// that made them chose:
// - ReplicaSet -> Deployment: the Deployment controller names each ReplicaSet
//   `<deployment>-<pod-template-hash>` and puts that hash on every pod as the
//   `pod-template-hash` label. A ReplicaSet whose name is not that (made by hand, or by another
//   controller such as Argo Rollouts, which names its own) stays a ReplicaSet.
// - Job -> CronJob: the CronJob controller names each Job `<cronjob>-<scheduled time in minutes
//   since the epoch>`. A Job named so is reported as its CronJob; a Job named otherwise stays a Job.
// Granting `get` on replicasets and jobs would make both exact, at the price of two more
// permissions on every node; the names are what kubectl and most dashboards show anyway.
import type { WorkloadRef } from "../api/attribution.js";

export interface PodOwnerFacts {
  name: string;
  labels?: Record<string, string> | undefined;
  ownerReferences?: readonly { kind: string; name: string; controller?: boolean | undefined }[] | undefined;
}

const POD_TEMPLATE_HASH = "pod-template-hash";
/** Minutes since the epoch of 2000-01-01 and 2200-01-01: a Job suffix outside is not a CronJob's schedule time. */
const SCHEDULE_MINUTES = { min: 15_778_080, max: 121_187_520 } as const;
const CRONJOB_JOB_NAME = /^(.+)-(\d{8,9})$/;

export function workloadOf(pod: PodOwnerFacts): WorkloadRef {
  const refs = pod.ownerReferences ?? [];
  const owner = refs.find((r) => r.controller === true) ?? refs[0];
  if (owner === undefined) return { kind: "Pod", name: pod.name };
  if (owner.kind === "ReplicaSet") {
    const hash = pod.labels?.[POD_TEMPLATE_HASH];
    if (hash !== undefined && hash !== "" && owner.name.endsWith(`-${hash}`) && owner.name.length > hash.length + 1) {
      return { kind: "Deployment", name: owner.name.slice(0, -(hash.length + 1)) };
    }
    return { kind: "ReplicaSet", name: owner.name };
  }
  if (owner.kind === "Job") {
    const match = CRONJOB_JOB_NAME.exec(owner.name);
    const minutes = Number(match?.[2]);
    if (match?.[1] !== undefined && minutes >= SCHEDULE_MINUTES.min && minutes <= SCHEDULE_MINUTES.max) return { kind: "CronJob", name: match[1] };
    return { kind: "Job", name: owner.name };
  }
  return { kind: owner.kind, name: owner.name };
}
