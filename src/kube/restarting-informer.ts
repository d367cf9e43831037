// A client-node informer that keeps running. client-node 1.4's ListWatch restarts its watch by
// itself only after a clean end or a 410; any other error (a cut connection, a failed list, a
// 500 on the watch) stops it and calls its `error` handlers. This restarts it, waiting longer
// after each consecutive failure (capped), and starting again from the initial delay once a
// watch has stayed up for a while.
import type { Informer, KubernetesObject, ObjectCache } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { BackoffTimer, type Backoff } from "./backoff.js";

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
  readonly #backoff: BackoffTimer;
  #errors = 0;
  #startedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #synced = false;
  #failing: { sinceMs: number; error: unknown } | undefined;
  readonly #syncWaiters: (() => void)[] = [];

  constructor(
    readonly informer: Informer<T> & ObjectCache<T>,
    options: RestartingInformerOptions,
  ) {
    this.#options = options;
    this.#log = options.log.child({ resource: options.resource });
    this.#backoff = new BackoffTimer(options.backoff);
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

  /** Since when, and why, its list or watch has been failing without a recovery in between; undefined when healthy. */
  get failing(): { sinceMs: number; error: unknown } | undefined {
    return this.#failing;
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
    this.#failing = undefined;
    if (!this.#synced) {
      this.#synced = true;
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
    }
  }

  #onError(err: unknown): void {
    // stop() aborts the watch request, which client-node reports as one more error.
    if (this.#stopped) return;
    this.#errors += 1;
    this.#failing ??= { sinceMs: Date.now(), error: err };
    this.#failing.error = err;
    if (Date.now() - this.#startedAt >= this.#options.backoff.resetAfterMs) this.#backoff.reset();
    const delay = this.#backoff.next();
    this.#options.onRestart?.(this.#options.resource);
    this.#log.warn({ err, retryInMs: delay }, "watch stopped; restarting it");
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, delay);
  }
}

/**
 * For /healthz: the informers whose list or watch has failed, with no recovery, for `afterMs`
 * or longer. A watch that cannot come back for that long (expired credentials, a client stuck
 * on a dead connection) is what a restart of the process can fix; shorter outages are retried
 * here and do not make the process unhealthy. Undefined when none has.
 */
export function stuckInformers(informers: readonly RestartingInformer<KubernetesObject>[], nowMs: number, afterMs: number): string | undefined {
  const stuck = informers.flatMap((informer) => {
    const failing = informer.failing;
    if (failing === undefined || nowMs - failing.sinceMs < afterMs) return [];
    const why = failing.error instanceof Error ? failing.error.message : String(failing.error);
    return [`the ${informer.resource} watch has failed for ${Math.round((nowMs - failing.sinceMs) / 1000)}s: ${why}`];
  });
  return stuck.length === 0 ? undefined : stuck.join("; ");
}
