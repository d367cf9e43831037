// Symbolizes kernel addresses from /proc/kallsyms, the way the kernel's %pS does it
// (nearest symbol at or below the address, plus the offset), without the "/size" part.
//
// The file has ~200k lines (9 MB) and is loaded once per agent start, and the table lives as long
// as the trace, so it is parsed by hand from bytes (no per-line zod, no per-line strings) and
// kept compact: addresses in typed arrays as two 32-bit halves (kernel addresses exceed 2^53, and
// bigint is slow to parse and compare), and only the names of code symbols, packed into one byte
// array in address order, each decoded when an address first needs it. The text itself is not
// kept: for the fixture kernel's 9 MB the table is 4.4 MB, where the text and an index into it
// were 13.

/** Module of an address in the core kernel image. */
const KERNEL_MODULE = "kernel";
/** Module of an address kallsyms does not cover; its symbol is then the raw address. */
const UNKNOWN_MODULE = "unknown";

export interface SymbolizedLocation {
  /** `udp_rcv+0x452`, or the raw `0x…` address when unknown. */
  readonly symbol: string;
  /** KERNEL_MODULE, a module name such as `veth`, or UNKNOWN_MODULE. */
  readonly module: string;
}

export class KallsymsFormatError extends Error {
  override readonly name = "KallsymsFormatError";
}

// Markers have no name: they only stop a data address from being named after the code before it.
const NOT_CODE = -1;
const CORE_KERNEL = 0;
const TWO_POW_32 = 0x1_0000_0000;

const NEWLINE = 0x0a;
const TAB = 0x09;
const SPACE = 0x20;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** A parsed /proc/kallsyms: sorted code symbols, searched by address. */
export class KallsymsTable {
  /**
   * True when every code symbol's address read 0, as the kernel shows them to a reader it hides
   * them from (kptr_restrict, no CAP_SYSLOG): nothing can be symbolized. Only code symbols count:
   * x86_64 lists per-CPU symbols first whose address really is 0 (`0000000000000000 A
   * fixed_percpu_data`) even for root, so the first lines say nothing about the rest.
   */
  readonly addressesHidden: boolean;
  readonly #high: Uint32Array;
  readonly #low: Uint32Array;
  // Index into #modules (CORE_KERNEL for the kernel image), or NOT_CODE.
  readonly #module: Int32Array;
  readonly #modules: readonly string[];
  /** Entry i's name is #names[#nameOffsets[i]] up to #names[#nameOffsets[i + 1]]; empty for NOT_CODE. */
  readonly #names: Buffer;
  readonly #nameOffsets: Uint32Array;
  readonly #symbolCount: number;

  /** @internal use parseKallsyms */
  constructor(parts: {
    addressesHidden: boolean;
    high: Uint32Array;
    low: Uint32Array;
    module: Int32Array;
    modules: readonly string[];
    names: Buffer;
    nameOffsets: Uint32Array;
  }) {
    this.addressesHidden = parts.addressesHidden;
    this.#high = parts.high;
    this.#low = parts.low;
    this.#module = parts.module;
    this.#modules = parts.modules;
    this.#names = parts.names;
    this.#nameOffsets = parts.nameOffsets;
    this.#symbolCount = parts.module.reduce((count, module) => (module === NOT_CODE ? count : count + 1), 0);
  }

  /** Code symbols kept (the kernel's and every module's). */
  get symbolCount(): number {
    return this.#symbolCount;
  }

  /** Module names that have code symbols, `kernel` first. */
  get moduleNames(): readonly string[] {
    return this.#modules;
  }

  /** Bytes the table holds in typed arrays (names, addresses, modules): what it costs while a trace runs. */
  get byteLength(): number {
    return this.#names.byteLength + this.#nameOffsets.byteLength + this.#high.byteLength + this.#low.byteLength + this.#module.byteLength;
  }

  /** `{ symbol: "udp_rcv+0x452", module: "kernel" }`; unknown addresses give the raw address and UNKNOWN_MODULE. */
  symbolize(address: bigint | string): SymbolizedLocation {
    const { high, low } = splitAddress(address);
    const index = this.#lastAtOrBelow(high, low);
    const module = index < 0 ? NOT_CODE : (this.#module[index] ?? NOT_CODE);
    if (this.addressesHidden || index < 0 || module === NOT_CODE) {
      return { symbol: formatAddress(high, low), module: UNKNOWN_MODULE };
    }
    const name = this.#name(index);
    const offset = formatOffset(high, low, this.#high[index] ?? 0, this.#low[index] ?? 0);
    return { symbol: `${name}+${offset}`, module: this.#modules[module] ?? UNKNOWN_MODULE };
  }

  #name(index: number): string {
    const start = this.#nameOffsets[index] ?? 0;
    const end = this.#nameOffsets[index + 1] ?? 0;
    // A code symbol's name is never empty: an empty one is the padding before the next function.
    return start === end ? `${PADDING_PREFIX}${this.#name(index + 1)}` : this.#names.toString("utf8", start, end);
  }

  #lastAtOrBelow(high: number, low: number): number {
    let lo = 0;
    let hi = this.#high.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const midHigh = this.#high[mid] ?? 0;
      if (midHigh < high || (midHigh === high && (this.#low[mid] ?? 0) <= low)) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}

/**
 * Parses /proc/kallsyms (`<addr> <type> <name>[\t[module]]` per line), as read from the file
 * (bytes) or as text. Keeps text symbols (t, T, w, W) of the kernel and of modules; data, rodata
 * and bss symbols (b, B, d, D, r, R, g, G, s, S, v, V) are kept as nameless boundaries, so an
 * address past the end of code comes out unknown rather than as `last_function+0x123456`. Other
 * types (absolute, debugging, undefined) are not addresses of anything and are ignored.
 * Throws KallsymsFormatError, quoting the line, on a line of another shape.
 */
export function parseKallsyms(input: string | Uint8Array): KallsymsTable {
  // A Buffer's indexOf is memchr.
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const capacity = countLines(bytes);
  const high = new Uint32Array(capacity);
  const low = new Uint32Array(capacity);
  const nameStart = new Uint32Array(capacity);
  const nameEnd = new Uint32Array(capacity);
  const module = new Int32Array(capacity);
  const modules = [KERNEL_MODULE];
  const moduleIndex = new Map<string, number>([[KERNEL_MODULE, CORE_KERNEL]]);
  let count = 0;
  let lines = 0;
  let anyCodeNonZero = false;

  let lineStart = 0;
  while (lineStart < bytes.length) {
    let lineEnd = bytes.indexOf(NEWLINE, lineStart);
    if (lineEnd === -1) lineEnd = bytes.length;
    lines += 1;
    const space = bytes.indexOf(SPACE, lineStart);
    const digits = space - lineStart;
    if (space === -1 || space + 3 > lineEnd || digits < 1 || digits > 16 || bytes[space + 2] !== SPACE) {
      throw kallsymsLineError(bytes, lineStart, lines);
    }
    // Up to 16 hex digits: the last 8 form the low half, the rest the high half; both stay exact.
    let addrHigh = 0;
    let addrLow = 0;
    const lowStart = Math.max(lineStart, space - 8);
    for (let i = lineStart; i < space; i += 1) {
      const digit = hexDigit(bytes[i] ?? 0);
      if (digit < 0) throw kallsymsLineError(bytes, lineStart, lines);
      if (i < lowStart) addrHigh = addrHigh * 16 + digit;
      else addrLow = addrLow * 16 + digit;
    }

    const type = bytes[space + 1] ?? 0;
    let symbolEnd = lineEnd;
    let moduleName: string | undefined;
    // Module lines end in "\t[name]"; searching backwards from a ']' keeps the scan within the line.
    if (bytes[lineEnd - 1] === CLOSE_BRACKET) {
      const tab = bytes.lastIndexOf(TAB, lineEnd - 1);
      if (tab > space + 2 && bytes[tab + 1] === OPEN_BRACKET) {
        symbolEnd = tab;
        moduleName = bytes.toString("utf8", tab + 2, lineEnd - 1);
      }
    }
    if (symbolEnd <= space + 3) throw kallsymsLineError(bytes, lineStart, lines);

    const kind = symbolKind(type);
    if (kind !== IGNORED) {
      let moduleId = NOT_CODE;
      if (kind === CODE) {
        if (addrHigh !== 0 || addrLow !== 0) anyCodeNonZero = true;
        moduleId = CORE_KERNEL;
        if (moduleName !== undefined) {
          moduleId = moduleIndex.get(moduleName) ?? -1;
          if (moduleId === -1) {
            moduleId = modules.length;
            modules.push(moduleName);
            moduleIndex.set(moduleName, moduleId);
          }
        }
      }
      high[count] = addrHigh;
      low[count] = addrLow;
      nameStart[count] = space + 3;
      nameEnd[count] = symbolEnd;
      module[count] = moduleId;
      count += 1;
    }
    lineStart = lineEnd + 1;
  }
  if (lines === 0) throw new KallsymsFormatError("kallsyms is empty: is /proc mounted?");

  if (!anyCodeNonZero) {
    const none = new Uint32Array(0);
    return new KallsymsTable({
      addressesHidden: true,
      high: none,
      low: none,
      module: new Int32Array(0),
      modules: [KERNEL_MODULE],
      names: Buffer.alloc(0),
      nameOffsets: new Uint32Array(1),
    });
  }

  const order = sortedUniqueOrder(high, low, module, count);
  const kept = order.length;
  const pick = <T extends Uint32Array | Int32Array>(source: T, target: T): T => {
    for (let i = 0; i < kept; i += 1) target[i] = source[order[i] ?? 0] ?? 0;
    return target;
  };
  // Code names only, in address order: a boundary's name is never shown. Where functions are
  // padded (x86's CONFIG_CALL_PADDING), the padding before each is a symbol of its own,
  // `__pfx_<function>`, directly below it: 40% of the names' bytes. Those are kept as empty names
  // and spelt out from the next name when shown.
  const keptModule = pick(module, new Int32Array(kept));
  const nameOffsets = new Uint32Array(kept + 1);
  const named = (i: number): boolean =>
    keptModule[i] !== NOT_CODE && !isPaddingOf(bytes, order[i] ?? 0, order[i + 1], nameStart, nameEnd, keptModule[i] === keptModule[i + 1]);
  let nameBytes = 0;
  for (let i = 0; i < kept; i += 1) {
    const entry = order[i] ?? 0;
    nameOffsets[i] = nameBytes;
    if (named(i)) nameBytes += (nameEnd[entry] ?? 0) - (nameStart[entry] ?? 0);
  }
  nameOffsets[kept] = nameBytes;
  // Its own memory (not a slice of Buffer's shared pool), sized exactly.
  const names = Buffer.allocUnsafeSlow(nameBytes);
  for (let i = 0; i < kept; i += 1) {
    if (nameOffsets[i] === nameOffsets[i + 1]) continue;
    const entry = order[i] ?? 0;
    // Byte by byte: names are short, and a call per name into Buffer's copy costs more.
    const end = nameEnd[entry] ?? 0;
    let to = nameOffsets[i] ?? 0;
    for (let from = nameStart[entry] ?? 0; from < end; from += 1, to += 1) names[to] = bytes[from] ?? 0;
  }
  return new KallsymsTable({
    addressesHidden: false,
    high: pick(high, new Uint32Array(kept)),
    low: pick(low, new Uint32Array(kept)),
    module: keptModule,
    modules,
    names,
    nameOffsets,
  });
}

const PADDING_PREFIX = "__pfx_";
const PADDING_PREFIX_BYTES = Buffer.from(PADDING_PREFIX, "latin1");

/** True when entry `entry` is named `__pfx_` + the name of `next`, a code symbol of the same module. */
function isPaddingOf(bytes: Buffer, entry: number, next: number | undefined, nameStart: Uint32Array, nameEnd: Uint32Array, sameModule: boolean): boolean {
  if (next === undefined || !sameModule) return false;
  const start = nameStart[entry] ?? 0;
  const nextStart = nameStart[next] ?? 0;
  const nextLength = (nameEnd[next] ?? 0) - nextStart;
  if ((nameEnd[entry] ?? 0) - start !== PADDING_PREFIX_BYTES.length + nextLength) return false;
  if (bytes.compare(PADDING_PREFIX_BYTES, 0, PADDING_PREFIX_BYTES.length, start, start + PADDING_PREFIX_BYTES.length) !== 0) return false;
  return bytes.compare(bytes, nextStart, nextStart + nextLength, start + PADDING_PREFIX_BYTES.length, start + PADDING_PREFIX_BYTES.length + nextLength) === 0;
}

const IGNORED = 0;
const CODE = 1;
const BOUNDARY = 2;

// Indexed by the type letter's character code.
const SYMBOL_KINDS = (() => {
  const kinds = new Uint8Array(128);
  for (const letter of "tTwW") kinds[letter.charCodeAt(0)] = CODE;
  for (const letter of "bBdDrRgGsSvV") kinds[letter.charCodeAt(0)] = BOUNDARY;
  return kinds;
})();

function symbolKind(type: number): number {
  return SYMBOL_KINDS[type] ?? IGNORED;
}

/**
 * Entry indices sorted by address, one per address. Where several symbols share an address,
 * the first code symbol in file order wins, as the kernel's own lookup picks the first alias.
 */
function sortedUniqueOrder(high: Uint32Array, low: Uint32Array, module: Int32Array, count: number): Uint32Array {
  const order = sortByAddress(high, low, count);
  const unique = new Uint32Array(count);
  let kept = 0;
  let runHigh = -1;
  let runLow = -1;
  for (const index of order) {
    const h = high[index] ?? 0;
    const l = low[index] ?? 0;
    if (h !== runHigh || l !== runLow) {
      unique[kept] = index;
      kept += 1;
      runHigh = h;
      runLow = l;
    } else if (module[unique[kept - 1] ?? 0] === NOT_CODE && module[index] !== NOT_CODE) {
      unique[kept - 1] = index;
    }
  }
  // A boundary only matters where code ends: one after another (the data section's thousands of
  // symbols), or one below all code, would only make the same addresses unknown again.
  let needed = 0;
  for (let i = 0; i < kept; i += 1) {
    const index = unique[i] ?? 0;
    if (module[index] === NOT_CODE && (needed === 0 || module[unique[needed - 1] ?? 0] === NOT_CODE)) continue;
    unique[needed] = index;
    needed += 1;
  }
  return unique.subarray(0, needed);
}

/**
 * Indices ordered by (address, file position). The core kernel's lines come sorted and make up
 * most of the file; only the module lines are out of order. So the entries that extend one
 * ascending run are taken as they are, the few others are sorted on their own, and the two
 * lists are merged: a third of the time of sorting everything with a comparator.
 */
function sortByAddress(high: Uint32Array, low: Uint32Array, count: number): Uint32Array {
  const inOrder = new Uint32Array(count);
  const stragglers: number[] = [];
  let inOrderCount = 0;
  let lastHigh = 0;
  let lastLow = 0;
  for (let i = 0; i < count; i += 1) {
    const h = high[i] ?? 0;
    const l = low[i] ?? 0;
    if (h > lastHigh || (h === lastHigh && l >= lastLow)) {
      inOrder[inOrderCount] = i;
      inOrderCount += 1;
      lastHigh = h;
      lastLow = l;
    } else {
      stragglers.push(i);
    }
  }
  if (stragglers.length === 0) return inOrder;
  stragglers.sort((a, b) => (high[a] ?? 0) - (high[b] ?? 0) || (low[a] ?? 0) - (low[b] ?? 0) || a - b);

  const merged = new Uint32Array(count);
  let a = 0;
  let b = 0;
  for (let out = 0; out < count; out += 1) {
    const fromInOrder = inOrder[a] ?? 0;
    const fromStragglers = stragglers[b] ?? 0;
    let takeInOrder: boolean;
    if (a >= inOrderCount) takeInOrder = false;
    else if (b >= stragglers.length) takeInOrder = true;
    else {
      const ha = high[fromInOrder] ?? 0;
      const hb = high[fromStragglers] ?? 0;
      const la = low[fromInOrder] ?? 0;
      const lb = low[fromStragglers] ?? 0;
      takeInOrder = ha < hb || (ha === hb && (la < lb || (la === lb && fromInOrder < fromStragglers)));
    }
    if (takeInOrder) {
      merged[out] = fromInOrder;
      a += 1;
    } else {
      merged[out] = fromStragglers;
      b += 1;
    }
  }
  return merged;
}

function countLines(bytes: Buffer): number {
  let lines = 0;
  let at = bytes.indexOf(NEWLINE);
  while (at !== -1) {
    lines += 1;
    at = bytes.indexOf(NEWLINE, at + 1);
  }
  return bytes.length > 0 && bytes[bytes.length - 1] !== NEWLINE ? lines + 1 : lines;
}

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  return -1;
}

function kallsymsLineError(bytes: Buffer, start: number, lineNumber: number): KallsymsFormatError {
  let end = bytes.indexOf(NEWLINE, start);
  if (end === -1) end = bytes.length;
  const line = bytes.toString("utf8", start, Math.min(end, start + 200));
  return new KallsymsFormatError(`kallsyms line ${lineNumber} is not "<address> <type> <name>[\\t[module]]": ${JSON.stringify(line)}`);
}

function splitAddress(address: bigint | string): { high: number; low: number } {
  if (typeof address === "bigint") {
    if (address < 0n || address >= 1n << 64n) throw new RangeError(`address ${String(address)} is not a 64-bit address`);
    return { high: Number(address >> 32n), low: Number(address & 0xffff_ffffn) };
  }
  if (!/^0x[0-9a-fA-F]{1,16}$/.test(address)) {
    throw new RangeError(`address ${JSON.stringify(address)} is not 0x followed by 1 to 16 hex digits`);
  }
  const digits = address.slice(2);
  const split = Math.max(0, digits.length - 8);
  return {
    high: split === 0 ? 0 : Number.parseInt(digits.slice(0, split), 16),
    low: Number.parseInt(digits.slice(split), 16),
  };
}

function formatAddress(high: number, low: number): string {
  if (high === 0) return `0x${low.toString(16)}`;
  return `0x${high.toString(16)}${low.toString(16).padStart(8, "0")}`;
}

function formatOffset(high: number, low: number, symbolHigh: number, symbolLow: number): string {
  let offsetHigh = high - symbolHigh;
  let offsetLow = low - symbolLow;
  if (offsetLow < 0) {
    offsetLow += TWO_POW_32;
    offsetHigh -= 1;
  }
  return formatAddress(offsetHigh, offsetLow);
}
