// The DropTrace API. These schemas are the single source of its shape:
// crds/droptraces.droptrace.io.yaml must agree with them, and test/api proves it.
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import {
  API_VERSION,
  DROPTRACE,
  IFNAME_MAX,
  MAX_INTERFACE_FILTERS,
  MAX_NAMESPACE_FILTERS,
  MAX_POD_SELECTOR_EXPRESSIONS,
  MAX_POD_SELECTOR_LABELS,
  MAX_POD_SELECTOR_VALUES,
  MAX_ROW_INTERFACES,
  MAX_NODE_SELECTOR_LABELS,
  MAX_NODE_SUMMARY,
  MAX_REASON_FILTERS,
  MAX_TOLERATIONS,
  TOP_WORKLOAD_MAX,
} from "./constants.js";
import { KNOWN_DROP_REASONS } from "./drop-reasons.js";
import { AttributionSchema, PodRefSchema, WorkloadIdentitySchema } from "./attribution.js";
import { KERNEL_COUNTER_NAMES } from "./kernel-counters.js";
import { DropClassSchema, MAX_EXPLAINED_REASONS, MAX_EXPLANATION_TEXT } from "./drop-explanations.js";
import { DURATION_MAX_LENGTH, DURATION_MIN_LENGTH, DURATION_PATTERN, formatDuration, parseDurationSeconds } from "./duration.js";
import { StacksSchema } from "./stacks.js";
import { RowFlowsShape } from "./flows.js";
import { MAX_PROBE_CPU_PERCENT_BOUNDS, MAX_PROBE_CPU_PERCENT_DEFAULT, ProbeCostStatusSchema } from "./probe-cost.js";
import {
  ConditionSchema,
  isQualifiedName,
  labelSelectorSchema,
  LabelValueSchema,
  NamespaceNameSchema,
  ObjectMetaSchema,
  TolerationSchema,
} from "./kubernetes.js";

export const DURATION_DEFAULT = "60s";
export const DURATION_BOUNDS = { min: 5, max: 24 * 3600 } as const;
export const REPORT_INTERVAL_DEFAULT_SECONDS = 10;
export const REPORT_INTERVAL_BOUNDS = { min: 5, max: 300 } as const;
export const TOP_N_DEFAULT = 20;
export const TOP_N_BOUNDS = { min: 1, max: 200 } as const;

/**
 * An interface name, or a prefix ending in `*`. Only the characters Kubernetes
 * network plugins use in names: nothing that could mean something to a shell or
 * to SystemTap, and never longer than the kernel's IFNAMSIZ allows.
 */
export const INTERFACE_PATTERN = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,${IFNAME_MAX - 1}}[*]?$`;

function durationIn(bounds: { min: number; max: number }, what: string) {
  return z
    .string()
    .min(DURATION_MIN_LENGTH)
    .max(DURATION_MAX_LENGTH)
    .regex(new RegExp(DURATION_PATTERN), {
      message: `${what} must be whole hours, minutes and seconds such as "90s", "5m" or "1h30m"`,
    })
    .refine(
      (text) => {
        const seconds = parseDurationSeconds(text);
        return seconds !== undefined && seconds >= bounds.min && seconds <= bounds.max;
      },
      { message: `${what} must be between ${formatDuration(bounds.min)} and ${formatDuration(bounds.max)}` },
    );
}

function uniqueList<T extends z.ZodType<string>>(item: T, max: number, what: string) {
  return z
    .array(item)
    .max(max)
    .refine((list) => new Set(list).size === list.length, { message: `${what} must not repeat` });
}

export const DropFilterSchema = z.strictObject({
  interfaces: uniqueList(
    z.string().regex(new RegExp(INTERFACE_PATTERN), {
      message: `an interface is a Linux interface name of at most ${IFNAME_MAX} letters, digits, '_', '.' or '-', optionally ending in '*' for a prefix`,
    }),
    MAX_INTERFACE_FILTERS,
    "interfaces",
  ).optional(),
  reasons: uniqueList(z.enum(KNOWN_DROP_REASONS), MAX_REASON_FILTERS, "reasons").optional(),
  /**
   * Only drops attributed to pods in these namespaces. Applied by each node's agent when it names
   * rows (agent/pod-filter.ts), not in the probe: drops of other pods or of no pod are counted in
   * `filteredDrops`, never silently lost.
   */
  namespaces: uniqueList(NamespaceNameSchema, MAX_NAMESPACE_FILTERS, "namespaces").optional(),
  /** Only drops attributed to pods whose labels match; as namespaces, applied by the agent. */
  podSelector: labelSelectorSchema({ labels: MAX_POD_SELECTOR_LABELS, expressions: MAX_POD_SELECTOR_EXPRESSIONS, values: MAX_POD_SELECTOR_VALUES }).optional(),
});
export type DropFilter = z.infer<typeof DropFilterSchema>;

export const DropTraceSpecSchema = z
  .strictObject({
    nodeSelector: z
      .record(z.string(), LabelValueSchema)
      .refine((labels) => Object.keys(labels).length <= MAX_NODE_SELECTOR_LABELS, {
        message: `nodeSelector holds at most ${MAX_NODE_SELECTOR_LABELS} labels`,
      })
      // The CRD checks values only: CEL over map keys of unknown length is too costly for the
      // API server's budget. The controller applies this check and marks the trace Failed.
      .refine((labels) => Object.keys(labels).every(isQualifiedName), {
        message: "nodeSelector keys must be label keys such as 'kubernetes.io/hostname'",
      })
      .optional(),
    tolerations: z
      .array(TolerationSchema)
      .max(MAX_TOLERATIONS)
      .default([{ operator: "Exists" }]),
    duration: durationIn(DURATION_BOUNDS, "duration").default(DURATION_DEFAULT),
    reportInterval: durationIn(REPORT_INTERVAL_BOUNDS, "reportInterval").optional(),
    filter: DropFilterSchema.optional(),
    topN: z.number().int().min(TOP_N_BOUNDS.min).max(TOP_N_BOUNDS.max).default(TOP_N_DEFAULT),
    /** Record the kernel call stacks behind the top rows; off by default (the probe then takes no stack). */
    stacks: z.boolean().default(false),
    /** The probe stops itself on a node (ProbeOverload) once its handler time passes this share of the node's CPU. */
    maxProbeCPUPercent: z.number().int().min(MAX_PROBE_CPU_PERCENT_BOUNDS.min).max(MAX_PROBE_CPU_PERCENT_BOUNDS.max).default(MAX_PROBE_CPU_PERCENT_DEFAULT),
    ttlSecondsAfterFinished: z.number().int().min(0).optional(),
  })
  // Mirrors the CRD rule on spec: reportInterval is never longer than duration.
  .refine((spec) => spec.reportInterval === undefined || (parseDurationSeconds(spec.reportInterval) ?? 0) <= (parseDurationSeconds(spec.duration) ?? 0), {
    message: "reportInterval must not be longer than duration",
    path: ["reportInterval"],
  });
export type DropTraceSpec = z.infer<typeof DropTraceSpecSchema>;

export const PHASES = ["Pending", "Running", "Completed", "Failed"] as const;
export const PhaseSchema = z.enum(PHASES);
export type Phase = z.infer<typeof PhaseSchema>;

const count = z.number().int().min(0);

export const DropRowSchema = z.strictObject({
  symbol: z.string().max(512),
  interface: z.string().max(IFNAME_MAX + 1),
  module: z.string().max(64),
  reason: z.string().max(64),
  /** Whether drops with this reason are usually normal (drop-explanations.ts), from the controller's own table. */
  class: DropClassSchema,
  count,
  /** Nodes this row was seen on. */
  nodes: count,
  /** The workload whose pods dropped, part of the row's identity (rows.ts statusRowKey): absent for rows no workload owns. */
  workload: WorkloadIdentitySchema.optional(),
  /** Distinct pods whose drops were summed here, where any was named. */
  pods: count.optional(),
  /** Set only when every node's row merged here says the same (merge.ts). */
  attribution: AttributionSchema.optional(),
  pod: PodRefSchema.optional(),
  /** On the top rows only (stacks.ts): the nodes' stacks of this symbol and reason, summed by identical frames. */
  stacks: StacksSchema.optional(),
  /**
   * A workload's row sums its pods' interfaces: `interface` is the one with most drops, and this
   * lists each with its count, most first, when there was more than one (at most MAX_ROW_INTERFACES;
   * the rest of the count is on interfaces not listed).
   */
  interfaces: z
    .array(z.strictObject({ name: z.string().max(IFNAME_MAX + 1), count }))
    .max(MAX_ROW_INTERFACES)
    .optional(),
  /** The row's most frequent flows summed over its nodes, addresses named where the cluster knows them (flows.ts). */
  ...RowFlowsShape,
});
export type DropRow = z.infer<typeof DropRowSchema>;

/** What one reason of the top rows means, for `kubectl describe`: a CRD has no describe of its own to look it up. */
export const ReasonExplanationSchema = z.strictObject({
  reason: z.string().max(64),
  class: DropClassSchema,
  meaning: z.string().max(MAX_EXPLANATION_TEXT),
  nextStep: z.string().max(MAX_EXPLANATION_TEXT).optional(),
});

export const NodeSummarySchema = z.strictObject({
  node: z.string().max(253),
  phase: z.enum([...PHASES, "NotReporting"]),
  reason: z.string().max(128).optional(),
  message: z.string().max(1024).optional(),
  totalDrops: count,
});
export type NodeSummary = z.infer<typeof NodeSummarySchema>;

export const KernelCountersStatusSchema = z.strictObject({
  /** Nodes whose counters were read. */
  nodes: count,
  /** Drops the kernel counted where the probe cannot see them, over all nodes. */
  unseenDrops: count,
  partlySeenDrops: count,
  /** Each counter summed over nodes (and interfaces), with the nodes it moved on. */
  counters: z.array(z.strictObject({ name: z.enum(KERNEL_COUNTER_NAMES), count, nodes: count })).max(KERNEL_COUNTER_NAMES.length),
  /** Each check's verdicts, in nodes. */
  checks: z.array(z.strictObject({ counter: z.enum(KERNEL_COUNTER_NAMES), agree: count, differ: count, notCompared: count })).max(16),
});
export type KernelCountersStatus = z.infer<typeof KernelCountersStatusSchema>;

export const DropTraceStatusSchema = z.strictObject({
  phase: PhaseSchema.optional(),
  observedGeneration: z.number().int().min(0).optional(),
  startTime: z.iso.datetime({ offset: true }).optional(),
  completionTime: z.iso.datetime({ offset: true }).optional(),
  conditions: z.array(ConditionSchema).max(16).optional(),
  nodes: z.strictObject({ desired: count, pending: count, running: count, completed: count, failed: count }).optional(),
  /** "completed+failed/desired", for the printer column. */
  nodeProgress: z.string().max(32).optional(),
  totalDrops: count.optional(),
  /** Drops the probes saw but could not attribute to a row (a full map on a node). */
  uncountedDrops: count.optional(),
  /** Drops counted but left out of the rows and totalDrops by filter.namespaces or filter.podSelector: other pods', or no pod's. */
  filteredDrops: count.optional(),
  topSymbol: z.string().max(512).optional(),
  /** The workload with the most drops over all merged rows, "Deployment shop/cart", for the printer column. */
  topWorkload: z.string().max(TOP_WORKLOAD_MAX).optional(),
  drops: z.array(DropRowSchema).max(TOP_N_BOUNDS.max).optional(),
  /** The distinct reasons of the top rows, in their order, explained; always the first row to act on. */
  explanations: z.array(ReasonExplanationSchema).max(MAX_EXPLAINED_REASONS).optional(),
  nodeSummary: z.array(NodeSummarySchema).max(MAX_NODE_SUMMARY).optional(),
  /** Nodes left out of nodeSummary to keep the object small. */
  nodeSummaryOmitted: count.optional(),
  /** The kernel's own drop counters over the trace, summed over the nodes that read them. */
  kernelCounters: KernelCountersStatusSchema.optional(),
  /** What the probes cost, over the nodes that reported it. */
  probeCost: ProbeCostStatusSchema.optional(),
});
export type DropTraceStatus = z.infer<typeof DropTraceStatusSchema>;

export const DropTraceSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(DROPTRACE.kind),
  metadata: ObjectMetaSchema,
  spec: DropTraceSpecSchema,
  status: DropTraceStatusSchema.optional(),
});
export type DropTrace = z.infer<typeof DropTraceSchema>;

/** How often the probe prints and the agent reports: the spec's value, else 10s or the duration if shorter. */
export function effectiveReportIntervalSeconds(spec: DropTraceSpec): number {
  const duration = parseDurationSeconds(spec.duration) ?? DURATION_BOUNDS.min;
  if (spec.reportInterval !== undefined) {
    return parseDurationSeconds(spec.reportInterval) ?? REPORT_INTERVAL_DEFAULT_SECONDS;
  }
  return Math.min(REPORT_INTERVAL_DEFAULT_SECONDS, duration);
}

/**
 * The CRD's transition rule `self == oldSelf` on spec, for the controller's own use: on a
 * cluster whose API server skipped the rule, a changed spec must still not be half-applied.
 */
export function specChanged(oldSpec: unknown, newSpec: unknown): boolean {
  return !isDeepStrictEqual(oldSpec, newSpec);
}
