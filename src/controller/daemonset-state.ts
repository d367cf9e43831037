// What a trace's DaemonSet in the cache tells the reconciler: whose it is, how many nodes its
// controller wants, and which spec it was made from.
import type { V1DaemonSet } from "@kubernetes/client-node";
import { ANNOTATIONS } from "../api/constants.js";

export type Ownership = "absent" | "ours" | "earlierTrace" | "foreign";

/**
 * "earlierTrace": a DropTrace of the same name was deleted and created again, and the garbage
 * collector has not removed the old one's DaemonSet yet.
 */
export function ownership(daemonSet: V1DaemonSet | undefined, trace: { name: string; uid: string }): Ownership {
  if (daemonSet === undefined) return "absent";
  const owner = daemonSet.metadata?.ownerReferences?.find((ref) => ref.controller === true);
  if (owner?.uid === trace.uid) return "ours";
  if (owner?.name === trace.name) return "earlierTrace";
  return "foreign";
}

/**
 * status.desiredNumberScheduled once the DaemonSet controller has counted this generation;
 * undefined before. A fresh DaemonSet's status says 0 before anyone counted, so 0 is believed
 * only with an observedGeneration.
 */
export function desiredScheduledOf(daemonSet: V1DaemonSet | undefined): number | undefined {
  const status = daemonSet?.status;
  if (status === undefined) return undefined;
  const observed = status.observedGeneration;
  const generation = daemonSet?.metadata?.generation;
  if (observed !== undefined && generation !== undefined && observed < generation) return undefined;
  if (status.desiredNumberScheduled > 0) return status.desiredNumberScheduled;
  return observed === undefined ? undefined : 0;
}

/** The spec the DaemonSet was made from (its annotation), if it has a readable one. */
export function appliedSpecOf(daemonSet: V1DaemonSet | undefined): unknown {
  const text = daemonSet?.metadata?.annotations?.[ANNOTATIONS.spec];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Someone edited the annotation: treat it as absent, the template hash then restores it.
    return undefined;
  }
}

export function templateHashOf(daemonSet: V1DaemonSet | undefined): string | undefined {
  return daemonSet?.metadata?.annotations?.[ANNOTATIONS.templateHash];
}
