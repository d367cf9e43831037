// Every Prometheus metric droptrace exposes is defined here. Labels stay bounded:
// results and reasons from fixed sets, never symbols, interfaces or node names.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export function agentMetrics(registry: Registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: "droptrace_agent_" });
  return {
    registry,
    dropsTotal: new Counter({
      name: "droptrace_agent_drops_total",
      help: "Packet drops the probe counted on this node for the current trace.",
      registers: [registry],
    }),
    uncountedDropsTotal: new Counter({
      name: "droptrace_agent_uncounted_drops_total",
      help: "Drops the probe saw but could not store because its map was full.",
      registers: [registry],
    }),
    rows: new Gauge({
      name: "droptrace_agent_rows",
      help: "Distinct (symbol, interface, netns, module, reason) rows counted so far.",
      registers: [registry],
    }),
    intervalsTotal: new Counter({
      name: "droptrace_agent_intervals_total",
      help: "Probe intervals completed.",
      registers: [registry],
    }),
    compileSeconds: new Gauge({
      name: "droptrace_agent_compile_seconds",
      help: "Seconds spent compiling the probe module for this kernel; 0 when a cached module was loaded.",
      registers: [registry],
    }),
    reportWritesTotal: new Counter({
      name: "droptrace_agent_report_writes_total",
      help: "DropTraceReport writes, by result: ok or error.",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
  };
}
export type AgentMetrics = ReturnType<typeof agentMetrics>;

/** The controller's metrics. Every label takes values from a fixed set: no trace or node names. */
export function controllerMetrics(registry: Registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: "droptrace_controller_" });
  return {
    registry,
    reconcilesTotal: new Counter({
      name: "droptrace_controller_reconciles_total",
      help: "DropTrace reconciles, by result: ok (converged), requeue (converged, to look again at a set time) or error (retried with backoff).",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: "droptrace_controller_reconcile_seconds",
      help: "Time one DropTrace reconcile took, errors included.",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    traces: new Gauge({
      name: "droptrace_controller_traces",
      help: "DropTraces in the cache, by phase: Pending, Running, Completed, Failed, or None before the first status.",
      labelNames: ["phase"] as const,
      registers: [registry],
    }),
    statusWritesTotal: new Counter({
      name: "droptrace_controller_status_writes_total",
      help: "DropTrace status writes, by result: ok, conflict (the object changed first; retried) or error.",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    statusWritesDeferredTotal: new Counter({
      name: "droptrace_controller_status_writes_deferred_total",
      help: "Reconciles that held a status change back to keep to one write per report interval per trace.",
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "droptrace_controller_queue_depth",
      help: "DropTrace keys waiting for a reconcile.",
      registers: [registry],
    }),
    watchRestartsTotal: new Counter({
      name: "droptrace_controller_watch_restarts_total",
      help: "Informer restarts after their watch or list failed, by resource: droptraces, droptracereports, daemonsets, pods, events (the agents'), or the address index's address-pods, services and nodes.",
      labelNames: ["resource"] as const,
      registers: [registry],
    }),
    eventsTotal: new Counter({
      name: "droptrace_controller_events_total",
      help: "Kubernetes Events recorded about DropTraces, by result: ok, exists (already recorded) or error.",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    invalidReportsTotal: new Counter({
      name: "droptrace_controller_invalid_reports_total",
      help: "DropTraceReports that did not match the schema; their node counts as failed.",
      registers: [registry],
    }),
    isLeader: new Gauge({
      name: "droptrace_controller_is_leader",
      help: "1 while this replica holds the leader Lease and reconciles, else 0.",
      registers: [registry],
    }),
  };
}
export type ControllerMetrics = ReturnType<typeof controllerMetrics>;
