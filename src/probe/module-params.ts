// Per-trace settings as the probe's module parameters (`staprun module.ko name=value`).
// Values are rebuilt here from validated data and checked again against the shapes the
// probe itself accepts: nothing a user typed reaches the probe any other way.
import { z } from "zod";
import { INTERFACE_PATTERN } from "../api/droptrace.js";
import { MAX_INTERFACE_FILTERS, MAX_REASON_FILTERS } from "../api/constants.js";
import { CPU_COUNT_BOUNDS, MAX_PROBE_CPU_PERCENT_BOUNDS } from "../api/probe-cost.js";

const ModuleSettingsSchema = z.strictObject({
  intervalSeconds: z.number().int().min(1).max(3600),
  interfaces: z.array(z.string().regex(new RegExp(INTERFACE_PATTERN))).max(MAX_INTERFACE_FILTERS),
  /** Reason numbers of the running kernel, resolved from names by the agent. */
  reasons: z.array(z.number().int().min(0).max(0xffff_ffff)).max(MAX_REASON_FILTERS),
  /** Take a call stack with each drop (spec.stacks); off, the probe's hot path takes none. */
  stacks: z.boolean(),
  /** The guard's limit: the probe stops itself past this share of the node's CPU. */
  maxCpuPercent: z.number().int().min(MAX_PROBE_CPU_PERCENT_BOUNDS.min).max(MAX_PROBE_CPU_PERCENT_BOUNDS.max),
  /** The node's online CPUs, which the guard's share is of. */
  cpus: z.number().int().min(CPU_COUNT_BOUNDS.min).max(CPU_COUNT_BOUNDS.max),
});
export type ModuleSettings = z.infer<typeof ModuleSettingsSchema>;

/** `name=value` arguments for staprun, in the probe's own global names. */
export function moduleParams(settings: ModuleSettings): string[] {
  const valid = ModuleSettingsSchema.parse(settings);
  const params = [`interval_s=${valid.intervalSeconds}`];
  if (valid.interfaces.length > 0) params.push(`interfaces=${valid.interfaces.join(",")}`);
  if (valid.reasons.length > 0) params.push(`reasons=${valid.reasons.join(",")}`);
  // Only when on: a module parameter left at its default costs the probe nothing to check.
  if (valid.stacks) params.push("stacks=1");
  params.push(`max_cpu_pct=${valid.maxCpuPercent}`, `cpus=${valid.cpus}`);
  return params;
}
