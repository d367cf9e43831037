// The controller's own names and default timings, defined once. Names shared with other
// components (labels, annotations, the field manager, condition types and reasons) live in src/api/.
import { FIELD_MANAGER } from "../api/constants.js";
import type { Backoff } from "../kube/backoff.js";
import type { LeaseTimings } from "../kube/leader-election.js";

/** The coordination.k8s.io/v1 Lease the replicas elect a leader on, in the controller's namespace. */
export const LEASE_NAME = "droptrace-controller";
/** `source.component` and `reportingComponent` of the Events the controller records. */
export const EVENT_COMPONENT = FIELD_MANAGER;
/** Events about cluster-scoped objects live here (the API server refuses any other namespace). */
export const CLUSTER_EVENT_NAMESPACE = "default";

/** Slack on top of the agent's stop sequence (api/constants.ts), for the kubelet and a slow API server. */
export const TERMINATION_MARGIN_SECONDS = 10;

/** Node failures announced as Events, per trace: beyond this the Degraded condition counts them. */
export const MAX_NODE_FAILURE_EVENTS = 20;

/** Every timing the controller uses; tests shorten them. */
export interface ControllerTimings {
  /** Added to a trace's start + duration before nodes that have not finished are given up on. */
  deadlineGraceMs: number;
  /** Status writes per trace are at most one per this window; undefined: the trace's report interval. */
  statusIntervalMs: number | undefined;
  /** Reconcile retries after errors, per key. */
  queueBackoff: Backoff;
  /** Informer restarts after their watch stops with an error. */
  watchBackoff: Backoff & { resetAfterMs: number };
  /** A watch failing this long without recovering makes /healthz fail, so the kubelet restarts the controller. */
  watchStuckAfterMs: number;
  /**
   * A trace none of whose agents could start (their pods refused, unschedulable, without their
   * image, crashing) ends Failed this long after it started, instead of at its deadline.
   */
  agentStartWaitMs: number;
  /** Every trace is reconciled at least this often, whatever the watches say. */
  resyncMs: number;
  lease: LeaseTimings;
}

/**
 * Defaults. The deadline grace covers scheduling, image pulls and a cold probe compile (about a
 * minute on two cores, kernel-notes.md) plus the final report. Lease timings are client-go's.
 */
export const DEFAULT_TIMINGS: ControllerTimings = {
  deadlineGraceMs: 300_000,
  statusIntervalMs: undefined,
  queueBackoff: { initialMs: 500, maxMs: 60_000 },
  watchBackoff: { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 },
  watchStuckAfterMs: 300_000,
  // Long enough for a slow image pull (kubelet reports it as ContainerCreating, not a failure, meanwhile).
  agentStartWaitMs: 120_000,
  resyncMs: 300_000,
  lease: { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
};

/** Reconciles running at once; one key is never reconciled twice at the same time. */
export const DEFAULT_WORKERS = 4;

/** Report list pages: a list of thousands of reports in one answer would be hundreds of MiB. */
export const REPORT_LIST_PAGE = 250;

/** Pod, Service and node list pages of the address index: 150,000 pods in one answer would be GiBs. */
export const ADDRESS_LIST_PAGE = 500;
