// Capped exponential backoff, the one shape every retry in droptrace takes: the first wait is
// `initialMs`, each consecutive failure doubles it, and it never exceeds `maxMs`.

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** The wait after `failures` consecutive failures (0: the first retry waits initialMs). */
export function backoffDelay(backoff: Backoff, failures: number): number {
  return Math.min(backoff.initialMs * 2 ** Math.max(0, failures), backoff.maxMs);
}

/** One retry loop's waits: next() gives the wait for this failure and counts it; reset() after a success. */
export class BackoffTimer {
  #failures = 0;

  constructor(readonly backoff: Backoff) {}

  next(): number {
    const delay = backoffDelay(this.backoff, this.#failures);
    this.#failures += 1;
    return delay;
  }

  reset(): void {
    this.#failures = 0;
  }
}
