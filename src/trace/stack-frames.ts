// A stack as the probe captured it (return addresses, innermost first, from SystemTap's
// callers()) turned into the frames a person reads: symbolized as the kernel's %pS prints them,
// and starting at the dropping function.
//
// Where the stack starts: callers() begins inside the tracing machinery (the probe's own module,
// the tracepoint, kfree_skb_reason or sk_skb_reason_drop itself) before it reaches the function
// that dropped. The probe's location for a drop is the return address into that function, and
// the same address is that function's frame in the stack. So:
//   1. the shown stack starts at the first frame whose address is the drop's location: its first
//      frame is the row's own symbol, the next its caller, and so on outwards;
//   2. where no frame is that address (an unwinder that skipped it, a tail call), leading frames
//      that are tracing internals are dropped instead: frames in the probe's own module, and the
//      functions of TRACING_INTERNALS; the first frame left is then the dropping function or, when
//      the unwinder skipped it, its caller;
//   3. a stack that would be empty that way is shown as captured.
// Then at most MAX_STACK_FRAMES frames are kept, from the start outwards.
import { frameText, MAX_STACK_FRAMES } from "../api/stacks.js";
import { detached } from "./detached.js";
import type { SymbolizedLocation } from "./kallsyms.js";

/**
 * Functions that free or trace an skb on behalf of the function that dropped it: the kfree_skb
 * tracepoint's iterator and BPF glue, and the freeing functions that fire it (their names on 6.1,
 * 6.12 and 7.2: kfree_skb_reason until 6.x, sk_skb_reason_drop from 6.11).
 */
export const TRACING_INTERNALS: ReadonlySet<string> = new Set([
  "__traceiter_kfree_skb",
  "__bpf_trace_kfree_skb",
  "trace_kfree_skb",
  "perf_trace_kfree_skb",
  "trace_event_raw_event_kfree_skb",
  "kfree_skb",
  "__kfree_skb",
  "kfree_skb_reason",
  "sk_skb_reason_drop",
  "kfree_skb_list",
  "kfree_skb_list_reason",
]);

/** The probe's own module (`droptrace_<hash>_<pid>` as staprun -R loads it), and any SystemTap module. */
const PROBE_MODULE = /^(?:droptrace|stap)_/;

/** Distinct frame addresses remembered; the memo starts over past it (it only saves symbolizing). */
const FRAME_MEMO_LIMIT = 50_000;

interface Frame {
  readonly address: string;
  readonly text: string;
  readonly internal: boolean;
}

export class StackFrames {
  readonly #symbols: { symbolize(address: string): SymbolizedLocation };
  readonly #memo = new Map<string, Frame>();

  constructor(symbols: { symbolize(address: string): SymbolizedLocation }) {
    this.#symbols = symbols;
  }

  /** The frames to show for a stack captured with a drop at `location` (all addresses normalized as the parser does). */
  shown(addresses: readonly string[], location: string): string[] {
    const frames = addresses.map((address) => this.#frame(address));
    let start = frames.findIndex((frame) => frame.address === location);
    if (start === -1) {
      start = 0;
      while (start < frames.length && frames[start]?.internal === true) start += 1;
      if (start === frames.length) start = 0;
    }
    return frames.slice(start, start + MAX_STACK_FRAMES).map((frame) => frame.text);
  }

  #frame(address: string): Frame {
    const known = this.#memo.get(address);
    if (known !== undefined) return known;
    const location = this.#symbols.symbolize(address);
    const name = location.symbol.split("+")[0] ?? "";
    const frame: Frame = {
      address: detached(address),
      text: detached(frameText(location)),
      internal: PROBE_MODULE.test(location.module) || TRACING_INTERNALS.has(name),
    };
    if (this.#memo.size >= FRAME_MEMO_LIMIT) this.#memo.clear();
    this.#memo.set(frame.address, frame);
    return frame;
  }
}
