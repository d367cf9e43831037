// What the controller keeps of a DropTraceReport: validated at the edge, rows summed by their
// status key (rows.ts statusRowKey: over network namespaces, which are node-local, and over a
// workload's pods and interfaces), each row's merge key computed once, and every string shared
// through a pool. This is the reports cache's
// transform (controller-runtime's cache transforms serve the same purpose): 5,000 nodes of
// 200 rows would otherwise sit in memory as a million parsed JSON objects with their own
// copies of the same few hundred symbol names.
import type { Phase } from "../../api/droptrace.js";
import { describeFieldErrors, fieldErrors } from "../../api/field-errors.js";
import { DropTraceReportSchema, type KernelCounters } from "../../api/report.js";
import type { KernelCounterName } from "../../api/kernel-counters.js";
import { compareText, statusRowKey } from "../../api/rows.js";
import { rowWorkload, type WorkloadIdentity } from "../../api/attribution.js";
import { DROPTRACE } from "../../api/constants.js";
import { INVALID_REPORT_REASON } from "../../api/conditions.js";
import { MAX_MESSAGE_LENGTH } from "./limits.js";
import { agree, ownerOf, type OwnerAgreement } from "./owner-agreement.js";
import { MAX_STACK_ROWS, stackKey, type Stack } from "../../api/stacks.js";
import type { NotCounted, ProbeCost } from "../../api/probe-cost.js";
import { MAX_FLOW_ROWS, sumFlows, viewFlows, type ViewFlows } from "./flow-sums.js";

/** One status row's share from one node: a (symbol, module, reason, workload), or a (symbol, interface, module, reason, attribution) no workload owns. */
export interface ViewRow {
  /** The merge key (statusRowKey): equal keys are the same row on different nodes. */
  key: string;
  symbol: string;
  /** The row's interface; for a workload's row, the one with most drops on this node. */
  interface: string;
  module: string;
  reason: string;
  count: number;
  /** A workload's row that summed more than one interface on this node: each with its count. */
  interfaces?: { name: string; count: number }[];
  workload?: WorkloadIdentity;
  /** Distinct pods named in the rows summed here (a pod is on one node, so nodes' counts add up). */
  pods?: number;
  /** Whose the node's rows summed here are, as far as they agree (owner-agreement.ts); absent when none names anyone. */
  owner?: OwnerAgreement;
  /** The row's stacks, each by its frames joined (stacks.ts stackKey, interned: nodes share them); only on the report's top rows. */
  stacks?: ViewStack[];
  /** The node's flows of the rows summed here (flow-sums.ts); absent when none of them carried flow fields (an older agent). */
  flows?: ViewFlows;
}

export interface ViewStack {
  key: string;
  count: number;
}

/** What the controller keeps of a node's probe cost: enough to sum it and to name the busiest node. */
export type ViewProbeCost = Pick<ProbeCost, "hits" | "handlerNanoseconds" | "cpuPercent"> & { notCounted: NotCounted };

export interface ReportView {
  /** Only what the informer's cache needs to file the object. */
  metadata: { name: string; resourceVersion?: string };
  trace: string | undefined;
  /** uid of the DropTrace named in ownerReferences: a report of an earlier trace of the same name is not this one's. */
  traceUid: string | undefined;
  node: string;
  phase: Phase;
  reason?: string;
  message?: string;
  totalDrops: number;
  uncountedDrops: number;
  /** Drops the agent left out for the trace's pod filters; absent when it has none. */
  filteredDrops?: number;
  rows: ViewRow[];
  /** The node's kernel counters, summed over interfaces: a few numbers, not the report's list. */
  counters?: ViewCounters;
  probeCost?: ViewProbeCost;
}

export interface ViewCounters {
  byName: { name: KernelCounterName; count: number }[];
  unseenDrops: number;
  partlySeenDrops: number;
  checks: { counter: KernelCounterName; verdict: "agree" | "differ" | "notCompared" }[];
}

function viewCounters(counters: KernelCounters): ViewCounters {
  const byName = new Map<KernelCounterName, number>();
  for (const c of counters.counters) byName.set(c.name, (byName.get(c.name) ?? 0) + c.count);
  return {
    byName: [...byName].map(([name, count]) => ({ name, count })),
    unseenDrops: counters.unseenDrops,
    partlySeenDrops: counters.partlySeenDrops,
    checks: counters.checks.map((c) => ({ counter: c.counter, verdict: c.verdict })),
  };
}

const optionalOwner = (owner: OwnerAgreement | undefined) => (owner === undefined ? {} : { owner });

function viewStacks(stacks: readonly Stack[] | undefined, pool: StringPool): { stacks?: ViewStack[] } {
  if (stacks === undefined || stacks.length === 0) return {};
  return { stacks: stacks.map((s) => ({ key: pool.intern(stackKey(s.frames)), count: s.count })) };
}

/** Interns strings; cleared when full so it never grows without bound (sharing is an optimization only). */
export class StringPool {
  readonly #strings = new Map<string, string>();
  constructor(readonly max = 200_000) {}

  intern(text: string): string {
    const known = this.#strings.get(text);
    if (known !== undefined) return known;
    if (this.#strings.size >= this.max) this.#strings.clear();
    this.#strings.set(text, text);
    return text;
  }

  get size(): number {
    return this.#strings.size;
  }
}

interface Loose {
  metadata?: { name?: unknown; resourceVersion?: unknown; ownerReferences?: unknown };
  spec?: { trace?: unknown; node?: unknown };
}

function ownerUid(raw: Loose): string | undefined {
  const refs = raw.metadata?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  for (const ref of refs as { kind?: unknown; uid?: unknown }[]) {
    if (ref.kind === DROPTRACE.kind && typeof ref.uid === "string") return ref.uid;
  }
  return undefined;
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);

/**
 * The view of a report; undefined only when it has no name to file it under. A report that
 * does not match the schema becomes a Failed node with reason InvalidReport (and `invalid`
 * set), so it shows in status instead of vanishing.
 */
export function toReportView(raw: unknown, pool: StringPool): { view: ReportView; invalid?: string } | undefined {
  const loose = (typeof raw === "object" && raw !== null ? raw : {}) as Loose;
  const name = text(loose.metadata?.name);
  if (name === undefined) return undefined;
  const resourceVersion = text(loose.metadata?.resourceVersion);
  const metadata = { name, ...(resourceVersion === undefined ? {} : { resourceVersion }) };
  const parsed = DropTraceReportSchema.safeParse(raw);
  if (!parsed.success) {
    const invalid = describeFieldErrors(fieldErrors(parsed.error)).slice(0, MAX_MESSAGE_LENGTH);
    return {
      invalid,
      view: {
        metadata,
        trace: text(loose.spec?.trace),
        traceUid: ownerUid(loose),
        node: text(loose.spec?.node) ?? name,
        phase: "Failed",
        reason: INVALID_REPORT_REASON,
        message: `the node's report does not match the DropTraceReport schema: ${invalid}`.slice(0, MAX_MESSAGE_LENGTH),
        totalDrops: 0,
        uncountedDrops: 0,
        rows: [],
      },
    };
  }
  const report = parsed.data;
  const status = report.status;
  const rows = new Map<string, ViewRow>();
  // Only while this report is read: a workload's interfaces and pods on this node.
  const interfaces = new Map<string, Map<string, number>>();
  const pods = new Map<string, Set<string>>();
  const flowParts = new Map<string, ViewFlows[]>();
  const workloads = new WorkloadCache(pool);
  for (const [index, row] of (status?.rows ?? []).entries()) {
    // Only the report's top rows' stacks (its rows come largest first): the status shows no more, and the cache stays small whatever a report holds.
    const rowStacks = index < MAX_STACK_ROWS ? row.stacks : undefined;
    const key = pool.intern(statusRowKey(row));
    if (row.pod !== undefined) {
      const uids = pods.get(key) ?? new Set();
      uids.add(row.pod.uid);
      pods.set(key, uids);
    }
    const flows = viewFlows(row, index < MAX_FLOW_ROWS);
    if (flows !== undefined) {
      const parts = flowParts.get(key);
      if (parts === undefined) flowParts.set(key, [flows]);
      else parts.push(flows);
    }
    const workload = rowWorkload(row);
    if (workload !== undefined) {
      const byName = interfaces.get(key) ?? new Map<string, number>();
      byName.set(row.interface, (byName.get(row.interface) ?? 0) + row.count);
      interfaces.set(key, byName);
    }
    const existing = rows.get(key);
    if (existing !== undefined) {
      existing.count += row.count;
      const owner = agree(existing.owner, ownerOf(row));
      if (owner !== undefined) existing.owner = owner;
      // Rows merged here share one drop site and reason, so their stacks are the same ones: kept once.
      if (existing.stacks === undefined) Object.assign(existing, viewStacks(rowStacks, pool));
    } else {
      rows.set(key, {
        key,
        symbol: pool.intern(row.symbol),
        interface: pool.intern(row.interface),
        module: pool.intern(row.module),
        reason: pool.intern(row.reason),
        count: row.count,
        ...(workload === undefined ? {} : { workload: workloads.get(workload) }),
        ...optionalOwner(ownerOf(row)),
        ...viewStacks(rowStacks, pool),
      });
    }
  }
  // Rows summed here keep their most frequent flows over all of them; the rest count as other flows.
  for (const [key, parts] of flowParts) {
    const row = rows.get(key);
    if (row !== undefined) row.flows = parts.length === 1 && parts[0] !== undefined ? parts[0] : sumFlows(parts);
  }
  for (const [key, uids] of pods) {
    const row = rows.get(key);
    if (row !== undefined) row.pods = uids.size;
  }
  for (const [key, byName] of interfaces) {
    const row = rows.get(key);
    if (row === undefined) continue;
    const sorted = sortInterfaces(byName);
    row.interface = pool.intern(sorted[0]?.name ?? row.interface);
    if (sorted.length > 1) row.interfaces = sorted.map(({ name, count }) => ({ name: pool.intern(name), count }));
  }
  return {
    view: {
      metadata,
      trace: report.spec.trace,
      traceUid: ownerUid(loose),
      node: report.spec.node,
      // A report without status was created but not yet filled in: the agent is starting.
      phase: status?.phase ?? "Pending",
      ...(status?.reason === undefined ? {} : { reason: status.reason }),
      ...(status?.message === undefined ? {} : { message: status.message.slice(0, MAX_MESSAGE_LENGTH) }),
      totalDrops: status?.totalDrops ?? 0,
      uncountedDrops: status?.uncountedDrops ?? 0,
      ...(status?.filteredDrops === undefined ? {} : { filteredDrops: status.filteredDrops }),
      rows: [...rows.values()],
      ...(status?.kernelCounters === undefined ? {} : { counters: viewCounters(status.kernelCounters) }),
      ...(status?.probeCost === undefined
        ? {}
        : {
            probeCost: {
              hits: status.probeCost.hits,
              handlerNanoseconds: status.probeCost.handlerNanoseconds,
              cpuPercent: status.probeCost.cpuPercent,
              notCounted: status.probeCost.notCounted,
            },
          }),
    },
  };
}

/** Interfaces by count, most first; equal counts by name. */
export function sortInterfaces(byName: ReadonlyMap<string, number>): { name: string; count: number }[] {
  return [...byName].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count || compareText(a.name, b.name));
}

/** One object per workload in a report (a node runs a few dozen), its strings pooled. */
class WorkloadCache {
  readonly #byText = new Map<string, WorkloadIdentity>();
  constructor(readonly pool: StringPool) {}

  get(workload: WorkloadIdentity): WorkloadIdentity {
    const text = `${workload.namespace}\0${workload.kind}\0${workload.name}`;
    let known = this.#byText.get(text);
    if (known === undefined) {
      known = { kind: this.pool.intern(workload.kind), namespace: this.pool.intern(workload.namespace), name: this.pool.intern(workload.name) };
      this.#byText.set(text, known);
    }
    return known;
  }
}
