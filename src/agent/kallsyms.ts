// Symbolizes kernel addresses from /proc/kallsyms, the way the kernel's %pS does it
// (nearest symbol at or below the address, plus the offset), without the "/size" part.
//
// The file has ~200k lines and is loaded once per agent start, so it is parsed by hand
// (no per-line zod, no per-line strings): addresses go into typed arrays as two 32-bit halves
// (kernel addresses exceed 2^53, and bigint is slow to parse and compare), and names stay
// offsets into the original text until an address actually needs one.

/** Module of an address in the core kernel image. */
export const KERNEL_MODULE = "kernel";
/** Module of an address kallsyms does not cover; its symbol is then the raw address. */
export const UNKNOWN_MODULE = "unknown";

export const KALLSYMS_HIDDEN_MESSAGE =
  "kallsyms addresses hidden: /proc/kallsyms shows every address as 0; run the agent as root " +
  "(with CAP_SYSLOG) or lower the kernel.kptr_restrict sysctl";

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

/** A parsed /proc/kallsyms: sorted code symbols, searched by address. */
export class KallsymsTable {
  /** True when every address read 0 (kptr_restrict): nothing can be symbolized; report KALLSYMS_HIDDEN_MESSAGE. */
  readonly addressesHidden: boolean;
  readonly #text: string;
  readonly #high: Uint32Array;
  readonly #low: Uint32Array;
  readonly #nameStart: Uint32Array;
  readonly #nameEnd: Uint32Array;
  // Index into #modules (CORE_KERNEL for the kernel image), or NOT_CODE.
  readonly #module: Int32Array;
  readonly #modules: readonly string[];
  readonly #symbolCount: number;

  /** @internal use parseKallsyms */
  constructor(parts: {
    text: string;
    addressesHidden: boolean;
    high: Uint32Array;
    low: Uint32Array;
    nameStart: Uint32Array;
    nameEnd: Uint32Array;
    module: Int32Array;
    modules: readonly string[];
  }) {
    this.#text = parts.text;
    this.addressesHidden = parts.addressesHidden;
    this.#high = parts.high;
    this.#low = parts.low;
    this.#nameStart = parts.nameStart;
    this.#nameEnd = parts.nameEnd;
    this.#module = parts.module;
    this.#modules = parts.modules;
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

  /** `{ symbol: "udp_rcv+0x452", module: "kernel" }`; unknown addresses give the raw address and UNKNOWN_MODULE. */
  symbolize(address: bigint | string): SymbolizedLocation {
    const { high, low } = splitAddress(address);
    const index = this.#lastAtOrBelow(high, low);
    const module = index < 0 ? NOT_CODE : (this.#module[index] ?? NOT_CODE);
    if (this.addressesHidden || index < 0 || module === NOT_CODE) {
      return { symbol: formatAddress(high, low), module: UNKNOWN_MODULE };
    }
    const name = this.#text.slice(this.#nameStart[index] ?? 0, this.#nameEnd[index] ?? 0);
    const offset = formatOffset(high, low, this.#high[index] ?? 0, this.#low[index] ?? 0);
    return { symbol: `${name}+${offset}`, module: this.#modules[module] ?? UNKNOWN_MODULE };
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
 * Parses /proc/kallsyms text (`<addr> <type> <name>[\t[module]]` per line).
 * Keeps text symbols (t, T, w, W) of the kernel and of modules; data, rodata and bss symbols
 * (b, B, d, D, r, R, g, G, s, S, v, V) are kept as nameless boundaries, so an address past the
 * end of code comes out unknown rather than as `last_function+0x123456`. Other types
 * (absolute, debugging, undefined) are not addresses of anything and are ignored.
 * Throws KallsymsFormatError, quoting the line, on a line of another shape.
 */
export function parseKallsyms(text: string): KallsymsTable {
  const capacity = countLines(text);
  const high = new Uint32Array(capacity);
  const low = new Uint32Array(capacity);
  const nameStart = new Uint32Array(capacity);
  const nameEnd = new Uint32Array(capacity);
  const module = new Int32Array(capacity);
  const modules = [KERNEL_MODULE];
  const moduleIndex = new Map<string, number>([[KERNEL_MODULE, CORE_KERNEL]]);
  let count = 0;
  let lines = 0;
  let anyNonZero = false;

  let lineStart = 0;
  while (lineStart < text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    lines += 1;
    const space = text.indexOf(" ", lineStart);
    const digits = space - lineStart;
    if (space === -1 || space + 3 > lineEnd || digits < 1 || digits > 16 || text.charCodeAt(space + 2) !== 0x20) {
      throw kallsymsLineError(text, lineStart, lineEnd, lines);
    }
    // Up to 16 hex digits: the last 8 form the low half, the rest the high half; both stay exact.
    let addrHigh = 0;
    let addrLow = 0;
    const lowStart = Math.max(lineStart, space - 8);
    for (let i = lineStart; i < space; i += 1) {
      const digit = hexDigit(text.charCodeAt(i));
      if (digit < 0) throw kallsymsLineError(text, lineStart, lineEnd, lines);
      if (i < lowStart) addrHigh = addrHigh * 16 + digit;
      else addrLow = addrLow * 16 + digit;
    }
    if (addrHigh !== 0 || addrLow !== 0) anyNonZero = true;

    const type = text.charCodeAt(space + 1);
    let symbolEnd = lineEnd;
    let moduleName: string | undefined;
    // Module lines end in "\t[name]"; searching backwards from a ']' keeps the scan within the line.
    if (text.charCodeAt(lineEnd - 1) === 0x5d) {
      const tab = text.lastIndexOf("\t", lineEnd - 1);
      if (tab > space + 2 && text.charCodeAt(tab + 1) === 0x5b) {
        symbolEnd = tab;
        moduleName = text.slice(tab + 2, lineEnd - 1);
      }
    }
    if (symbolEnd <= space + 3) throw kallsymsLineError(text, lineStart, lineEnd, lines);

    const kind = symbolKind(type);
    if (kind !== IGNORED) {
      let moduleId = NOT_CODE;
      if (kind === CODE) {
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

  if (!anyNonZero) {
    const none = new Uint32Array(0);
    return new KallsymsTable({
      text: "",
      addressesHidden: true,
      high: none,
      low: none,
      nameStart: none,
      nameEnd: none,
      module: new Int32Array(0),
      modules: [KERNEL_MODULE],
    });
  }

  const order = sortedUniqueOrder(high, low, module, count);
  const pick = <T extends Uint32Array | Int32Array>(source: T, target: T): T => {
    for (let i = 0; i < order.length; i += 1) target[i] = source[order[i] ?? 0] ?? 0;
    return target;
  };
  return new KallsymsTable({
    text,
    addressesHidden: false,
    high: pick(high, new Uint32Array(order.length)),
    low: pick(low, new Uint32Array(order.length)),
    nameStart: pick(nameStart, new Uint32Array(order.length)),
    nameEnd: pick(nameEnd, new Uint32Array(order.length)),
    module: pick(module, new Int32Array(order.length)),
    modules,
  });
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
  return unique.subarray(0, kept);
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

function countLines(text: string): number {
  let lines = 0;
  let at = text.indexOf("\n");
  while (at !== -1) {
    lines += 1;
    at = text.indexOf("\n", at + 1);
  }
  return text.length > 0 && !text.endsWith("\n") ? lines + 1 : lines;
}

function hexDigit(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  return -1;
}

function kallsymsLineError(text: string, start: number, end: number, lineNumber: number): KallsymsFormatError {
  return new KallsymsFormatError(
    `kallsyms line ${lineNumber} is not "<address> <type> <name>[\\t[module]]": ${JSON.stringify(text.slice(start, Math.min(end, start + 200)))}`,
  );
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
