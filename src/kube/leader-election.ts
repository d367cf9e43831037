// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
// it (client-node 1.4 ships none): the holder renews renewTime every retry period; a lease is
// expired when its record has not changed for leaseDurationSeconds by the *candidate's own*
// clock (so clock skew between nodes does not matter); every change goes through a
// resourceVersion-conditional update, so of two candidates only one can win. A leader that has
// not renewed within the renew deadline stops leading before its lease can expire for others.
import { setTimeout as sleep } from "node:timers/promises";
import { V1MicroTime, type CoordinationV1Api, type V1Lease, type V1LeaseSpec } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { z } from "zod";
import { isConflict, isNotFound, model, timeMs } from "./api.js";

export interface LeaseTimings {
  /** How long a lease is valid after its last renewal: a standby takes over after this. */
  durationMs: number;
  /** The leader gives up when it could not renew for this long (shorter than durationMs). */
  renewDeadlineMs: number;
  /** How often candidates try to acquire and the leader renews. */
  retryPeriodMs: number;
}

export interface LeaderElectorOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  timings: LeaseTimings;
  log: Logger;
  /** Give the lease up when stopped, so a standby takes over at once (client-go's ReleaseOnCancel). Default true. */
  releaseOnCancel?: boolean;
}

const LeaseSpecSchema = z.looseObject({
  holderIdentity: z.string().optional().nullable(),
  leaseDurationSeconds: z.number().int().optional().nullable(),
  acquireTime: z.unknown().optional(),
  renewTime: z.unknown().optional(),
  leaseTransitions: z.number().int().optional().nullable(),
});

interface LeaseRecord {
  holder: string;
  durationSeconds: number;
  acquireMs: number | undefined;
  renewMs: number | undefined;
  transitions: number;
}

type Attempt = "acquired" | "heldByOther" | "failed";

function recordOf(lease: V1Lease): LeaseRecord {
  const spec = LeaseSpecSchema.parse(lease.spec ?? {});
  return {
    holder: spec.holderIdentity ?? "",
    durationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireMs: timeMs(spec.acquireTime),
    renewMs: timeMs(spec.renewTime),
    transitions: spec.leaseTransitions ?? 0,
  };
}

const sameRecord = (a: LeaseRecord | undefined, b: LeaseRecord) =>
  a !== undefined &&
  a.holder === b.holder &&
  a.durationSeconds === b.durationSeconds &&
  a.acquireMs === b.acquireMs &&
  a.renewMs === b.renewMs &&
  a.transitions === b.transitions;

/** Waits `ms`, or less if `signal` aborts. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #durationSeconds: number;
  #observed: LeaseRecord | undefined;
  #observedAtMs = 0;
  #leading = false;
  #lastRenewMs = 0;

  constructor(options: LeaderElectorOptions) {
    const { durationMs, renewDeadlineMs, retryPeriodMs } = options.timings;
    if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < durationMs)) {
      throw new Error(`lease timings must be retry period < renew deadline < lease duration (got ${retryPeriodMs}, ${renewDeadlineMs}, ${durationMs} ms)`);
    }
    this.#o = options;
    this.#durationSeconds = Math.max(1, Math.ceil(durationMs / 1000));
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Undefined while fine; else why this replica should be restarted. */
  health(): string | undefined {
    if (!this.#leading) return undefined;
    const since = Date.now() - this.#lastRenewMs;
    return since > this.#o.timings.durationMs ? `leading, but the lease was last renewed ${Math.round(since / 1000)}s ago` : undefined;
  }

  /**
   * Campaigns until `signal` aborts. Each time it wins, `lead` runs with a signal that aborts
   * when leadership is lost (or `signal` aborts); `lead` must resolve once its work has stopped,
   * and only then is the lease released or campaigned for again.
   */
  async run(signal: AbortSignal, lead: (leading: AbortSignal) => Promise<void>): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs } = this.#o.timings;
    const log = this.#o.log.child({ lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity });
    // A function, not the property: TypeScript would narrow `signal.aborted` across the awaits.
    const stopping = () => signal.aborted;
    while (!stopping()) {
      if ((await this.#attempt()) !== "acquired") {
        // Jittered, as client-go's, so candidates do not move in step.
        await pause(retryPeriodMs * (1 + Math.random() * 0.2), signal);
        continue;
      }
      this.#leading = true;
      this.#lastRenewMs = Date.now();
      log.info("became the leader");
      const leading = new AbortController();
      const work = lead(leading.signal);
      let why = "stopping";
      while (!stopping()) {
        await pause(retryPeriodMs, signal);
        if (stopping()) break;
        const result = await this.#attempt();
        if (result === "acquired") {
          this.#lastRenewMs = Date.now();
          continue;
        }
        if (result === "heldByOther") {
          why = "another replica holds the lease";
          break;
        }
        if (Date.now() - this.#lastRenewMs >= renewDeadlineMs) {
          why = `could not renew the lease within ${renewDeadlineMs} ms`;
          break;
        }
      }
      leading.abort();
      try {
        await work;
      } catch (err) {
        log.error({ err }, "the leader's work ended with an error");
      }
      this.#leading = false;
      if (stopping()) {
        if (this.#o.releaseOnCancel ?? true) await this.#release(log);
        log.info("stopped leading: shutting down");
        return;
      }
      log.warn({ why }, "lost leadership; campaigning again");
    }
  }

  /** One try to take or renew the lease, given up after the renew deadline (a hung request must not keep a leader that is not one). */
  async #attempt(): Promise<Attempt> {
    const timeout = new Promise<Attempt>((resolve) => {
      const timer = setTimeout(() => {
        resolve("failed");
      }, this.#o.timings.renewDeadlineMs);
      timer.unref();
    });
    return Promise.race([this.#tryAcquireOrRenew(), timeout]);
  }

  async #tryAcquireOrRenew(): Promise<Attempt> {
    const { api, namespace, name, identity, log } = this.#o;
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isNotFound(err)) {
        log.warn({ err }, "could not read the leader lease");
        return "failed";
      }
      return this.#create();
    }
    const record = recordOf(lease);
    const nowMs = Date.now();
    if (!sameRecord(this.#observed, record)) {
      this.#observed = record;
      this.#observedAtMs = nowMs;
    }
    const mine = record.holder === identity;
    const valid = this.#observedAtMs + record.durationSeconds * 1000 > nowMs;
    if (record.holder !== "" && !mine && valid) return "heldByOther";
    const next = this.#spec({
      acquireMs: mine ? (record.acquireMs ?? nowMs) : nowMs,
      transitions: mine ? record.transitions : record.transitions + 1,
    });
    try {
      const updated = await api.replaceNamespacedLease({ name, namespace, body: this.#lease(lease, next) });
      this.#observed = recordOf(updated);
      this.#observedAtMs = Date.now();
      return "acquired";
    } catch (err) {
      // 409: someone else wrote the lease first; it is theirs this round.
      if (!isConflict(err)) log.warn({ err }, "could not update the leader lease");
      return "failed";
    }
  }

  async #create(): Promise<Attempt> {
    const { api, namespace, name, log } = this.#o;
    try {
      const created = await api.createNamespacedLease({
        namespace,
        body: model<V1Lease>({ metadata: { name, namespace }, spec: this.#spec({ acquireMs: Date.now(), transitions: 0 }) }),
      });
      this.#observed = recordOf(created);
      this.#observedAtMs = Date.now();
      return "acquired";
    } catch (err) {
      if (!isConflict(err)) log.warn({ err }, "could not create the leader lease");
      return "failed";
    }
  }

  #spec(record: { acquireMs: number; transitions: number }): V1LeaseSpec {
    return model<V1LeaseSpec>({
      holderIdentity: this.#o.identity,
      leaseDurationSeconds: this.#durationSeconds,
      acquireTime: new V1MicroTime(record.acquireMs),
      renewTime: new V1MicroTime(Date.now()),
      leaseTransitions: record.transitions,
    });
  }

  /** The lease to write: the one read (its resourceVersion makes the write conditional) with a new spec. */
  #lease(read: V1Lease, spec: V1LeaseSpec): V1Lease {
    const { name, namespace } = this.#o;
    const resourceVersion = read.metadata?.resourceVersion;
    return model<V1Lease>({ metadata: { name, namespace, ...(resourceVersion === undefined ? {} : { resourceVersion }) }, spec });
  }

  /** Hands the lease back (empty holder, 1 s duration), if it is still ours. */
  async #release(log: Logger): Promise<void> {
    const { api, namespace, name, identity } = this.#o;
    try {
      const lease = await api.readNamespacedLease({ name, namespace });
      const record = recordOf(lease);
      if (record.holder !== identity) return;
      const now = new V1MicroTime(Date.now());
      await api.replaceNamespacedLease({
        name,
        namespace,
        body: this.#lease(
          lease,
          model<V1LeaseSpec>({ holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: record.transitions }),
        ),
      });
      log.info("released the leader lease");
    } catch (err) {
      log.warn({ err }, "could not release the leader lease; a standby takes over when it expires");
    }
  }
}
