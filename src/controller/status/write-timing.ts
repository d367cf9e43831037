// When a trace's status may be written. Every node's agent writes its report once per report
// interval, so a trace on 5,000 nodes changes 5,000 times per interval; its status is written
// at most once per interval, except for news a person is waiting for (a new phase, a new
// generation), which goes out at once.

export interface WriteTimingInput {
  /** A phase change or a new generation: written at once. */
  urgent: boolean;
  /** When this controller last wrote this trace's status; undefined when it has not (yet, or since it started). */
  lastWriteAtMs: number | undefined;
  intervalMs: number;
  nowMs: number;
}

export type WriteTiming = { writeNow: true } | { writeNow: false; waitMs: number };

export function statusWriteTiming(input: WriteTimingInput): WriteTiming {
  if (input.urgent || input.lastWriteAtMs === undefined) return { writeNow: true };
  const nextAt = input.lastWriteAtMs + input.intervalMs;
  if (input.nowMs >= nextAt) return { writeNow: true };
  return { writeNow: false, waitMs: nextAt - input.nowMs };
}
