// A keyed work queue with client-go's workqueue semantics: a key waits at most once however
// often it is added, a key being processed is never handed out again until it is done (added
// meanwhile, it comes back after), delayed adds keep the earliest time, and failures back off
// exponentially per key until the key succeeds.
import { backoffDelay, type Backoff } from "./backoff.js";

export class WorkQueue {
  readonly #queue: string[] = [];
  /** Keys waiting to be processed (in #queue, or to be put back there by done()). */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #backoff: Backoff;
  readonly #onDepth: (depth: number) => void;
  #shutDown = false;

  constructor(options: { backoff: Backoff; onDepth?: (depth: number) => void }) {
    this.#backoff = options.backoff;
    this.#onDepth = options.onDepth ?? (() => undefined);
  }

  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Adds `key` after `ms`; an earlier pending add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const pending = this.#timers.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, ms);
    this.#timers.set(key, { at, timer });
  }

  /** Adds `key` after its backoff: initial, doubled on each failure since the last forget(), capped. */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const delay = backoffDelay(this.#backoff, failures);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts from the initial backoff. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key, when there is one; undefined once the queue is shut down. Pair with done(). */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) return Promise.resolve(this.#take(key));
    if (this.#shutDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shutDown) this.#push(key);
  }

  /** Stops handing out keys; waiting get()s resolve undefined. Keys in process may still call done(). */
  shutDown(): void {
    this.#shutDown = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#queue.length = 0;
    this.#dirty.clear();
    for (const resolve of this.#waiters.splice(0)) resolve(undefined);
    this.#onDepth(0);
  }

  get depth(): number {
    return this.#queue.length;
  }

  #push(key: string): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter(this.#take(key));
      return;
    }
    this.#queue.push(key);
    this.#onDepth(this.#queue.length);
  }

  #take(key: string): string {
    this.#processing.add(key);
    this.#dirty.delete(key);
    this.#onDepth(this.#queue.length);
    return key;
  }
}
