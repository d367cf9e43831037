// Whose a drop row is: the pod and workload that own the packet's network namespace on the
// node, and how that was known. Shared by DropTraceReport rows and DropTrace status rows;
// crds/ must agree (test/api proves it).
import { z } from "zod";

/**
 * How a row was attributed:
 * - `netns`: the row's network namespace is a pod's (or, for `droptrace run`, a container's);
 * - `socket`: the row is in the node's own namespace (or in none) and its packets carried a socket whose cgroup is a pod's
 *   (for `droptrace run`, a container's): this names host-network pods;
 * - `host`: the node's own namespace;
 * - `unknown`: no pod or container owns the namespace, or its owner could not be named (the report's message says why).
 */
export const ATTRIBUTIONS = ["netns", "socket", "host", "unknown"] as const;
export const AttributionSchema = z.enum(ATTRIBUTIONS);
export type Attribution = z.infer<typeof AttributionSchema>;

export const PodRefSchema = z.strictObject({
  namespace: z.string().min(1).max(63),
  name: z.string().min(1).max(253),
  uid: z.string().min(1).max(64),
});
export type PodRef = z.infer<typeof PodRefSchema>;

/** A Kubernetes kind name: Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, Pod, or an operator's own. */
export const KIND_PATTERN = "^[A-Z][A-Za-z0-9]{0,62}$";

/** The pod's owner at the top of its chain (ReplicaSet -> Deployment, Job -> CronJob), or the pod itself when nothing owns it. */
export const WorkloadRefSchema = z.strictObject({
  kind: z.string().regex(new RegExp(KIND_PATTERN)),
  name: z.string().min(1).max(253),
});
export type WorkloadRef = z.infer<typeof WorkloadRefSchema>;

/**
 * A workload with its namespace, as status rows name it: a pod's workload is in the pod's
 * namespace, and a status row summing several pods of one workload names no single pod.
 */
export const WorkloadIdentitySchema = z.strictObject({
  kind: WorkloadRefSchema.shape.kind,
  namespace: PodRefSchema.shape.namespace,
  name: WorkloadRefSchema.shape.name,
});
export type WorkloadIdentity = z.infer<typeof WorkloadIdentitySchema>;

/**
 * The workload of a report row (its namespace is its pod's) or of a status row (which says it);
 * undefined for a row no workload owns.
 */
export function rowWorkload(row: {
  readonly pod?: { readonly namespace: string } | undefined;
  readonly workload?: { readonly kind: string; readonly name: string; readonly namespace?: string } | undefined;
}): WorkloadIdentity | undefined {
  const workload = row.workload;
  const namespace = workload?.namespace ?? row.pod?.namespace;
  if (workload === undefined || namespace === undefined) return undefined;
  return { kind: workload.kind, namespace, name: workload.name };
}

/** "Deployment shop/cart": how `kubectl get dt` and condition messages name a workload. */
export function formatWorkload(workload: WorkloadIdentity): string {
  return `${workload.kind} ${workload.namespace}/${workload.name}`;
}

export const CONTAINER_RUNTIMES = ["containerd", "cri-o", "docker"] as const;

/** A container outside Kubernetes' view (`droptrace run`): its cgroup, and its ID where the cgroup's name says it. */
export const ContainerRefSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  runtime: z.enum(CONTAINER_RUNTIMES).optional(),
  cgroup: z.string().max(1024),
});
export type ContainerRef = z.infer<typeof ContainerRefSchema>;

/** The attribution fields a row may carry, all optional: rows written before attribution existed have none. */
export const RowAttributionShape = {
  attribution: AttributionSchema.optional(),
  pod: PodRefSchema.optional(),
  workload: WorkloadRefSchema.optional(),
  container: ContainerRefSchema.optional(),
};

export interface RowAttribution {
  attribution?: Attribution;
  pod?: PodRef;
  workload?: WorkloadRef;
  container?: ContainerRef;
}
