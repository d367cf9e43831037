// A DropTrace as the informer cache holds it, read at the edge: the identity the controller
// needs for certain, and spec and status kept apart so that a spec the controller refuses can
// still be given a Failed status.
import { z } from "zod";
import { DropTraceStatusSchema, type DropTraceStatus } from "../api/droptrace.js";
import { describeFieldErrors, fieldErrors } from "../api/field-errors.js";
import type { KubernetesObject } from "@kubernetes/client-node";

const TraceObjectSchema = z.looseObject({
  metadata: z.looseObject({
    name: z.string().min(1),
    uid: z.string().min(1),
    resourceVersion: z.string().optional(),
    generation: z.number().int().min(0).optional(),
    deletionTimestamp: z.unknown().optional(),
  }),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});

export interface TraceObject {
  /** The cached object itself: read-only, copied before any write. */
  raw: KubernetesObject;
  name: string;
  uid: string;
  resourceVersion: string | undefined;
  generation: number;
  deleting: boolean;
  spec: unknown;
  /** Undefined when there is none yet, or when it does not parse (then `statusProblem` says why). */
  status: DropTraceStatus | undefined;
  statusProblem: string | undefined;
}

export function readTraceObject(raw: KubernetesObject): TraceObject {
  const parsed = TraceObjectSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`the cached DropTrace is not one: ${describeFieldErrors(fieldErrors(parsed.error))}`);
  }
  const { metadata, spec, status } = parsed.data;
  const statusParsed = status === undefined || status === null ? undefined : DropTraceStatusSchema.safeParse(status);
  return {
    raw,
    name: metadata.name,
    uid: metadata.uid,
    resourceVersion: metadata.resourceVersion,
    generation: metadata.generation ?? 0,
    deleting: metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null,
    spec,
    status: statusParsed?.success === true ? statusParsed.data : undefined,
    statusProblem: statusParsed?.success === false ? describeFieldErrors(fieldErrors(statusParsed.error, "status")) : undefined,
  };
}

/** ttlSecondsAfterFinished, read without the rest of the spec: a refused spec's trace may still have one. */
export function ttlSecondsOf(spec: unknown): number | undefined {
  const ttl = (spec as { ttlSecondsAfterFinished?: unknown } | undefined)?.ttlSecondsAfterFinished;
  return typeof ttl === "number" && Number.isInteger(ttl) && ttl >= 0 ? ttl : undefined;
}
