// What a node's report says when the probe stopped for its CPU cost: its own guard (an O record:
// its handler time passed spec.maxProbeCPUPercent of the node's CPU) or SystemTap's built-in
// overload stop. Either way the node completed early, with every count so far.
import { formatPercent } from "../api/probe-cost.js";
import { systemTapOverload } from "../probe/failures.js";
import type { ProbeOverload } from "../probe/output.js";

export interface OverloadFacts {
  /** The probe's own guard's record, when it stopped the trace. */
  guard: Omit<ProbeOverload, "kind"> | undefined;
  /** staprun's stderr, for SystemTap's own stop. */
  systemTapStderr: string;
  /** From the probe being armed to the stop. */
  stoppedAfterMs: number;
  /** Whether the probe's final record came, with the last interval's counts. */
  finished: boolean;
}

/** "the probe used 7.3% of the node's CPU (limit 5%): stopped after 41 s; counts so far are kept" */
export function overloadMessage(facts: OverloadFacts): string {
  const after = `stopped after ${Math.max(0, Math.round(facts.stoppedAfterMs / 1000))} s`;
  const kept = facts.finished
    ? "counts so far are kept"
    : "counts so far are kept, but the probe stopped before printing its last interval, so its counts are missing";
  if (facts.guard !== undefined) {
    const share = formatPercent(facts.guard.sharePpm / 10_000);
    return `the probe used ${share} of the node's CPU (limit ${facts.guard.limitPercent}%, spec.maxProbeCPUPercent): ${after}; ${kept}`;
  }
  const measured = systemTapOverload(facts.systemTapStderr);
  const how =
    measured?.cycles === undefined || measured.threshold === undefined || measured.interval === undefined
      ? "SystemTap stopped the probe: its handlers passed SystemTap's own overhead threshold"
      : `SystemTap stopped the probe: its handlers took ${formatPercent((measured.cycles / measured.interval) * 100)} of one CPU ` +
        `(${measured.cycles} of the last ${measured.interval} cycles), over SystemTap's own threshold of ${formatPercent((measured.threshold / measured.interval) * 100)}`;
  return `${how}: ${after}; ${kept}`;
}
