// Records Events, each at most once per trace as far as this process knows; the API server's
// AlreadyExists (events.ts derives names from what they announce) covers what it does not know,
// such as Events a previous leader recorded. Failures are logged and counted, never thrown:
// an Event lost is a pity, a trace held up for one would be worse.
import type { Logger } from "pino";
import type { ControllerMetrics } from "../api/metrics.js";
import type { ClusterWriter } from "./cluster-writer.js";
import { MAX_NODE_FAILURE_EVENTS } from "./defaults.js";
import { eventObject, type EventSpec } from "./events.js";
import type { Clock } from "../kube/api.js";

export interface EventTarget {
  name: string;
  uid: string;
}

export class EventRecorder {
  readonly #announced = new Map<string, Set<string>>();
  readonly #nodeFailures = new Map<string, number>();

  constructor(
    private readonly writer: ClusterWriter,
    private readonly deps: { clock: Clock; instance: string; metrics: ControllerMetrics },
  ) {}

  async phase(trace: EventTarget, spec: EventSpec, log: Logger): Promise<void> {
    await this.#record(trace, spec, log);
  }

  /** Node failures are announced for the first MAX_NODE_FAILURE_EVENTS nodes; the Degraded condition counts all. */
  async nodeFailure(trace: EventTarget, spec: EventSpec, log: Logger): Promise<void> {
    if (this.#seen(trace.uid).has(spec.key)) return;
    const count = this.#nodeFailures.get(trace.uid) ?? 0;
    if (count >= MAX_NODE_FAILURE_EVENTS) return;
    if (await this.#record(trace, spec, log)) this.#nodeFailures.set(trace.uid, count + 1);
  }

  /** The trace is gone: forget what was announced about it. */
  forget(uid: string): void {
    this.#announced.delete(uid);
    this.#nodeFailures.delete(uid);
  }

  forgetAll(): void {
    this.#announced.clear();
    this.#nodeFailures.clear();
  }

  #seen(uid: string): Set<string> {
    let seen = this.#announced.get(uid);
    if (seen === undefined) {
      seen = new Set();
      this.#announced.set(uid, seen);
    }
    return seen;
  }

  async #record(trace: EventTarget, spec: EventSpec, log: Logger): Promise<boolean> {
    const seen = this.#seen(trace.uid);
    if (seen.has(spec.key)) return false;
    try {
      const result = await this.writer.recordEvent(eventObject(trace, spec, this.deps.clock(), this.deps.instance));
      this.deps.metrics.eventsTotal.inc({ result });
      seen.add(spec.key);
      if (result === "ok") log.info({ reason: spec.reason, eventType: spec.type }, spec.message);
      return result === "ok";
    } catch (err) {
      this.deps.metrics.eventsTotal.inc({ result: "error" });
      log.warn({ err, reason: spec.reason }, "could not record an Event; the next reconcile tries again");
      return false;
    }
  }
}
