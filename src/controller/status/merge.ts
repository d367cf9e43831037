// Nodes' report rows summed into a DropTrace's status.drops: one row per status key (rows.ts
// statusRowKey: a workload's drops at one place and reason, or a place, interface and reason no
// workload owns) with the count over all nodes and the number of nodes it was seen on; the top N
// by count, in an order that never depends on which report arrived first. Each row's class
// comes from the controller's own table, not the reports', so one status never mixes the tables of
// two agent versions.
import type { DropRow } from "../../api/droptrace.js";
import { compareRows, compareText } from "../../api/rows.js";
import { formatWorkload } from "../../api/attribution.js";
import { MAX_ROW_INTERFACES } from "../../api/constants.js";
import { dropClass, isActionable } from "../../api/drop-explanations.js";
import { sortInterfaces, type ViewCounters, type ViewProbeCost, type ViewRow } from "./report-view.js";
import { agree, agreedOwner, type OwnerAgreement } from "./owner-agreement.js";
import type { KernelCountersStatus } from "../../api/droptrace.js";
import { compareStacks, MAX_STACK_ROWS, MAX_STACKS_PER_ROW, MAX_STATUS_STACK_BYTES, stacksOnTopRows, type Stack } from "../../api/stacks.js";
import { flowsWithinBudget, MAX_STATUS_FLOW_BYTES, statusFlows, sumFlowLists, type AddressNamer, type ViewFlow } from "./flow-sums.js";
import { addNotCounted, nanosecondsPerHit, type NotCounted, type ProbeCostStatus } from "../../api/probe-cost.js";

export interface NodeDrops {
  /** Already one row per merge key (report-view.ts sums network namespaces, a workload's pods and interfaces). */
  rows: readonly ViewRow[];
  totalDrops: number;
  uncountedDrops: number;
  /** Drops its agent left out for the trace's pod filters; absent when it has none. */
  filteredDrops?: number;
  counters?: ViewCounters;
  /** Names the busiest node in the summed probe cost. */
  node?: string;
  probeCost?: ViewProbeCost;
}

export interface MergedDrops {
  drops: DropRow[];
  /** Every drop the nodes counted, including rows beyond their cap ("other"). */
  totalDrops: number;
  uncountedDrops: number;
  /** Drops the nodes' pod filters left out, summed; absent while no node reported the count (no pod filter). */
  filteredDrops?: number;
  /** Distinct rows before the top N cut. */
  distinctRows: number;
  /** The first row, over all rows and not only the top N, whose reason is not usually normal. */
  topActionable: DropRow | undefined;
  /** The workload with the most drops over all rows, not only the top N: "Deployment shop/cart". */
  topWorkload?: string;
  /** The nodes' kernel counters summed; absent while no node has reported any. */
  kernelCounters?: KernelCountersStatus;
  /** The nodes' probe cost summed; absent while no node has reported it. */
  probeCost?: ProbeCostStatus;
}

/** A status row being summed, with what it needs only until the sums are done. */
interface Summing {
  row: DropRow;
  /** A workload's row over more than one interface: each one's count (its `interface` is the largest, set once summed). */
  interfaces?: Map<string, number>;
  /** Only for rows some node's row names someone in. */
  owner?: OwnerAgreement;
  /** Only for rows some node sent stacks for: each stack's key (its frames), summed over nodes. */
  stacks?: Map<string, number>;
  /** Only for rows some node sent flows for: their unparsed drops summed (so undefined: no flows). */
  unparsed?: number;
  /** Each node's listed flows, summed for the top rows only. */
  flowLists?: (readonly ViewFlow[])[];
}

export interface MergeOptions {
  /** Names the addresses of the top rows' flows; without it they stay unnamed. */
  addressName?: AddressNamer;
}

export function mergeReports(nodes: Iterable<NodeDrops>, topN: number, options: MergeOptions = {}): MergedDrops {
  const merged = new Map<string, Summing>();
  let totalDrops = 0;
  let uncountedDrops = 0;
  let filteredDrops: number | undefined;
  const counters = new CounterSums();
  const costs = new CostSums();
  for (const node of nodes) {
    totalDrops += node.totalDrops;
    uncountedDrops += node.uncountedDrops;
    if (node.filteredDrops !== undefined) filteredDrops = (filteredDrops ?? 0) + node.filteredDrops;
    if (node.counters !== undefined) counters.add(node.counters);
    if (node.probeCost !== undefined) costs.add(node.node ?? "", node.probeCost);
    for (const row of node.rows) {
      let summing = merged.get(row.key);
      if (summing === undefined) {
        summing = {
          row: {
            symbol: row.symbol,
            interface: row.interface,
            module: row.module,
            reason: row.reason,
            class: dropClass(row.reason),
            count: row.count,
            nodes: 1,
            ...(row.workload === undefined ? {} : { workload: row.workload }),
            ...(row.pods === undefined ? {} : { pods: row.pods }),
            // Part of the key of a row no workload owns, so known now: equal counts are ordered by it.
            ...(row.workload === undefined && typeof row.owner?.attribution === "string" ? { attribution: row.owner.attribution } : {}),
          },
        };
        if (row.interfaces !== undefined) summing.interfaces = addInterfaces(new Map(), row);
        if (row.owner !== undefined) summing.owner = row.owner;
        merged.set(row.key, summing);
      } else {
        const existing = summing;
        const sum = existing.row;
        // A workload's row: its interfaces are counted apart only once a second one shows up (most rows have one, eth0).
        if (sum.workload !== undefined && (existing.interfaces !== undefined || row.interfaces !== undefined || row.interface !== sum.interface)) {
          existing.interfaces = addInterfaces(existing.interfaces ?? new Map([[sum.interface, sum.count]]), row);
        }
        sum.count += row.count;
        sum.nodes += 1;
        if (row.pods !== undefined) sum.pods = (sum.pods ?? 0) + row.pods;
        // undefined: every row so far names no one (agree() counts that as disagreeing with a row that does).
        const owner = agree(existing.owner, row.owner);
        if (owner !== undefined) existing.owner = owner;
      }
      if (row.stacks !== undefined) {
        const sums = (summing.stacks ??= new Map<string, number>());
        for (const stack of row.stacks) sums.set(stack.key, (sums.get(stack.key) ?? 0) + stack.count);
      }
      if (row.flows !== undefined) {
        summing.unparsed = (summing.unparsed ?? 0) + row.flows.unparsed;
        // Most rows list none (beyond a report's first rows): no array entry for them.
        if (row.flows.list.length > 0) (summing.flowLists ??= []).push(row.flows.list);
      }
    }
  }
  // A workload's row is ordered by its largest interface: known before the top N are chosen.
  for (const summing of merged.values()) {
    if (summing.interfaces === undefined) continue;
    const sorted = sortInterfaces(summing.interfaces);
    summing.row.interface = sorted[0]?.name ?? summing.row.interface;
    if (sorted.length > 1) summing.row.interfaces = sorted.slice(0, MAX_ROW_INTERFACES);
  }
  let topActionable: DropRow | undefined;
  for (const { row } of merged.values()) {
    if (isActionable(row) && (topActionable === undefined || compareRows(row, topActionable) < 0)) topActionable = row;
  }
  const topWorkload = largestWorkload(merged.values());
  // Owners, stacks and flows are added to the top rows only: the rest are dropped anyway.
  const ranked = topBy(merged.values(), topN, (a, b) => compareRows(a.row, b.row)).map(({ row, owner, stacks, unparsed, flowLists }, index) => {
    const rowStacks = index < MAX_STACK_ROWS ? topStacks(stacks) : undefined;
    return {
      ...row,
      ...(owner === undefined ? {} : agreedOwner(owner)),
      ...(rowStacks === undefined ? {} : { stacks: rowStacks }),
      ...(unparsed === undefined ? {} : statusFlows(sumFlowLists(flowLists ?? [], unparsed), row.count, options.addressName)),
    };
  });
  const drops = stacksOnTopRows(flowsWithinBudget(ranked, MAX_STATUS_FLOW_BYTES), MAX_STATUS_STACK_BYTES);
  const kernelCounters = counters.status();
  const probeCost = costs.status();
  return {
    drops,
    totalDrops,
    uncountedDrops,
    ...(filteredDrops === undefined ? {} : { filteredDrops }),
    distinctRows: merged.size,
    topActionable,
    ...(topWorkload === undefined ? {} : { topWorkload }),
    ...(kernelCounters === undefined ? {} : { kernelCounters }),
    ...(probeCost === undefined ? {} : { probeCost }),
  };
}

function addInterfaces(sums: Map<string, number>, row: ViewRow): Map<string, number> {
  for (const { name, count } of row.interfaces ?? [{ name: row.interface, count: row.count }]) sums.set(name, (sums.get(name) ?? 0) + count);
  return sums;
}

/** The workload whose rows hold the most drops; equal sums by name, so the answer never depends on report order. */
function largestWorkload(rows: Iterable<Summing>): string | undefined {
  // By namespace, kind and name, each a pooled string: no key is built for each of (at 5,000 nodes) 200,000 rows.
  const sums = new Map<string, Map<string, Map<string, number>>>();
  for (const { row } of rows) {
    const w = row.workload;
    if (w === undefined) continue;
    let kinds = sums.get(w.namespace);
    if (kinds === undefined) sums.set(w.namespace, (kinds = new Map<string, Map<string, number>>()));
    let names = kinds.get(w.kind);
    if (names === undefined) kinds.set(w.kind, (names = new Map<string, number>()));
    names.set(w.name, (names.get(w.name) ?? 0) + row.count);
  }
  let best: { text: string; count: number } | undefined;
  for (const [namespace, kinds] of sums) {
    for (const [kind, names] of kinds) {
      for (const [name, count] of names) {
        if (best !== undefined && count < best.count) continue;
        const text = formatWorkload({ kind, namespace, name });
        if (best === undefined || count > best.count || compareText(text, best.text) < 0) best = { text, count };
      }
    }
  }
  return best?.text;
}

/** Summed stacks, the most frequent first; frames are split back out of their keys only here, for the few kept. */
function topStacks(sums: ReadonlyMap<string, number> | undefined): Stack[] | undefined {
  if (sums === undefined || sums.size === 0) return undefined;
  return [...sums]
    .map(([key, count]): Stack => ({ count, frames: key.split("\n") }))
    .sort(compareStacks)
    .slice(0, MAX_STACKS_PER_ROW);
}

/** Probe cost over nodes: hits and handler time summed; the share is per node, so the highest is kept, with its node. */
class CostSums {
  #nodes = 0;
  #hits = 0;
  #ns = 0;
  #busiest: { node: string; cpuPercent: number } | undefined;
  #notCounted: NotCounted = { mapFull: 0, skipped: 0, stackTableFull: 0 };

  add(node: string, cost: ViewProbeCost): void {
    this.#nodes += 1;
    this.#hits += cost.hits;
    this.#ns += cost.handlerNanoseconds;
    this.#notCounted = addNotCounted(this.#notCounted, cost.notCounted);
    // Ties go to the node whose name sorts first, so the answer never depends on which report came first.
    const busiest = this.#busiest;
    if (busiest === undefined || cost.cpuPercent > busiest.cpuPercent || (cost.cpuPercent === busiest.cpuPercent && node < busiest.node)) {
      this.#busiest = { node, cpuPercent: cost.cpuPercent };
    }
  }

  status(): ProbeCostStatus | undefined {
    if (this.#busiest === undefined) return undefined;
    return {
      nodes: this.#nodes,
      hits: this.#hits,
      handlerNanoseconds: this.#ns,
      nanosecondsPerHit: nanosecondsPerHit(this.#ns, this.#hits),
      cpuPercent: this.#busiest.cpuPercent,
      busiestNode: this.#busiest.node,
      notCounted: { ...this.#notCounted },
    };
  }
}

/** Kernel counters over nodes: each counter's sum and how many nodes counted it, each check's verdicts. */
class CounterSums {
  #nodes = 0;
  #unseen = 0;
  #partly = 0;
  readonly #byName = new Map<string, { count: number; nodes: number }>();
  readonly #checks = new Map<string, { agree: number; differ: number; notCompared: number }>();

  add(node: ViewCounters): void {
    this.#nodes += 1;
    this.#unseen += node.unseenDrops;
    this.#partly += node.partlySeenDrops;
    for (const c of node.byName) {
      const sum = this.#byName.get(c.name) ?? { count: 0, nodes: 0 };
      sum.count += c.count;
      sum.nodes += 1;
      this.#byName.set(c.name, sum);
    }
    for (const c of node.checks) {
      const verdicts = this.#checks.get(c.counter) ?? { agree: 0, differ: 0, notCompared: 0 };
      verdicts[c.verdict] += 1;
      this.#checks.set(c.counter, verdicts);
    }
  }

  status(): KernelCountersStatus | undefined {
    if (this.#nodes === 0) return undefined;
    return {
      nodes: this.#nodes,
      unseenDrops: this.#unseen,
      partlySeenDrops: this.#partly,
      counters: [...this.#byName]
        .map(([name, sum]) => ({ name, ...sum }) as KernelCountersStatus["counters"][number])
        .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      checks: [...this.#checks].map(([counter, v]) => ({ counter, ...v }) as KernelCountersStatus["checks"][number]),
    };
  }
}

/** The first `n` rows in compareRows order, without sorting them all (there may be a million). */
export function topRows(rows: Iterable<DropRow>, n: number): DropRow[] {
  return topBy(rows, n, compareRows);
}

/** The first `n` items in `compare` order, without sorting them all. */
function topBy<T>(items: Iterable<T>, n: number, compare: (a: T, b: T) => number): T[] {
  const top: T[] = [];
  if (n <= 0) return top;
  for (const item of items) {
    const last = top[top.length - 1];
    if (top.length === n && last !== undefined && compare(item, last) >= 0) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const probe = top[mid];
      if (probe !== undefined && compare(probe, item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, item);
    if (top.length > n) top.pop();
  }
  return top;
}
