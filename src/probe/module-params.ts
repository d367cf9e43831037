// Per-trace settings as the probe's module parameters (`staprun module.ko name=value`).
// Values are rebuilt here from validated data and checked again against the shapes the
// probe itself accepts: nothing a user typed reaches the probe any other way.
import { z } from "zod";
import { INTERFACE_PATTERN } from "../api/droptrace.js";
import { MAX_INTERFACE_FILTERS, MAX_REASON_FILTERS } from "../api/constants.js";

const ModuleSettingsSchema = z.strictObject({
  intervalSeconds: z.number().int().min(1).max(3600),
  interfaces: z.array(z.string().regex(new RegExp(INTERFACE_PATTERN))).max(MAX_INTERFACE_FILTERS),
  /** Reason numbers of the running kernel, resolved from names by the agent. */
  reasons: z.array(z.number().int().min(0).max(0xffff_ffff)).max(MAX_REASON_FILTERS),
});
export type ModuleSettings = z.infer<typeof ModuleSettingsSchema>;

/** `name=value` arguments for staprun, in the probe's own global names. */
export function moduleParams(settings: ModuleSettings): string[] {
  const valid = ModuleSettingsSchema.parse(settings);
  const params = [`interval_s=${valid.intervalSeconds}`];
  if (valid.interfaces.length > 0) params.push(`interfaces=${valid.interfaces.join(",")}`);
  if (valid.reasons.length > 0) params.push(`reasons=${valid.reasons.join(",")}`);
  return params;
}
