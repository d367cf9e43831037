// The controller process's moving parts, wired: caches feed a keyed work queue, workers run
// the reconciler, and only the elected leader runs workers. Caches run on every replica, so a
// standby that takes over starts from a warm cache.
import { CoordinationV1Api, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { PHASES } from "../api/droptrace.js";
import { controllerMetrics, type ControllerMetrics } from "../api/metrics.js";
import { Caches } from "./caches.js";
import { KubeClusterWriter, type ClusterWriter } from "./cluster-writer.js";
import { DEFAULT_TIMINGS, DEFAULT_WORKERS, LEASE_NAME, type ControllerTimings } from "./defaults.js";
import { systemClock, type Clock } from "../kube/api.js";
import { LeaderElector } from "../kube/leader-election.js";
import { Reconciler } from "./reconciler.js";
import type { ControllerSettings } from "./settings.js";
import { WorkQueue } from "../kube/work-queue.js";

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  settings: ControllerSettings;
  log: Logger;
  metrics?: ControllerMetrics;
  timings?: Partial<ControllerTimings>;
  clock?: Clock;
  workers?: number;
  writer?: ClusterWriter;
  /** Give the lease up on stop() (default true); false behaves like a replica that died. */
  releaseLeaseOnStop?: boolean;
}

export class Controller {
  readonly caches: Caches;
  readonly metrics: ControllerMetrics;
  readonly #options: ControllerOptions;
  readonly #timings: ControllerTimings;
  readonly #log: Logger;
  readonly #reconciler: Reconciler;
  readonly #elector: LeaderElector | undefined;
  readonly #stopping = new AbortController();
  #queue: WorkQueue | undefined;
  #running: Promise<void> | undefined;
  #leading = false;

  constructor(options: ControllerOptions) {
    this.#options = options;
    this.#timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.#log = options.log.child({ component: "controller" });
    this.metrics = options.metrics ?? controllerMetrics();
    const { settings, kubeConfig } = options;
    this.caches = new Caches({
      kubeConfig,
      namespace: settings.namespace,
      timings: this.#timings,
      log: this.#log,
      metrics: this.metrics,
      onChange: (trace) => this.#queue?.add(trace),
    });
    this.#reconciler = new Reconciler({
      source: this.caches,
      writer: options.writer ?? new KubeClusterWriter(kubeConfig, settings.namespace),
      settings,
      timings: this.#timings,
      clock: options.clock ?? systemClock,
      log: this.#log,
      metrics: this.metrics,
    });
    this.#elector = settings.leaderElect
      ? new LeaderElector({
          api: kubeConfig.makeApiClient(CoordinationV1Api),
          namespace: settings.namespace,
          name: LEASE_NAME,
          identity: settings.identity,
          timings: this.#timings.lease,
          log: this.#log,
          releaseOnCancel: options.releaseLeaseOnStop ?? true,
        })
      : undefined;
  }

  /** Starts the caches and, once they are filled, campaigns for leadership (or leads at once without election). */
  async start(): Promise<void> {
    this.caches.start();
    await this.caches.waitForSync();
    this.#log.info({ leaderElection: this.#elector !== undefined }, "caches filled");
    const stopping = this.#stopping.signal;
    this.#running = this.#elector === undefined ? this.#lead(stopping) : this.#elector.run(stopping, (leading) => this.#lead(leading));
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    try {
      await this.#running;
    } finally {
      await this.caches.stop();
    }
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** For /healthz: undefined when healthy; unhealthy when leader election or a watch is stuck. */
  healthy(): string | undefined {
    return this.#elector?.health() ?? this.caches.stuck(Date.now(), this.#timings.watchStuckAfterMs);
  }

  /** For /readyz: undefined once the caches are filled. */
  ready(): string | undefined {
    return this.caches.notSynced();
  }

  /** Runs workers until `signal` aborts, then waits for the reconciles in flight. */
  async #lead(signal: AbortSignal): Promise<void> {
    const log = this.#log;
    this.#reconciler.forgetAll();
    const queue = new WorkQueue({
      backoff: this.#timings.queueBackoff,
      onDepth: (depth) => {
        this.metrics.queueDepth.set(depth);
      },
    });
    this.#queue = queue;
    this.#leading = true;
    this.metrics.isLeader.set(1);
    const enqueueAll = () => {
      for (const name of this.caches.traceNames()) queue.add(name);
    };
    enqueueAll();
    const resync = setInterval(enqueueAll, this.#timings.resyncMs);
    const workers = Array.from({ length: this.#options.workers ?? DEFAULT_WORKERS }, () => this.#work(queue));
    log.info({ workers: workers.length, traces: queue.depth }, "reconciling");
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else
        signal.addEventListener(
          "abort",
          () => {
            resolve();
          },
          { once: true },
        );
    });
    clearInterval(resync);
    this.#queue = undefined;
    queue.shutDown();
    await Promise.all(workers);
    this.#leading = false;
    this.metrics.isLeader.set(0);
    log.info("stopped reconciling");
  }

  async #work(queue: WorkQueue): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const started = performance.now();
      try {
        const result = await this.#reconciler.reconcile(key);
        queue.forget(key);
        if (result.requeueAfterMs === undefined) this.metrics.reconcilesTotal.inc({ result: "ok" });
        else {
          this.metrics.reconcilesTotal.inc({ result: "requeue" });
          queue.addAfter(key, result.requeueAfterMs);
        }
      } catch (err) {
        this.metrics.reconcilesTotal.inc({ result: "error" });
        const failures = queue.failures(key) + 1;
        const retryInMs = queue.addRateLimited(key);
        this.#log.child({ trace: key }).warn({ err, failures, retryInMs }, "reconcile failed; retrying");
      } finally {
        this.metrics.reconcileSeconds.observe((performance.now() - started) / 1000);
        queue.done(key);
        this.#countPhases();
      }
    }
  }

  #countPhases(): void {
    const counts = new Map<string, number>([...PHASES, "None"].map((p) => [p, 0]));
    for (const name of this.caches.traceNames()) {
      const phase = (this.caches.trace(name) as (KubernetesObject & { status?: { phase?: unknown } }) | undefined)?.status?.phase;
      const key = typeof phase === "string" && counts.has(phase) ? phase : "None";
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [phase, n] of counts) this.metrics.traces.set({ phase }, n);
  }
}
