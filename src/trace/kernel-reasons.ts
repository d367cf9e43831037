// Drop reason names of the running kernel, read from the kfree_skb tracepoint's format file
// (events/skb/kfree_skb/format in tracefs). The numbers of `enum skb_drop_reason` change
// between kernel releases, so the table is always this kernel's own `__print_symbolic` list.
import { z } from "zod";
import { NO_REASON } from "../api/drop-reasons.js";

/** The reason number the probe prints when the kernel has no drop reasons. */
const NO_REASON_NUMBER = -1;

const ReasonEntrySchema = z.object({
  number: z.number().int().min(0).max(0xffff_ffff),
  name: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "must be an upper-case C identifier such as NO_SOCKET"),
});
const ReasonTableSchema = z.array(ReasonEntrySchema);
type DropReasonEntry = z.infer<typeof ReasonEntrySchema>;

export class DropReasonFormatError extends Error {
  override readonly name = "DropReasonFormatError";
}

/** A filter named reasons this kernel does not have; `known` lists the ones it has. */
export class UnknownDropReasonError extends Error {
  override readonly name = "UnknownDropReasonError";
  readonly unknown: readonly string[];
  readonly known: readonly string[];

  constructor(unknown: readonly string[], known: readonly string[]) {
    super(
      known.length === 0
        ? `drop reason filter ${unknown.join(", ")} cannot apply: this kernel has no drop reasons ` +
            "(its kfree_skb tracepoint has no reason field); remove the reason filter"
        : `drop reason${unknown.length === 1 ? "" : "s"} ${unknown.join(", ")} not known to this kernel; ` + `it knows: ${known.join(", ")}`,
    );
    this.unknown = unknown;
    this.known = known;
  }
}

/** One kernel's reason table, both ways. */
export class DropReasons {
  /** False on kernels whose kfree_skb has no reason field (before 5.17): every row's reason is NO_REASON. */
  readonly available: boolean;
  readonly #byNumber: ReadonlyMap<number, string>;
  readonly #byName: ReadonlyMap<string, number>;

  constructor(entries: readonly DropReasonEntry[] | null) {
    this.available = entries !== null;
    const byNumber = new Map<number, string>();
    const byName = new Map<string, number>();
    for (const { number, name } of entries ?? []) {
      if (byNumber.has(number)) throw new DropReasonFormatError(`drop reason number ${number} is listed twice`);
      if (byName.has(name)) throw new DropReasonFormatError(`drop reason ${name} is listed twice`);
      byNumber.set(number, name);
      byName.set(name, number);
    }
    this.#byNumber = byNumber;
    this.#byName = byName;
  }

  /** Names in the kernel's order. */
  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /** `NO_SOCKET` for 3 (on 7.2); NO_REASON for -1; `UNKNOWN_<n>` for numbers not in the table. */
  reasonName(reason: number): string {
    if (reason === NO_REASON_NUMBER) return NO_REASON;
    return this.#byNumber.get(reason) ?? `UNKNOWN_${reason}`;
  }

  /** Numbers for a reason filter, duplicates removed; throws UnknownDropReasonError naming what this kernel knows. */
  resolveReasonNames(names: readonly string[]): number[] {
    const numbers: number[] = [];
    const unknown: string[] = [];
    for (const name of names) {
      const number = this.#byName.get(name);
      if (number === undefined) {
        if (!unknown.includes(name)) unknown.push(name);
      } else if (!numbers.includes(number)) {
        numbers.push(number);
      }
    }
    if (unknown.length > 0) throw new UnknownDropReasonError(unknown, this.names);
    return numbers;
  }
}

/**
 * Reads the reason table from the text of events/skb/kfree_skb/format. A format without a
 * `reason` field gives a DropReasons with `available` false. Throws DropReasonFormatError when
 * the text is not a tracepoint format, or has a reason field but no readable table.
 */
export function parseKfreeSkbFormat(text: string): DropReasons {
  if (!/^format:/m.test(text) || !/^print fmt:/m.test(text)) {
    throw new DropReasonFormatError('not a tracepoint format file (no "format:" or "print fmt:" line); expected events/skb/kfree_skb/format');
  }
  if (!/^\s*field:[^;\n]*[\s*]reason;/m.test(text)) return new DropReasons(null);

  const call = /__print_symbolic\(\s*REC->reason\s*,/.exec(text);
  if (call === null) {
    throw new DropReasonFormatError("kfree_skb has a reason field but its print fmt has no __print_symbolic(REC->reason, …) table");
  }
  // Strict, sticky scan: anything but `{ <number>, "<NAME>" }` entries up to the closing
  // parenthesis is an error, so a format this code does not understand is never half-read.
  const entryPattern = /\s*\{\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*"([^"\\]*)"\s*\}\s*([,)])/y;
  entryPattern.lastIndex = call.index + call[0].length;
  const raw: { number: number; name: string }[] = [];
  for (;;) {
    const at = entryPattern.lastIndex;
    const match = entryPattern.exec(text);
    if (match === null) {
      throw new DropReasonFormatError(`reason table entry ${raw.length + 1} is not { <number>, "<NAME>" }: ` + JSON.stringify(text.slice(at, at + 60)));
    }
    raw.push({ number: Number(match[1]), name: match[2] ?? "" });
    if (match[3] === ")") break;
  }
  const parsed = ReasonTableSchema.safeParse(raw);
  if (!parsed.success) {
    throw new DropReasonFormatError(`reason table is not valid: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  return new DropReasons(parsed.data);
}
