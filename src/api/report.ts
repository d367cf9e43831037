// The DropTraceReport API: one object per trace and node, written by that node's agent alone.
// crds/droptracereports.droptrace.io.yaml must agree with these schemas (test/api proves it).
import { z } from "zod";
import { API_VERSION, DROPTRACE_REPORT, IFNAME_MAX, MAX_REPORT_ROWS } from "./constants.js";
import { ObjectMetaSchema } from "./kubernetes.js";
import { PhaseSchema } from "./droptrace.js";
import { RowAttributionShape } from "./attribution.js";
import { KERNEL_COUNTER_NAMES } from "./kernel-counters.js";
import { DropClassSchema } from "./drop-explanations.js";
import { StacksSchema } from "./stacks.js";
import { ProbeCostSchema } from "./probe-cost.js";
import { RowFlowsShape } from "./flows.js";

const count = z.number().int().min(0);
const time = z.iso.datetime({ offset: true });

/** A machine-readable cause, CamelCase like a condition reason: "HeadersMissing", "CompileFailed". */
export const REASON_PATTERN = "^[A-Z][A-Za-z0-9]{0,63}$";

export const ReportRowSchema = z.strictObject({
  symbol: z.string().max(512),
  /** "-" when the packet had no device. */
  interface: z.string().max(IFNAME_MAX + 1),
  /** Inode of the device's network namespace on that node; 0 when unknown. */
  netns: count,
  /**
   * The cgroup ID (the inode of its cgroup v2 directory) of the socket the dropped packet carried,
   * part of the row's identity on its node; absent when the packet carried no full socket.
   */
  socketCgroup: count.optional(),
  module: z.string().max(64),
  reason: z.string().max(64),
  /**
   * Whether drops with this reason are usually normal (drop-explanations.ts). "unknown" when absent:
   * a 0.1 agent's report has none, and the controller classes every row itself when it merges.
   */
  class: DropClassSchema.default("unknown"),
  count,
  /** Whose the row's network namespace is, applied when the report is written (attribution.ts). */
  ...RowAttributionShape,
  /**
   * With spec.stacks, on the top rows only (stacks.ts MAX_STACK_ROWS): the most frequent kernel call stacks of
   * the drops at this symbol with this reason, on any interface (the probe records stacks by drop site and reason).
   */
  stacks: StacksSchema.optional(),
  /** The most frequent flows behind the row (flows.ts), with the drops that had none the probe could read. */
  ...RowFlowsShape,
});
export type ReportRow = z.infer<typeof ReportRowSchema>;

export const ProbeFactsSchema = z.strictObject({
  moduleName: z.string().max(64),
  systemtapVersion: z.string().max(64).optional(),
  cacheHit: z.boolean(),
  compileSeconds: z.number().min(0),
});
export type ProbeFacts = z.infer<typeof ProbeFactsSchema>;

export const KernelCounterSchema = z.strictObject({
  name: z.enum(KERNEL_COUNTER_NAMES),
  interface: z.string().max(IFNAME_MAX).optional(),
  /** The change over the trace. */
  count,
});

export const KernelCountersSchema = z.strictObject({
  /** Inode of the network namespace the counters were read in: the node's own. */
  netns: count,
  /** Counters that changed, largest first (at most 64). */
  counters: z.array(KernelCounterSchema).max(64),
  /** Drops counted where the probe cannot see them (before the kernel made an skb). */
  unseenDrops: count,
  /** Drops counted by columns that mix such drops with traced ones. */
  partlySeenDrops: count,
  checks: z
    .array(
      z.strictObject({
        counter: z.enum(KERNEL_COUNTER_NAMES),
        kernel: count,
        traced: count,
        verdict: z.enum(["agree", "differ", "notCompared"]),
        message: z.string().max(512),
      }),
    )
    .max(16),
});
export type KernelCounters = z.infer<typeof KernelCountersSchema>;

export const DropTraceReportSpecSchema = z.strictObject({
  trace: z.string().min(1).max(253),
  node: z.string().min(1).max(253),
});

export const DropTraceReportStatusSchema = z.strictObject({
  phase: PhaseSchema,
  reason: z.string().regex(new RegExp(REASON_PATTERN)).optional(),
  message: z.string().max(4096).optional(),
  kernelRelease: z.string().max(256).optional(),
  startTime: time.optional(),
  lastUpdateTime: time.optional(),
  completionTime: time.optional(),
  intervals: count,
  probe: ProbeFactsSchema.optional(),
  totalDrops: count,
  /** Drops the probe saw but could not store (its map was full). */
  uncountedDrops: count,
  /**
   * Drops the probe counted in rows that filter.namespaces or filter.podSelector left out (rows of
   * other pods, or of no pod), not in rows nor in totalDrops; absent when the trace has no such filter.
   */
  filteredDrops: count.optional(),
  /** Rows beyond the cap, summed. */
  otherRows: count,
  otherDrops: count,
  rows: z.array(ReportRowSchema).max(MAX_REPORT_ROWS),
  /** The kernel's own drop counters over the trace, in the node's namespace; absent when they could not be read. */
  kernelCounters: KernelCountersSchema.optional(),
  /** What the probe cost on this node, once it has reported an interval (probe-cost.ts). */
  probeCost: ProbeCostSchema.optional(),
  /** Drops counted in rows whose flow the node's flow table had no room for (they are in those rows' otherFlows). */
  unstoredFlows: count.optional(),
  /**
   * The largest flow sampling period of the trace: 1, every drop's flow was read; N, while the probe's handler passed 1%
   * of the node's CPUs, one drop in N had its flow read and counted N times (flow counts are then estimates).
   */
  flowSamplingPeriod: z.number().int().min(1).max(4096).optional(),
});
export type DropTraceReportStatus = z.infer<typeof DropTraceReportStatusSchema>;

export const DropTraceReportSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(DROPTRACE_REPORT.kind),
  metadata: ObjectMetaSchema,
  spec: DropTraceReportSpecSchema,
  status: DropTraceReportStatusSchema.optional(),
});
export type DropTraceReport = z.infer<typeof DropTraceReportSchema>;
