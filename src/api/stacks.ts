// The kernel call stacks behind a row's drops (spec.stacks): their shape, bounds and order, shared
// by the agent, which keeps the most frequent ones per drop site and reason, the controller, which
// sums them across nodes, and whatever prints them.
//
// The probe records a stack by drop site (the row's symbol) and reason, not by interface or
// namespace: a row's stacks are those of every drop at its symbol with its reason, so two rows that
// differ only in their interface carry the same stacks, and a stack's count may exceed its row's.
import { z } from "zod";
import { compareText } from "./rows.js";

/** Stacks a row keeps: the most frequent. */
export const MAX_STACKS_PER_ROW = 3;
/** Frames a stack keeps, from the dropping function outwards. */
export const MAX_STACK_FRAMES = 16;
/**
 * Rows that carry stacks, in a node's report and in a DropTrace's status: the top ones. This bounds
 * both objects (3 stacks of 16 frames on 200 status rows would be over half a MiB).
 */
export const MAX_STACK_ROWS = 10;
/** A frame is a symbol (at most 512 characters, as a row's) and its module in brackets. */
export const MAX_FRAME_LENGTH = 600;

export const StackSchema = z.strictObject({
  /** Drops at the row's symbol with its reason that came through this stack. */
  count: z.number().int().min(0),
  /** `symbol+0xoff`, with ` [module]` outside the core kernel, innermost first: the dropping function, then its callers. */
  frames: z.array(z.string().min(1).max(MAX_FRAME_LENGTH)).min(1).max(MAX_STACK_FRAMES),
});
export type Stack = z.infer<typeof StackSchema>;

export const StacksSchema = z.array(StackSchema).max(MAX_STACKS_PER_ROW);

/** A frame as the kernel's %pS prints it: `udp_rcv+0x452`, `veth_xmit+0x1c3 [veth]`, or a bare address nothing names. */
export function frameText(location: { symbol: string; module: string }): string {
  return location.module === "kernel" || location.module === "unknown" ? location.symbol : `${location.symbol} [${location.module}]`;
}

/** One key per distinct stack. */
export const stackKey = (frames: readonly string[]): string => frames.join("\n");

/** Most frequent first; equal counts by their frames, so the same stacks always list the same way. */
export function compareStacks(a: Stack, b: Stack): number {
  return b.count - a.count || compareText(stackKey(a.frames), stackKey(b.frames));
}

/** Stacks with identical frames summed, the `max` most frequent kept (the rest are dropped, not summed: a row's count already holds them). */
export function mergeStacks(lists: Iterable<readonly Stack[]>, max: number = MAX_STACKS_PER_ROW): Stack[] {
  const byKey = new Map<string, Stack>();
  for (const list of lists) {
    for (const stack of list) {
      const key = stackKey(stack.frames);
      const known = byKey.get(key);
      if (known === undefined) byKey.set(key, { count: stack.count, frames: [...stack.frames] });
      else known.count += stack.count;
    }
  }
  return [...byKey.values()].sort(compareStacks).slice(0, max);
}

/**
 * Bytes of frames a DropTrace's status may hold (goal: the whole status under 256 KiB at 5,000 nodes;
 * 10 rows of 3 stacks of 16 frames at their longest would be 288 KiB alone) and a report (etcd
 * refuses objects over about 1.5 MiB). Real frames are about 40 bytes, so real stacks never reach
 * either: the budget only bounds the worst case, by leaving the later rows' stacks out.
 */
export const MAX_STATUS_STACK_BYTES = 64 * 1024;
export const MAX_REPORT_STACK_BYTES = 256 * 1024;

const stackBytes = (stack: Stack): number => stack.frames.reduce((sum, frame) => sum + Buffer.byteLength(frame) + 3, 16);

/**
 * `rows` (in their order already) with stacks on the first MAX_STACK_ROWS only, and only as many
 * as fit in `maxBytes`, the top rows' first: what keeps a report or a status small however many
 * rows carried stacks before the cut, and however long their frames.
 */
export function stacksOnTopRows<R extends { stacks?: Stack[] | undefined }>(rows: readonly R[], maxBytes: number): R[] {
  let left = maxBytes;
  return rows.map((row, index) => {
    if (row.stacks === undefined) return row;
    const { stacks, ...rest } = row;
    const kept: Stack[] = [];
    for (const stack of index < MAX_STACK_ROWS ? stacks : []) {
      const size = stackBytes(stack);
      if (size > left) continue;
      kept.push(stack);
      left -= size;
    }
    return (kept.length === 0 ? rest : { ...rest, stacks: kept }) as R;
  });
}
