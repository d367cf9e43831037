// Why a trace's agents are not running, from what the cluster publishes about them: the agent
// pods' own status (an image that cannot be pulled, a pod the scheduler cannot place, a
// container that keeps crashing) and the Warning Events the DaemonSet controller records when
// it may not create a pod at all (Pod Security admission, a policy engine, a quota). Each cause
// is counted, quoted in the cluster's own words, and paired with what to do about it. Pure: the
// caches hand in compact views of pods and Events (made here, at the edge, with zod).
import { z } from "zod";
import { LABELS } from "../../api/constants.js";
import { REASON } from "../../api/conditions.js";
import { MAX_MESSAGE_LENGTH } from "./limits.js";

/** Why an agent has not started, per cause a condition reason of its own. */
export type AgentStartCause =
  typeof REASON.agentPodsRefused | typeof REASON.agentImagePullFailed | typeof REASON.agentsUnschedulable | typeof REASON.agentsCrashing;

/** What the reconciler keeps of an agent pod. */
export interface AgentPodView {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  /** The pod's trace label (names.ts labelValue of the trace's name). */
  traceLabel: string | undefined;
  /** uid of the DaemonSet that owns it: a pod of an earlier trace of the same name is not this one's. */
  daemonSetUid: string | undefined;
  /** The node it runs on, or is meant for (a DaemonSet pod names its node in its affinity before it is scheduled). */
  node: string | undefined;
  problem: { cause: AgentStartCause; message: string } | undefined;
}

/** What the reconciler keeps of a DaemonSet's FailedCreate Event. */
export interface DaemonSetEventView {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  daemonSet: string;
  daemonSetUid: string | undefined;
  message: string;
}

// A container waiting for these reasons will not start by itself: kubelet backs off and retries.
const IMAGE_REASONS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]);
const CRASH_REASONS = new Set(["CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

const Named = z.looseObject({ name: z.string().min(1), namespace: z.string().default(""), resourceVersion: z.string().optional() });
const ContainerStatus = z.looseObject({
  state: z
    .looseObject({
      waiting: z.looseObject({ reason: z.string().optional(), message: z.string().optional() }).optional().nullable(),
    })
    .optional()
    .nullable(),
  lastState: z
    .looseObject({
      terminated: z.looseObject({ exitCode: z.number().optional(), reason: z.string().optional(), message: z.string().optional() }).optional().nullable(),
    })
    .optional()
    .nullable(),
});
const PodSchema = z.looseObject({
  metadata: Named.extend({
    labels: z.record(z.string(), z.string()).optional().nullable(),
    ownerReferences: z
      .array(z.looseObject({ kind: z.string().optional(), uid: z.string().optional() }))
      .optional()
      .nullable(),
  }),
  spec: z
    .looseObject({
      nodeName: z.string().optional().nullable(),
      affinity: z.unknown().optional(),
    })
    .optional()
    .nullable(),
  status: z
    .looseObject({
      conditions: z
        .array(z.looseObject({ type: z.string(), status: z.string(), reason: z.string().optional().nullable(), message: z.string().optional().nullable() }))
        .optional()
        .nullable(),
      containerStatuses: z.array(ContainerStatus).optional().nullable(),
    })
    .optional()
    .nullable(),
});
const EventSchema = z.looseObject({
  metadata: Named,
  involvedObject: z.looseObject({ kind: z.string().optional(), name: z.string().optional(), uid: z.string().optional() }),
  reason: z.string().optional().nullable(),
  type: z.string().optional().nullable(),
  message: z.string().optional().nullable(),
});

const clip = (text: string) => text.slice(0, MAX_MESSAGE_LENGTH);

/** The node a DaemonSet pod is for: spec.nodeName once bound, else the node its required affinity names. */
function nodeOf(spec: z.infer<typeof PodSchema>["spec"]): string | undefined {
  if (typeof spec?.nodeName === "string" && spec.nodeName !== "") return spec.nodeName;
  const terms = (spec?.affinity as { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: unknown[] } } } | undefined)
    ?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  for (const term of terms ?? []) {
    for (const field of (term as { matchFields?: { key?: string; values?: string[] }[] }).matchFields ?? []) {
      if (field.key === "metadata.name" && field.values?.length === 1) return field.values[0];
    }
  }
  return undefined;
}

function problemOf(status: z.infer<typeof PodSchema>["status"]): AgentPodView["problem"] {
  for (const container of status?.containerStatuses ?? []) {
    const waiting = container.state?.waiting;
    const reason = waiting?.reason ?? "";
    if (IMAGE_REASONS.has(reason)) return { cause: REASON.agentImagePullFailed, message: clip(`${reason}: ${waiting?.message ?? ""}`.replace(/: $/, "")) };
    if (CRASH_REASONS.has(reason)) {
      const last = container.lastState?.terminated;
      const exit =
        last === undefined || last === null ? "" : `; last exit ${String(last.exitCode ?? "?")}${last.reason === undefined ? "" : ` (${last.reason})`}`;
      return { cause: REASON.agentsCrashing, message: clip(`${reason}${waiting?.message ? `: ${waiting.message}` : ""}${exit}`) };
    }
  }
  const scheduled = status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable")
    return { cause: REASON.agentsUnschedulable, message: clip(scheduled.message ?? "Unschedulable") };
  return undefined;
}

/** An agent pod as the controller keeps it; undefined for an object without a name. */
export function toAgentPodView(raw: unknown): AgentPodView | undefined {
  const parsed = PodSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { metadata, spec, status } = parsed.data;
  return {
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      ...(metadata.resourceVersion === undefined ? {} : { resourceVersion: metadata.resourceVersion }),
    },
    traceLabel: metadata.labels?.[LABELS.trace],
    daemonSetUid: metadata.ownerReferences?.find((ref) => ref.kind === "DaemonSet")?.uid,
    node: nodeOf(spec),
    problem: problemOf(status),
  };
}

/** A DaemonSet's FailedCreate Event as the controller keeps it; undefined for any other Event. */
export function toDaemonSetEventView(raw: unknown): DaemonSetEventView | undefined {
  const parsed = EventSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { metadata, involvedObject, reason, type, message } = parsed.data;
  if (involvedObject.kind !== "DaemonSet" || reason !== "FailedCreate" || type !== "Warning" || involvedObject.name === undefined) return undefined;
  return {
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      ...(metadata.resourceVersion === undefined ? {} : { resourceVersion: metadata.resourceVersion }),
    },
    daemonSet: involvedObject.name,
    daemonSetUid: involvedObject.uid,
    message: clip(message ?? ""),
  };
}

/** Agents that have not started, by cause: the nodes named where the cluster names them. */
export interface AgentStartProblem {
  cause: AgentStartCause;
  /** Nodes affected; for refused pods (none exists to name a node) the number the DaemonSet could not create. */
  count: number;
  nodes: string[];
  /** The cluster's own words, from one of them. */
  message: string;
}

export interface AgentStartInput {
  pods: readonly AgentPodView[];
  events: readonly DaemonSetEventView[];
  /** Nodes that have written a report: their agent started, whatever its pod says now. */
  reported: ReadonlySet<string>;
  /** The DaemonSet's desiredNumberScheduled and currentNumberScheduled, once counted. */
  desired: number | undefined;
  current: number | undefined;
}

/** Causes with the most nodes first. */
export function agentStartProblems(input: AgentStartInput): AgentStartProblem[] {
  const byCause = new Map<AgentStartCause, AgentStartProblem>();
  const add = (cause: AgentStartCause, message: string, node?: string, count = 1) => {
    const problem = byCause.get(cause) ?? { cause, count: 0, nodes: [], message };
    problem.count += count;
    if (node !== undefined) problem.nodes.push(node);
    byCause.set(cause, problem);
  };
  for (const pod of input.pods) {
    if (pod.problem === undefined || (pod.node !== undefined && input.reported.has(pod.node))) continue;
    add(pod.problem.cause, pod.problem.message, pod.node);
  }
  // Nodes the DaemonSet wants but has no pod on, while its controller says why it could not create them.
  const missing = (input.desired ?? 0) - (input.current ?? 0);
  const refusal = input.events.at(-1);
  if (missing > 0 && refusal !== undefined) add(REASON.agentPodsRefused, refusal.message, undefined, missing);
  for (const problem of byCause.values()) problem.nodes.sort();
  return [...byCause.values()].sort((a, b) => b.count - a.count || (a.cause < b.cause ? -1 : 1));
}

/** Where a trace's agents are, for advice that names them. */
export interface AgentWhereabouts {
  namespace: string;
  daemonSet: string;
  image: string;
  /** The value of the agent pods' trace label. */
  traceLabel: string;
}

/** What to do about a cause, in the words a person acts on. */
export function agentStartAdvice(problem: AgentStartProblem, where: AgentWhereabouts): string {
  switch (problem.cause) {
    case REASON.agentPodsRefused:
      return /PodSecurity/.test(problem.message)
        ? `the namespace's Pod Security level refuses privileged pods: kubectl label namespace ${where.namespace} pod-security.kubernetes.io/enforce=privileged --overwrite`
        : `a policy refuses the agent pods (privileged, host mounts): allow them in namespace ${where.namespace} (kubectl -n ${where.namespace} describe ds ${where.daemonSet})`;
    case REASON.agentImagePullFailed:
      return `check that the agent image ${where.image} exists and that the nodes may pull it (the chart's agent.image and imagePullSecrets)`;
    case REASON.agentsUnschedulable:
      return "the scheduler cannot place the agent pods: lower the agent's requests (the chart's agent.resources) or free capacity on those nodes";
    case REASON.agentsCrashing:
      return `the agent exits before its first report: kubectl -n ${where.namespace} logs -p -l ${LABELS.trace}=${where.traceLabel}`;
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "AgentImagePullFailed on 2 nodes (a, b): ErrImagePull: ...; check that ..." */
export function describeAgentStartProblem(problem: AgentStartProblem, where: AgentWhereabouts): string {
  const shown = problem.nodes.slice(0, 5);
  const names =
    shown.length === 0 ? "" : ` (${shown.join(", ")}${problem.nodes.length > shown.length ? ` and ${problem.nodes.length - shown.length} more` : ""})`;
  return `${problem.cause} on ${plural(problem.count, "node")}${names}: ${problem.message}; ${agentStartAdvice(problem, where)}`;
}
