// The probe's stdout protocol: what stap/droptrace.stp prints, validated line by line.
//
//   A                                 (once, first: every probe is armed, drops from now on are seen)
//   R \t <count> \t <location 0x hex> \t <ifname | -> \t <netns inode, 0 unknown> \t <reason, -1 none>
//   I \t <interval seq from 1> \t <rows printed> \t <overflow events>
//   E \t <seq of the last interval>   (after the end probe flushed; nothing follows it)
//
// Every line that is not one of these becomes a ProbeProtocolError for the caller to count
// and report: a probe that prints something else is broken, and dropping its output quietly
// would turn a broken probe into "no drops".
import { StringDecoder } from "node:string_decoder";
import { z } from "zod";
import { IFNAME_MAX } from "../api/constants.js";

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

const ProbeRowSchema = z.object({
  kind: z.literal("row"),
  count: CountSchema,
  location: LocationSchema,
  interface: InterfaceSchema,
  netns: U32Schema,
  reason: ReasonSchema,
});

const ProbeIntervalSchema = z.object({
  kind: z.literal("interval"),
  seq: SeqSchema,
  rows: CountSchema,
  overflow: CountSchema,
});

const ProbeEndSchema = z.object({
  kind: z.literal("end"),
  // 0 is allowed: a probe stopped before its first interval still ends cleanly.
  seq: CountSchema,
});

/** One aggregated row of one interval; `interface` is NO_INTERFACE when the skb had no device. */
export type ProbeRow = z.infer<typeof ProbeRowSchema>;
/** Every probe is armed: the first record, and the trace's start. */
interface ProbeArmed {
  kind: "armed";
}
export type ProbeRecord = ProbeRow | ProbeArmed | z.infer<typeof ProbeIntervalSchema> | z.infer<typeof ProbeEndSchema>;

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
      expectFieldCount(line, fields, 6, "R\\t<count>\\t<location>\\t<interface>\\t<netns>\\t<reason>");
      return validate(line, ProbeRowSchema, {
        kind: "row",
        count: fields[1],
        location: fields[2],
        interface: fields[3],
        netns: fields[4],
        reason: fields[5],
      });
    case "I":
      expectFieldCount(line, fields, 4, "I\\t<seq>\\t<rows>\\t<overflow>");
      return validate(line, ProbeIntervalSchema, {
        kind: "interval",
        seq: fields[1],
        rows: fields[2],
        overflow: fields[3],
      });
    case "A":
      expectFieldCount(line, fields, 1, "A");
      return { kind: "armed" };
    case "E":
      expectFieldCount(line, fields, 2, "E\\t<seq>");
      return validate(line, ProbeEndSchema, { kind: "end", seq: fields[1] });
    default:
      throw new ProbeProtocolError(line, "it does not start with a record tag (A, R, I or E)");
  }
}

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
