// Waiting in tests. A test waits for the condition it needs, never for a fixed time: a fixed
// sleep is too short on a busy machine and wasted on an idle one. Only an absence (no write,
// no restart) cannot be waited for; holdsFor() watches it for a window the caller justifies.
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";

export interface UntilOptions {
  /** How long to keep trying before failing; 10 s unless the test says otherwise. */
  timeoutMs?: number;
  /** The pause between tries. */
  everyMs?: number;
}

/** What a probe returns while the condition does not hold yet. */
export type NotYet = undefined | null | false;

/**
 * Calls `probe` (sync or async) until it returns something other than undefined, null or false,
 * and returns that. A probe that throws has not succeeded yet either: a read can fail while
 * what it reads is still starting. After `timeoutMs` it throws, naming `what` and showing what
 * the probe last returned or threw.
 */
export async function until<T>(what: string, probe: () => T | Promise<T>, options: UntilOptions = {}): Promise<Exclude<T, NotYet>> {
  const { timeoutMs = 10_000, everyMs = 20 } = options;
  const started = Date.now();
  for (;;) {
    let last: { value: unknown } | { error: unknown };
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, NotYet>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() - started >= timeoutMs) {
      if ("error" in last) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last it threw ${show(last.error)}`, { cause: last.error });
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last it returned ${show(last.value)}`);
    }
    await sleep(everyMs);
  }
}

/**
 * Checks that `check` holds for the whole of `windowMs`, polling: for what must NOT happen,
 * which no wait can show. It fails at once, naming `what`, when `check` returns false or throws
 * (an expect() inside it may throw). A busy machine can only make a window show less, never
 * fail a correct program, so each caller says why its window is long enough.
 */
export async function holdsFor(what: string, windowMs: number, check: () => unknown, options: Pick<UntilOptions, "everyMs"> = {}): Promise<void> {
  const { everyMs = 10 } = options;
  const started = Date.now();
  for (;;) {
    let held: unknown;
    try {
      held = await check();
    } catch (error) {
      throw new Error(`${what} stopped holding after ${Date.now() - started} ms: ${show(error)}`, { cause: error });
    }
    if (held === false) throw new Error(`${what} stopped holding after ${Date.now() - started} ms`);
    if (Date.now() - started >= windowMs) return;
    await sleep(Math.min(everyMs, Math.max(0, windowMs - (Date.now() - started))));
  }
}

function show(seen: unknown): string {
  const text = seen instanceof Error ? seen.message : inspect(seen, { depth: 4, breakLength: Infinity });
  return text.length > 2_000 ? `${text.slice(0, 2_000)}…` : text;
}
