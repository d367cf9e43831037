import { setTimeout as sleep } from "node:timers/promises";

/** Calls `probe` until it returns a value, and returns that; throws naming `what` once `timeoutMs` has passed. */
export async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
