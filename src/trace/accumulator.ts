// Cumulative drop counts of one trace on one node, from the probe's records.
//
// The probe prints and resets its map every interval, so the same key comes back interval
// after interval and counts are summed here. Every drop ends up in `total` (a row) or in
// `uncounted` (the probe's map was full); every inconsistency in the record stream is counted
// in `protocolErrors`, so a report can say how far it is to be trusted.
//
// With stacks on, the call stacks behind the drops are summed the same way, by drop site (the
// row's symbol) and reason, symbolized and trimmed to start at the dropping function (stack-frames.ts);
// the handler's cost is summed from the interval records. The flows behind each row (F records,
// which name their row by the row ID its R record gave this interval) are summed per row, and the
// most frequent go into the row's snapshot.
import type { IntervalCost, ProbeFlow, ProbeInterval, ProbeOverload, ProbeRecord, ProbeRow, ProbeStack } from "../probe/output.js";
import { compareFlows, MAX_FLOWS_PER_ROW, protocolName, type Flow } from "../api/flows.js";
import type { SymbolizedLocation } from "./kallsyms.js";
import type { ReportRow } from "../api/report.js";
import { compareRows } from "../api/rows.js";
import { dropClass } from "../api/drop-explanations.js";
import { compareStacks, MAX_REPORT_STACK_BYTES, MAX_STACK_ROWS, MAX_STACKS_PER_ROW, stackKey, stacksOnTopRows, type Stack } from "../api/stacks.js";
import { StackFrames } from "./stack-frames.js";
import { detached } from "./detached.js";

export interface Symbolizer {
  symbolize(address: string): SymbolizedLocation;
}

export interface ReasonNamer {
  reasonName(reason: number): string;
}

export interface DropSnapshot {
  /** Largest counts first, at most `cap` of them. */
  readonly rows: readonly ReportRow[];
  /** Drops in the rows beyond the cap. */
  readonly otherCount: number;
  /** How many rows the cap left out. */
  readonly otherRows: number;
  /** Drops counted in rows: the sum of `rows` plus `otherCount`. */
  readonly total: number;
  /** Drops the probe saw but could not store (its map was full), so they are in no row. */
  readonly uncounted: number;
  /** Intervals the probe completed. */
  readonly intervals: number;
  /** True once the probe's final `E` record arrived. */
  readonly finished: boolean;
  readonly protocolErrors: number;
  /** The first few protocol error messages, for a report or a log. */
  readonly protocolErrorSamples: readonly string[];
  /** Stack samples the probe's full stack table did not store (their drops are in the rows). */
  readonly stackOverflow: number;
  /** Stack samples the probe printed that this accumulator did not keep (more distinct stacks than it holds). */
  readonly stackSamplesNotKept: number;
  /** The handler's cost summed over the intervals that reported one; absent until one did. */
  readonly cost?: CostTotals;
  /** Set once the probe's guard said it stopped the trace for its CPU share. */
  readonly overload?: Omit<ProbeOverload, "kind">;
  /** Drops whose flow the probe's full flow table did not store; absent from a probe without flows. */
  readonly unstoredFlows?: number;
  /** The largest flow sampling period of any interval (1: every drop's flow was read); absent without flows. */
  readonly flowSamplingPeriod?: number;
}

export interface CostTotals extends IntervalCost {
  /** Handler nanoseconds per elapsed nanosecond in the busiest interval: its share of one CPU. */
  readonly peakShareOfOneCpu: number;
}

/** The snapshot of a trace that has counted nothing yet. */
export const EMPTY_SNAPSHOT: DropSnapshot = {
  rows: [],
  otherCount: 0,
  otherRows: 0,
  total: 0,
  uncounted: 0,
  intervals: 0,
  finished: false,
  protocolErrors: 0,
  protocolErrorSamples: [],
  stackOverflow: 0,
  stackSamplesNotKept: 0,
};

/** Distinct stacks kept per drop site and reason, and over all: beyond them a stack's samples are only counted. */
export const MAX_STACKS_PER_SITE = 32;
export const MAX_DISTINCT_STACKS = 2048;

/**
 * Distinct flows kept per row, and over all rows: beyond them a flow's drops are only in its row's
 * count (and so in otherFlows). A row lists its top MAX_FLOWS_PER_ROW; keeping more lets a flow
 * that starts late still reach the top.
 */
export const MAX_FLOWS_PER_ENTRY = 64;
export const MAX_DISTINCT_FLOWS = 20_000;

/** How many protocol error messages are kept verbatim; the rest are only counted. */
export const PROTOCOL_ERROR_SAMPLES = 5;

interface Location {
  readonly symbolId: number;
  readonly symbol: string;
  readonly module: string;
}

interface Entry {
  readonly location: Location;
  readonly interface: string;
  readonly netns: number;
  readonly reason: number;
  readonly socketCgroup: number;
  count: number;
  /** By flow key: the drops of this row with that flow. */
  readonly flows: Map<string, Flow>;
  /** Drops of this row whose packet had no readable network header. */
  unparsed: number;
  /** Every F count of this row, kept or not: what the flows stand for, for scaling sampled ones. */
  flowWeight: number;
}

export class DropAccumulator {
  readonly #symbols: Symbolizer;
  readonly #reasons: ReasonNamer;
  // Memo per distinct address: the hot path sees the same few drop sites again and again.
  readonly #locations = new Map<string, Location>();
  // Distinct (symbol, module) pairs, so that two addresses symbolized alike share one key.
  readonly #symbolIds = new Map<string, number>();
  readonly #entries = new Map<string, Entry>();
  /** The current interval's rows by the row ID their R record gave (F records name rows by it). */
  readonly #rowIds = new Map<number, Entry>();
  #distinctFlows = 0;
  /** Set once a row came from a probe that reports flows (its R record has a row ID). */
  #flowsReported = false;
  #unstoredFlows = 0;
  #flowSamplingPeriod = 1;
  readonly #frames: StackFrames;
  /** By `${symbolId}\t${reason}`: the stacks of that drop site and reason, by stackKey. */
  readonly #stacks = new Map<string, Map<string, Stack>>();
  #distinctStacks = 0;
  #stacksSinceInterval = 0;
  #stackOverflow = 0;
  #stackSamplesNotKept = 0;
  #cost: { hits: number; probeNs: number; elapsedNs: number; peakShareOfOneCpu: number } | undefined;
  #overload: Omit<ProbeOverload, "kind"> | undefined;
  #total = 0;
  #uncounted = 0;
  #intervals = 0;
  #rowsSinceInterval = 0;
  #finished = false;
  #armed = false;
  #protocolErrors = 0;
  readonly #protocolErrorSamples: string[] = [];

  constructor(symbols: Symbolizer, reasons: ReasonNamer) {
    this.#symbols = symbols;
    this.#reasons = reasons;
    this.#frames = new StackFrames(symbols);
  }

  get total(): number {
    return this.#total;
  }

  get uncounted(): number {
    return this.#uncounted;
  }

  get intervals(): number {
    return this.#intervals;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get protocolErrors(): number {
    return this.#protocolErrors;
  }

  /** Distinct (symbol, interface, netns, module, reason) keys so far. */
  get keyCount(): number {
    return this.#entries.size;
  }

  add(record: ProbeRecord): void {
    switch (record.kind) {
      case "row":
        this.addRow(record);
        return;
      case "stack":
        this.addStack(record);
        return;
      case "flow":
        this.addFlow(record);
        return;
      case "interval":
        this.#endInterval(record);
        return;
      case "overload":
        if (this.#overload !== undefined) this.noteProtocolError("second overload record");
        this.#overload = { sharePpm: record.sharePpm, limitPercent: record.limitPercent };
        return;
      case "end":
        this.#end(record.seq);
        return;
      case "armed":
        // The session starts the trace's clock on it; here it only has to come once.
        if (this.#armed) this.noteProtocolError("second armed record");
        this.#armed = true;
        return;
    }
  }

  addRow(row: ProbeRow): void {
    if (this.#finished) this.noteProtocolError(`row after the probe's end record: ${row.location} ${row.interface}`);
    const location = this.#locate(row.location);
    // Reasons are keyed by number: names are one-to-one with numbers (UNKNOWN_<n> included).
    const socketCgroup = row.socketCgroup ?? 0;
    const key = `${location.symbolId}\t${row.interface}\t${row.netns}\t${row.reason}\t${socketCgroup}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = {
        location,
        interface: detached(row.interface),
        netns: row.netns,
        reason: row.reason,
        socketCgroup,
        count: row.count,
        flows: new Map(),
        unparsed: 0,
        flowWeight: 0,
      };
      this.#entries.set(key, entry);
    } else {
      entry.count += row.count;
    }
    if (row.rowId !== undefined) {
      this.#flowsReported = true;
      if (this.#rowIds.has(row.rowId)) this.noteProtocolError(`row ID ${row.rowId} given to two rows in one interval`);
      this.#rowIds.set(row.rowId, entry);
    }
    this.#total += row.count;
    this.#rowsSinceInterval += 1;
  }

  /** The drops of one row of this interval with one flow, summed into that row's flows. */
  addFlow(flow: ProbeFlow): void {
    const entry = this.#rowIds.get(flow.rowId);
    if (entry === undefined) {
      this.noteProtocolError(`flow of row ID ${flow.rowId}, which no row of this interval has`);
      return;
    }
    entry.flowWeight += flow.count;
    const parsed = flow.parsed;
    if (parsed === undefined) {
      entry.unparsed += flow.count;
      return;
    }
    const key = `${parsed.protocol} ${parsed.source} ${parsed.sourcePort ?? ""} ${parsed.destination} ${parsed.destinationPort ?? ""}`;
    const known = entry.flows.get(key);
    if (known !== undefined) {
      known.count += flow.count;
      return;
    }
    // Past the bounds the drops stay in the row's count only: they show as otherFlows.
    if (entry.flows.size >= MAX_FLOWS_PER_ENTRY || this.#distinctFlows >= MAX_DISTINCT_FLOWS) return;
    entry.flows.set(detached(key), {
      protocol: protocolName(parsed.protocol),
      source: { address: detached(parsed.source), ...(parsed.sourcePort === undefined ? {} : { port: parsed.sourcePort }) },
      destination: { address: detached(parsed.destination), ...(parsed.destinationPort === undefined ? {} : { port: parsed.destinationPort }) },
      count: flow.count,
    });
    this.#distinctFlows += 1;
  }

  /** One stack seen this interval with `count` drops at its location and reason, kept by drop site and reason. */
  addStack(stack: ProbeStack): void {
    if (this.#finished) this.noteProtocolError(`stack after the probe's end record: ${stack.location}`);
    this.#stacksSinceInterval += 1;
    const site = `${this.#locate(stack.location).symbolId}\t${stack.reason}`;
    const frames = this.#frames.shown(stack.frames, stack.location);
    const key = stackKey(frames);
    let stacks = this.#stacks.get(site);
    const known = stacks?.get(key);
    if (known !== undefined) {
      known.count += stack.count;
      return;
    }
    if ((stacks?.size ?? 0) >= MAX_STACKS_PER_SITE || this.#distinctStacks >= MAX_DISTINCT_STACKS) {
      this.#stackSamplesNotKept += stack.count;
      return;
    }
    if (stacks === undefined) {
      stacks = new Map();
      this.#stacks.set(site, stacks);
    }
    stacks.set(key, { count: stack.count, frames });
    this.#distinctStacks += 1;
  }

  /** Counts a problem with the probe's output (a malformed line, a sequence gap) and keeps a sample of it. */
  noteProtocolError(message: string): void {
    this.#protocolErrors += 1;
    if (this.#protocolErrorSamples.length < PROTOCOL_ERROR_SAMPLES) this.#protocolErrorSamples.push(message);
  }

  /**
   * Rows sorted by count, largest first, ties broken by symbol, interface, netns, module and
   * reason so equal counts always list the same way; rows beyond `cap` are summed into `otherCount`.
   */
  snapshot(cap: number): DropSnapshot {
    if (!Number.isSafeInteger(cap) || cap < 0) throw new RangeError(`row cap must be a non-negative integer, got ${cap}`);
    const all: { row: ReportRow; site: string }[] = [];
    for (const entry of this.#entries.values()) {
      const reason = this.#reasons.reasonName(entry.reason);
      all.push({
        row: {
          symbol: entry.location.symbol,
          interface: entry.interface,
          netns: entry.netns,
          module: entry.location.module,
          reason,
          class: dropClass(reason),
          count: entry.count,
          ...(entry.socketCgroup === 0 ? {} : { socketCgroup: entry.socketCgroup }),
          ...(this.#flowsReported ? rowFlows(entry, this.#flowSamplingPeriod > 1) : {}),
        },
        site: `${entry.location.symbolId}\t${entry.reason}`,
      });
    }
    all.sort((a, b) => compareRows(a.row, b.row));
    const withStacks = all.slice(0, cap).map(({ row, site }, index) => {
      const stacks = index < MAX_STACK_ROWS ? this.#stacks.get(site) : undefined;
      if (stacks === undefined) return row;
      return {
        ...row,
        stacks: [...stacks.values()]
          .sort(compareStacks)
          .slice(0, MAX_STACKS_PER_ROW)
          .map((s) => ({ count: s.count, frames: [...s.frames] })),
      };
    });
    const rows = stacksOnTopRows(withStacks, MAX_REPORT_STACK_BYTES);
    let otherCount = 0;
    for (let i = cap; i < all.length; i += 1) otherCount += all[i]?.row.count ?? 0;
    return {
      rows,
      otherCount,
      otherRows: all.length - rows.length,
      total: this.#total,
      uncounted: this.#uncounted,
      intervals: this.#intervals,
      finished: this.#finished,
      protocolErrors: this.#protocolErrors,
      protocolErrorSamples: [...this.#protocolErrorSamples],
      stackOverflow: this.#stackOverflow,
      stackSamplesNotKept: this.#stackSamplesNotKept,
      ...(this.#cost === undefined ? {} : { cost: { ...this.#cost } }),
      ...(this.#overload === undefined ? {} : { overload: { ...this.#overload } }),
      ...(this.#flowsReported ? { unstoredFlows: this.#unstoredFlows, flowSamplingPeriod: this.#flowSamplingPeriod } : {}),
    };
  }

  #locate(address: string): Location {
    const known = this.#locations.get(address);
    if (known !== undefined) return known;
    const { symbol, module } = this.#symbols.symbolize(address);
    const symbolKey = `${symbol}\t${module}`;
    let symbolId = this.#symbolIds.get(symbolKey);
    if (symbolId === undefined) {
      symbolId = this.#symbolIds.size;
      this.#symbolIds.set(symbolKey, symbolId);
    }
    const location: Location = { symbolId, symbol, module };
    this.#locations.set(detached(address), location);
    return location;
  }

  #endInterval({ seq, rows, overflow, stacks, stackOverflow, cost, flowOverflow, flowSamplingPeriod }: ProbeInterval): void {
    if (this.#finished) this.noteProtocolError(`interval ${seq} after the probe's end record`);
    if (seq !== this.#intervals + 1) {
      this.noteProtocolError(`interval ${seq} followed interval ${this.#intervals}: intervals were lost or repeated`);
    }
    if (rows !== this.#rowsSinceInterval) {
      this.noteProtocolError(`interval ${seq} announced ${rows} rows but ${this.#rowsSinceInterval} arrived`);
    }
    if (stacks !== this.#stacksSinceInterval) {
      this.noteProtocolError(`interval ${seq} announced ${stacks} stacks but ${this.#stacksSinceInterval} arrived`);
    }
    this.#uncounted += overflow;
    this.#stackOverflow += stackOverflow;
    this.#unstoredFlows += flowOverflow ?? 0;
    this.#flowSamplingPeriod = Math.max(this.#flowSamplingPeriod, flowSamplingPeriod ?? 1);
    this.#rowIds.clear();
    if (cost !== undefined) {
      const share = cost.elapsedNs > 0 ? cost.probeNs / cost.elapsedNs : 0;
      const sum = this.#cost ?? { hits: 0, probeNs: 0, elapsedNs: 0, peakShareOfOneCpu: 0 };
      this.#cost = {
        hits: sum.hits + cost.hits,
        probeNs: sum.probeNs + cost.probeNs,
        elapsedNs: sum.elapsedNs + cost.elapsedNs,
        peakShareOfOneCpu: Math.max(sum.peakShareOfOneCpu, share),
      };
    }
    this.#intervals += 1;
    this.#rowsSinceInterval = 0;
    this.#stacksSinceInterval = 0;
  }

  #end(seq: number): void {
    if (this.#finished) this.noteProtocolError("second end record");
    if (seq !== this.#intervals) {
      this.noteProtocolError(`end record says ${seq} intervals but ${this.#intervals} arrived`);
    }
    if (this.#rowsSinceInterval > 0) {
      this.noteProtocolError(`${this.#rowsSinceInterval} rows arrived after the last interval record`);
    }
    if (this.#stacksSinceInterval > 0) {
      this.noteProtocolError(`${this.#stacksSinceInterval} stacks arrived after the last interval record`);
    }
    this.#finished = true;
  }
}

/**
 * A row's top flows, its unparsed drops and the rest: count = listed + unparsedFlows + otherFlows.
 * When the probe sampled flows, each sampled one stands for N drops, so their sum only estimates
 * the row's exact count, above or below it; they are then scaled to it (each flow's share of what
 * the flows stand for, times the row's count, rounded down, at least 1 for a flow that was seen).
 */
function rowFlows(entry: Entry, sampled: boolean): { flows: Flow[]; unparsedFlows: number; otherFlows: number } {
  const scale = sampled && entry.flowWeight > 0 ? entry.count / entry.flowWeight : 1;
  const scaled = (n: number) => (scale === 1 || n === 0 ? n : Math.max(1, Math.floor(n * scale)));
  const flows = [...entry.flows.values()]
    .sort(compareFlows)
    .slice(0, MAX_FLOWS_PER_ROW)
    .map((f) => ({ ...f, count: scaled(f.count), source: { ...f.source }, destination: { ...f.destination } }));
  // "At least 1" can lift the listed flows past a small row's count: take the excess off the
  // largest, none below 1 (a row has at least as many drops as distinct flows).
  let excess = flows.reduce((sum, f) => sum + f.count, 0) - entry.count;
  for (const f of flows) {
    if (excess <= 0) break;
    const cut = Math.min(excess, f.count - 1);
    f.count -= cut;
    excess -= cut;
  }
  const listed = flows.reduce((sum, f) => sum + f.count, 0);
  const unparsedFlows = Math.min(scaled(entry.unparsed), Math.max(0, entry.count - listed));
  return { flows, unparsedFlows, otherFlows: Math.max(0, entry.count - listed - unparsedFlows) };
}
