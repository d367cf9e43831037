// The probe's stdout protocol: what stap/droptrace.stp prints, validated line by line.
//
//   A                                 (once, first: every probe is armed, drops from now on are seen)
//   R \t <count> \t <location 0x hex> \t <ifname | -> \t <netns inode, 0 unknown> \t <reason, -1 none>
//       \t <socket cgroup id, 0 none> \t <row id>
//   F \t <count> \t <row id> \t <family 4 | 6 | 0> \t <protocol> \t <source port> \t <destination port>
//       \t <source word 0> \t <source word 1> \t <destination word 0> \t <destination word 1>
//                                     (the drops of one R row of this interval with one flow, after the
//                                     interval's R lines; family 0: no network header could be read; address
//                                     words in hex, each 8 header bytes as a little-endian read gave them: an
//                                     IPv4 address is the low 4 bytes of word 1, an IPv6 one words 0 and 1)
//   S \t <count> \t <location 0x hex> \t <reason, -1 none> \t <frames>
//                                     (only with stacks=1: one call stack seen with drops at that location and
//                                     reason this interval, after the interval's R lines; frames are 1 to 26
//                                     return addresses, comma-separated, innermost first, as callers() gave them)
//   I \t <seq from 1> \t <rows> \t <overflow> \t <stacks> \t <stack overflow> \t <hits> \t <probe ns> \t <elapsed ns>
//       \t <flow overflow> \t <flow sampling period>
//                                     (stacks: S lines this interval; stack overflow: stack samples the full
//                                     stack table did not store; hits: handler runs; probe ns: time inside the
//                                     handler bodies (cycles, converted by the module), SystemTap's own entry and exit not included;
//                                     elapsed ns: the interval's length as the module measured it; flow overflow:
//                                     drops whose flow the full flow table did not store; flow sampling period: the
//                                     largest N this interval such that one drop in N had its flow read, 1 = all)
//   O \t <share ppm> \t <limit percent>
//                                     (once: the probe's guard stopped the trace, its handler time over the last
//                                     second being share ppm of all CPUs, over the limit; the last interval's
//                                     R, S and I lines and E still follow)
//   E \t <seq of the last interval>   (after the end probe flushed; nothing follows it)
//
// The probe before stacks and cost printed `I \t <seq> \t <rows> \t <overflow>` and 6-field R lines
// (no socket cgroup, no row id, no flows); the real captures in test/fixtures and ../shared/fixtures
// were made with it. Those forms still parse, as an interval that reports no stacks, cost or flows,
// and rows without them, so those captures keep testing the parser and the pipeline. So does the
// 9-field I line of the probe before flows.
//
// Every line that is not one of these becomes a ProbeProtocolError for the caller to count
// and report: a probe that prints something else is broken, and dropping its output quietly
// would turn a broken probe into "no drops".
import { StringDecoder } from "node:string_decoder";
import { z } from "zod";
import ipaddr from "ipaddr.js";
import { IFNAME_MAX } from "../api/constants.js";
import { PORT_PROTOCOLS } from "../api/flows.js";

/** Interface field value when the sk_buff had no device. */
export const NO_INTERFACE = "-";

/**
 * Longest line the reader holds before cutting it. A real record is under 100 characters;
 * the cap keeps a probe that prints without newlines from growing the agent's memory.
 */
export const MAX_PROBE_LINE_LENGTH = 1024;

// At most 15 digits: every such value is a safe integer, so Number() below is exact.
const CountSchema = z
  .string()
  .regex(/^\d{1,15}$/, "must be a decimal integer of at most 15 digits")
  .transform(Number);

// Kernel addresses exceed 2^53, so they stay strings, normalized so that one address has
// one spelling (it is the memoization key downstream): lower case, no leading zeros.
const LocationSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{1,16}$/, "must be 0x followed by 1 to 16 hex digits")
  .transform(normalizeHexAddress);

// Linux refuses names of 16 bytes or more and names with '/', ':' or whitespace
// (dev_valid_name), so anything else here means the probe read garbage.
const InterfaceSchema = z
  .string()
  .regex(new RegExp(`^[^\\s/:]{1,${IFNAME_MAX}}$`), `must be a Linux interface name (1 to ${IFNAME_MAX} characters, no whitespace, '/' or ':') or '-'`);

// Namespace inodes and drop reason values are 32-bit unsigned in the kernel.
const U32Schema = z
  .string()
  .regex(/^\d{1,10}$/, "must be a decimal integer")
  .transform(Number)
  .pipe(z.number().max(0xffff_ffff, "must fit in 32 bits"));

const ReasonSchema = z.union([z.literal("-1").transform(() => -1), U32Schema], {
  error: "must be -1 (kernel without drop reasons) or a decimal reason number",
});

const SeqSchema = z
  .string()
  .regex(/^[1-9]\d{0,14}$/, "must be a positive decimal integer")
  .transform(Number);

const PercentSchema = z
  .string()
  .regex(/^\d{1,2}$/, "must be a decimal integer")
  .transform(Number)
  .pipe(z.number().min(1, "must be at least 1").max(50, "must be at most 50"));

/**
 * Return addresses of one stack, innermost first, as SystemTap's backtrace() prints them: the first
 * frame and MAXBACKTRACE (24) more, 25 on real kernels; 26 is the most its 512-byte string holds.
 */
export const MAX_PROBE_STACK_FRAMES = 26;

const FramesSchema = z
  .string()
  .regex(
    new RegExp(`^0x[0-9a-fA-F]{1,16}(?:,0x[0-9a-fA-F]{1,16}){0,${MAX_PROBE_STACK_FRAMES - 1}}$`),
    `must be 1 to ${MAX_PROBE_STACK_FRAMES} comma-separated addresses, each 0x followed by 1 to 16 hex digits`,
  )
  .transform((text) => text.split(",").map(normalizeHexAddress));

// A cgroup ID is a kernfs node ID (64-bit); real ones are far below 2^53.
const CgroupIdSchema = CountSchema;
// Row IDs are 23-bit (ROW_ID_MASK in the probe).
const RowIdSchema = z
  .string()
  .regex(/^\d{1,7}$/, "must be a decimal integer")
  .transform(Number)
  .pipe(z.number().max(0x7f_ffff, "must fit in 23 bits"));

const ProbeRowSchema = z.object({
  kind: z.literal("row"),
  count: CountSchema,
  location: LocationSchema,
  interface: InterfaceSchema,
  netns: U32Schema,
  reason: ReasonSchema,
  /** The socket's cgroup ID; 0 when the packet carried no full socket; absent from the probe before flows. */
  socketCgroup: CgroupIdSchema.optional(),
  /** How this interval's F lines name the row; absent from the probe before flows. */
  rowId: RowIdSchema.optional(),
});

const HexWordSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{1,16}$/, "must be 1 to 16 hex digits")
  .transform((text) => BigInt(`0x${text}`));

const PortSchema = z
  .string()
  .regex(/^\d{1,5}$/, "must be a decimal integer")
  .transform(Number)
  .pipe(z.number().max(65535, "must fit in 16 bits"));

const ProbeFlowLineSchema = z
  .object({
    count: CountSchema,
    rowId: RowIdSchema,
    family: z.enum(["0", "4", "6"], { error: "must be 4, 6 or 0 (unparsed)" }).transform(Number),
    protocol: z
      .string()
      .regex(/^\d{1,3}$/, "must be a decimal integer")
      .transform(Number)
      .pipe(z.number().max(255, "must fit in 8 bits")),
    sourcePort: PortSchema,
    destinationPort: PortSchema,
    source0: HexWordSchema,
    source1: HexWordSchema,
    destination0: HexWordSchema,
    destination1: HexWordSchema,
  })
  .transform((raw): ProbeFlow => {
    if (raw.family === 0) return { kind: "flow", count: raw.count, rowId: raw.rowId };
    const ports = PORT_PROTOCOLS.has(raw.protocol);
    return {
      kind: "flow",
      count: raw.count,
      rowId: raw.rowId,
      parsed: {
        protocol: raw.protocol,
        source: addressText(raw.family, raw.source0, raw.source1),
        destination: addressText(raw.family, raw.destination0, raw.destination1),
        ...(ports ? { sourcePort: raw.sourcePort, destinationPort: raw.destinationPort } : {}),
      },
    };
  });

/** The header bytes behind the probe's address words (little-endian reads): an address's text. */
export function addressText(family: number, word0: bigint, word1: bigint): string {
  const bytes: number[] = [];
  const words = family === 4 ? [word1] : [word0, word1];
  for (const word of words) for (let i = 0n; i < (family === 4 ? 4n : 8n); i += 1n) bytes.push(Number((word >> (8n * i)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

const ProbeStackSchema = z.object({
  kind: z.literal("stack"),
  count: CountSchema,
  location: LocationSchema,
  reason: ReasonSchema,
  frames: FramesSchema,
});

const IntervalCostSchema = z.object({
  /** Times the kfree_skb handler ran: counted, filtered out, or past the map. */
  hits: CountSchema,
  /** Nanoseconds inside the handler bodies (the module counts cycles and converts them); SystemTap's own entry and exit are not in it. */
  probeNs: CountSchema,
  /** The interval's wall-clock length as the module measured it. */
  elapsedNs: CountSchema,
});

/** One flow of an R row of this interval: `parsed` absent when the packet had no readable network header. */
export interface ProbeFlow {
  kind: "flow";
  count: number;
  rowId: number;
  parsed?: { protocol: number; source: string; destination: string; sourcePort?: number; destinationPort?: number };
}

const ProbeIntervalSchema = z.object({
  kind: z.literal("interval"),
  seq: SeqSchema,
  rows: CountSchema,
  overflow: CountSchema,
  /** S lines printed for this interval (0 from a probe without stacks). */
  stacks: CountSchema,
  /** Stack samples the probe's full stack table did not store; their drops are still in the rows. */
  stackOverflow: CountSchema,
  /** Absent from the probe before cost accounting (the 4-field interval record). */
  cost: IntervalCostSchema.optional(),
  /** Drops whose flow the probe's full flow table did not store (their drops are in the rows); absent before flows. */
  flowOverflow: CountSchema.optional(),
  /** The largest flow sampling period this interval: 1, every drop's flow was read; N, one drop in N, counted N times. */
  flowSamplingPeriod: z
    .string()
    .regex(/^[1-9]\d{0,4}$/, "must be a positive decimal integer")
    .transform(Number)
    .optional(),
});

const ProbeOverloadSchema = z.object({
  kind: z.literal("overload"),
  /** The probe's handler time over the last second, in parts per million of all the node's CPUs. */
  sharePpm: CountSchema,
  /** The limit it passed, in percent (the max_cpu_pct module parameter). */
  limitPercent: PercentSchema,
});

const ProbeEndSchema = z.object({
  kind: z.literal("end"),
  // 0 is allowed: a probe stopped before its first interval still ends cleanly.
  seq: CountSchema,
});

/** One aggregated row of one interval; `interface` is NO_INTERFACE when the skb had no device. */
export type ProbeRow = z.infer<typeof ProbeRowSchema>;
/** One kernel call stack behind some of an interval's drops at `location` with `reason`; frames normalized like locations. */
export type ProbeStack = z.infer<typeof ProbeStackSchema>;
export type ProbeInterval = z.infer<typeof ProbeIntervalSchema>;
export type IntervalCost = z.infer<typeof IntervalCostSchema>;
/** The probe's own guard stopped the trace: its CPU share passed the limit. */
export type ProbeOverload = z.infer<typeof ProbeOverloadSchema>;
/** Every probe is armed: the first record, and the trace's start. */
interface ProbeArmed {
  kind: "armed";
}
export type ProbeRecord = ProbeRow | ProbeFlow | ProbeStack | ProbeArmed | ProbeInterval | ProbeOverload | z.infer<typeof ProbeEndSchema>;

/** A line on the probe's stdout that is not a record: the error quotes it. */
export class ProbeProtocolError extends Error {
  override readonly name = "ProbeProtocolError";
  readonly line: string;

  constructor(line: string, problem: string) {
    super(`probe printed a malformed line ${quoteLine(line)}: ${problem}`);
    this.line = line;
  }
}

/** Lower case, without leading zeros: "0x00FF" and "0xff" are one address. */
export function normalizeHexAddress(hex: string): string {
  let digits = hex.slice(2).toLowerCase();
  let firstSignificant = 0;
  while (firstSignificant < digits.length - 1 && digits.charCodeAt(firstSignificant) === 0x30) {
    firstSignificant += 1;
  }
  if (firstSignificant > 0) digits = digits.slice(firstSignificant);
  return `0x${digits}`;
}

/** Parses one line (without its newline); throws ProbeProtocolError quoting the line. */
export function parseProbeLine(line: string): ProbeRecord {
  if (line.length > MAX_PROBE_LINE_LENGTH) {
    throw new ProbeProtocolError(line, `longer than ${MAX_PROBE_LINE_LENGTH} characters`);
  }
  const fields = line.split("\t");
  const tag = fields[0];
  switch (tag) {
    case "R":
      if (fields.length !== LEGACY_ROW_FIELDS) {
        expectFieldCount(line, fields, 8, "R\\t<count>\\t<location>\\t<interface>\\t<netns>\\t<reason>\\t<socket cgroup>\\t<row id>");
      }
      return validate(line, ProbeRowSchema, {
        kind: "row",
        count: fields[1],
        location: fields[2],
        interface: fields[3],
        netns: fields[4],
        reason: fields[5],
        ...(fields.length === LEGACY_ROW_FIELDS ? {} : { socketCgroup: fields[6], rowId: fields[7] }),
      });
    case "F":
      expectFieldCount(
        line,
        fields,
        11,
        "F\\t<count>\\t<row id>\\t<family>\\t<protocol>\\t<source port>\\t<destination port>\\t<source words 0, 1>\\t<destination words 0, 1>",
      );
      return validate(line, ProbeFlowLineSchema, {
        count: fields[1],
        rowId: fields[2],
        family: fields[3],
        protocol: fields[4],
        sourcePort: fields[5],
        destinationPort: fields[6],
        source0: fields[7],
        source1: fields[8],
        destination0: fields[9],
        destination1: fields[10],
      });
    case "S":
      expectFieldCount(line, fields, 5, "S\\t<count>\\t<location>\\t<reason>\\t<frames>");
      return validate(line, ProbeStackSchema, {
        kind: "stack",
        count: fields[1],
        location: fields[2],
        reason: fields[3],
        frames: fields[4],
      });
    case "I":
      if (fields.length === LEGACY_INTERVAL_FIELDS) {
        return validate(line, ProbeIntervalSchema, { kind: "interval", seq: fields[1], rows: fields[2], overflow: fields[3], stacks: "0", stackOverflow: "0" });
      }
      if (fields.length !== PRE_FLOWS_INTERVAL_FIELDS) {
        expectFieldCount(
          line,
          fields,
          11,
          "I\\t<seq>\\t<rows>\\t<overflow>\\t<stacks>\\t<stack overflow>\\t<hits>\\t<probe ns>\\t<elapsed ns>\\t<flow overflow>\\t<flow sampling period>",
        );
      }
      return validate(line, ProbeIntervalSchema, {
        kind: "interval",
        seq: fields[1],
        rows: fields[2],
        overflow: fields[3],
        stacks: fields[4],
        stackOverflow: fields[5],
        cost: { hits: fields[6], probeNs: fields[7], elapsedNs: fields[8] },
        ...(fields.length === PRE_FLOWS_INTERVAL_FIELDS ? {} : { flowOverflow: fields[9], flowSamplingPeriod: fields[10] }),
      });
    case "O":
      expectFieldCount(line, fields, 3, "O\\t<share ppm>\\t<limit percent>");
      return validate(line, ProbeOverloadSchema, { kind: "overload", sharePpm: fields[1], limitPercent: fields[2] });
    case "A":
      expectFieldCount(line, fields, 1, "A");
      return { kind: "armed" };
    case "E":
      expectFieldCount(line, fields, 2, "E\\t<seq>");
      return validate(line, ProbeEndSchema, { kind: "end", seq: fields[1] });
    default:
      throw new ProbeProtocolError(line, "it does not start with a record tag (A, R, F, S, I, O or E)");
  }
}

/** `I\t<seq>\t<rows>\t<overflow>`: the interval record of the probe before stacks and cost. */
const LEGACY_INTERVAL_FIELDS = 4;
/** The interval record of the probe with stacks and cost, before flows. */
const PRE_FLOWS_INTERVAL_FIELDS = 9;
/** `R\t<count>\t<location>\t<interface>\t<netns>\t<reason>`: the row record of the probe before flows. */
const LEGACY_ROW_FIELDS = 6;

function expectFieldCount(line: string, fields: readonly string[], expected: number, shape: string): void {
  if (fields.length !== expected) {
    throw new ProbeProtocolError(line, `expected ${expected} tab-separated fields (${shape}), got ${fields.length}`);
  }
}

function validate<S extends z.ZodType>(line: string, schema: S, raw: Record<string, unknown>): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.map(String).join(".")} ${issue.message}`);
  throw new ProbeProtocolError(line, problems.join("; "));
}

function quoteLine(line: string): string {
  // JSON quoting shows tabs and control characters; long lines are cut so a log stays readable.
  const limit = 200;
  return line.length > limit ? `${JSON.stringify(line.slice(0, limit))}…(${line.length} characters)` : JSON.stringify(line);
}

/**
 * Turns stdout chunks, split anywhere (even inside a UTF-8 character), into complete lines.
 * A partial line waits for the next chunk; one that outgrows maxLineLength is handed out cut,
 * so it reaches the parser (and fails there, visibly) instead of piling up.
 */
export class ProbeLineSplitter {
  readonly #decoder = new StringDecoder("utf8");
  readonly #maxLineLength: number;
  #pending = "";

  constructor(maxLineLength: number = MAX_PROBE_LINE_LENGTH) {
    this.#maxLineLength = maxLineLength;
  }

  /** Complete lines in this chunk (plus what was pending), without their newlines. */
  push(chunk: string | Uint8Array): string[] {
    const decoded = typeof chunk === "string" ? chunk : this.#decoder.write(chunk);
    const text = this.#pending.length === 0 ? decoded : this.#pending + decoded;
    const lines: string[] = [];
    let start = 0;
    let newline = text.indexOf("\n");
    while (newline !== -1) {
      lines.push(text.slice(start, newline));
      start = newline + 1;
      newline = text.indexOf("\n", start);
    }
    let rest = text.slice(start);
    while (rest.length > this.#maxLineLength) {
      lines.push(rest.slice(0, this.#maxLineLength));
      rest = rest.slice(this.#maxLineLength);
    }
    this.#pending = rest;
    return lines;
  }

  /** Call once stdout closed: the last line, if the stream did not end with a newline. */
  end(): string[] {
    const rest = this.#pending + this.#decoder.end();
    this.#pending = "";
    return rest.length === 0 ? [] : [rest];
  }
}

export type ProbeReadResult = { ok: true; record: ProbeRecord } | { ok: false; error: ProbeProtocolError };

/** ProbeLineSplitter and parseProbeLine together: chunks in, records or protocol errors out. */
export class ProbeOutputReader {
  readonly #splitter: ProbeLineSplitter;

  constructor(maxLineLength: number = MAX_PROBE_LINE_LENGTH) {
    this.#splitter = new ProbeLineSplitter(maxLineLength);
  }

  push(chunk: string | Uint8Array): ProbeReadResult[] {
    return this.#splitter.push(chunk).map(readLine);
  }

  end(): ProbeReadResult[] {
    return this.#splitter.end().map(readLine);
  }
}

function readLine(line: string): ProbeReadResult {
  try {
    return { ok: true, record: parseProbeLine(line) };
  } catch (error) {
    if (error instanceof ProbeProtocolError) return { ok: false, error };
    throw error;
  }
}
