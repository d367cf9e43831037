// Cumulative drop counts of one trace on one node, from the probe's records.
//
// The probe prints and resets its map every interval, so the same key comes back interval
// after interval and counts are summed here. Every drop ends up in `total` (a row) or in
// `uncounted` (the probe's map was full); every inconsistency in the record stream is counted
// in `protocolErrors`, so a report can say how far it is to be trusted.
import type { ProbeRecord, ProbeRow } from "../probe/output.js";
import type { SymbolizedLocation } from "./kallsyms.js";
import type { ReportRow } from "../api/report.js";
import { compareRows } from "../api/rows.js";

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
}

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
  count: number;
}

export class DropAccumulator {
  readonly #symbols: Symbolizer;
  readonly #reasons: ReasonNamer;
  // Memo per distinct address: the hot path sees the same few drop sites again and again.
  readonly #locations = new Map<string, Location>();
  // Distinct (symbol, module) pairs, so that two addresses symbolized alike share one key.
  readonly #symbolIds = new Map<string, number>();
  readonly #entries = new Map<string, Entry>();
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
      case "interval":
        this.#endInterval(record.seq, record.rows, record.overflow);
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
    const key = `${location.symbolId}\t${row.interface}\t${row.netns}\t${row.reason}`;
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#entries.set(key, {
        location,
        interface: detached(row.interface),
        netns: row.netns,
        reason: row.reason,
        count: row.count,
      });
    } else {
      entry.count += row.count;
    }
    this.#total += row.count;
    this.#rowsSinceInterval += 1;
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
    const all: ReportRow[] = [];
    for (const entry of this.#entries.values()) {
      all.push({
        symbol: entry.location.symbol,
        interface: entry.interface,
        netns: entry.netns,
        module: entry.location.module,
        reason: this.#reasons.reasonName(entry.reason),
        count: entry.count,
      });
    }
    all.sort(compareRows);
    const rows = all.slice(0, cap);
    let otherCount = 0;
    for (let i = cap; i < all.length; i += 1) otherCount += all[i]?.count ?? 0;
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

  #endInterval(seq: number, rows: number, overflow: number): void {
    if (this.#finished) this.noteProtocolError(`interval ${seq} after the probe's end record`);
    if (seq !== this.#intervals + 1) {
      this.noteProtocolError(`interval ${seq} followed interval ${this.#intervals}: intervals were lost or repeated`);
    }
    if (rows !== this.#rowsSinceInterval) {
      this.noteProtocolError(`interval ${seq} announced ${rows} rows but ${this.#rowsSinceInterval} arrived`);
    }
    this.#uncounted += overflow;
    this.#intervals += 1;
    this.#rowsSinceInterval = 0;
  }

  #end(seq: number): void {
    if (this.#finished) this.noteProtocolError("second end record");
    if (seq !== this.#intervals) {
      this.noteProtocolError(`end record says ${seq} intervals but ${this.#intervals} arrived`);
    }
    if (this.#rowsSinceInterval > 0) {
      this.noteProtocolError(`${this.#rowsSinceInterval} rows arrived after the last interval record`);
    }
    this.#finished = true;
  }
}

/**
 * A copy of `text` that does not share memory with the string it was cut from. V8 keeps
 * substrings of 13 characters or more as views into their parent, so a key kept for the whole
 * trace would otherwise pin the entire stdout chunk its line came from.
 */
function detached(text: string): string {
  return text.length < 13 ? text : Buffer.from(text, "utf8").toString("utf8");
}
