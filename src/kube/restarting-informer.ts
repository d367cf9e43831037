// A client-node informer that keeps running. client-node 1.4's ListWatch restarts its watch by
// itself only after a clean end or a 410; any other error (a cut connection, a failed list, a
// 500 on the watch) stops it and calls its `error` handlers. This restarts it, waiting longer
// after each consecutive failure (capped), and starting again from the initial delay once a
// watch has stayed up for a while.
import type { Informer, KubernetesObject, ObjectCache } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Backoff } from "../controller/defaults.js";

export interface RestartingInformerOptions {
  /** A fixed name for logs and the restart metric's label ("droptraces", ...). */
  resource: string;
  backoff: Backoff & { resetAfterMs: number };
  log: Logger;
  onRestart?: (resource: string) => void;
}

export class RestartingInformer<T extends KubernetesObject> {
  readonly #options: RestartingInformerOptions;
  readonly #log: Logger;
  #delayMs: number;
  #errors = 0;
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #synced = false;
  #lastError: unknown;
  readonly #syncWaiters: (() => void)[] = [];

  constructor(
    readonly informer: Informer<T> & ObjectCache<T>,
    options: RestartingInformerOptions,
  ) {
    this.#options = options;
    this.#log = options.log.child({ resource: options.resource });
    this.#delayMs = options.backoff.initialMs;
    informer.on("error", (err: unknown) => {
      this.#onError(err);
    });
  }

  /** Lists and starts watching; failures are retried in the background. */
  start(): void {
    this.#stopped = false;
    void this.#run();
  }

  get resource(): string {
    return this.#options.resource;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Why the last start or watch failed, while it has not recovered; undefined when healthy. */
  get failing(): unknown {
    return this.#lastError;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.informer.stop();
  }

  /** A method, not the field: TypeScript would narrow the field across the await in #run. */
  #isStopped(): boolean {
    return this.#stopped;
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    const errorsBefore = this.#errors;
    this.#startedAt = Date.now();
    try {
      await this.informer.start();
    } catch (err) {
      this.#onError(err);
      return;
    }
    if (this.#isStopped() || this.#errors !== errorsBefore) return;
    this.#lastError = undefined;
    if (!this.#synced) {
      this.#synced = true;
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
    }
  }

  #onError(err: unknown): void {
    // stop() aborts the watch request, which client-node reports as one more error.
    if (this.#stopped) return;
    this.#errors += 1;
    this.#lastError = err;
    const { backoff } = this.#options;
    if (Date.now() - this.#startedAt >= backoff.resetAfterMs) this.#delayMs = backoff.initialMs;
    const delay = this.#delayMs;
    this.#delayMs = Math.min(delay * 2, backoff.maxMs);
    this.#options.onRestart?.(this.#options.resource);
    this.#log.warn({ err, retryInMs: delay }, "watch stopped; restarting it");
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, delay);
  }
}
