// Nodes' report rows summed into a DropTrace's status.drops: one row per (symbol, interface,
// module, reason) with the count over all nodes and the number of nodes it was seen on; the
// top N by count, in an order that never depends on which report arrived first. Each row's class
// comes from the controller's own table, not the reports', so one status never mixes the tables of
// two agent versions.
import type { DropRow } from "../../api/droptrace.js";
import { compareRows, rowKey } from "../../api/rows.js";
import { dropClass, isActionable } from "../../api/drop-explanations.js";
import type { ViewCounters, ViewProbeCost, ViewRow } from "./report-view.js";
import { agree, agreedOwner, type OwnerAgreement } from "./owner-agreement.js";
import type { KernelCountersStatus } from "../../api/droptrace.js";
import { compareStacks, MAX_STACK_ROWS, MAX_STACKS_PER_ROW, MAX_STATUS_STACK_BYTES, stacksOnTopRows, type Stack } from "../../api/stacks.js";
import { addNotCounted, nanosecondsPerHit, type NotCounted, type ProbeCostStatus } from "../../api/probe-cost.js";

export interface NodeDrops {
  /** Already one row per merge key (report-view.ts sums network namespaces). */
  rows: readonly ViewRow[];
  totalDrops: number;
  uncountedDrops: number;
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
  /** Distinct rows before the top N cut. */
  distinctRows: number;
  /** The first row, over all rows and not only the top N, whose reason is not usually normal. */
  topActionable: DropRow | undefined;
  /** The nodes' kernel counters summed; absent while no node has reported any. */
  kernelCounters?: KernelCountersStatus;
  /** The nodes' probe cost summed; absent while no node has reported it. */
  probeCost?: ProbeCostStatus;
}

export function mergeReports(nodes: Iterable<NodeDrops>, topN: number): MergedDrops {
  const merged = new Map<string, DropRow>();
  // Only for rows some node's row names someone in.
  const owners = new Map<string, OwnerAgreement>();
  let totalDrops = 0;
  let uncountedDrops = 0;
  const counters = new CounterSums();
  const costs = new CostSums();
  // By merge key, then stack key: each node's stacks of the row, summed (only rows some node sent stacks for).
  const stacks = new Map<string, Map<string, number>>();
  for (const node of nodes) {
    totalDrops += node.totalDrops;
    uncountedDrops += node.uncountedDrops;
    if (node.counters !== undefined) counters.add(node.counters);
    if (node.probeCost !== undefined) costs.add(node.node ?? "", node.probeCost);
    for (const row of node.rows) {
      if (row.stacks !== undefined) {
        const sums = stacks.get(row.key) ?? new Map<string, number>();
        for (const stack of row.stacks) sums.set(stack.key, (sums.get(stack.key) ?? 0) + stack.count);
        stacks.set(row.key, sums);
      }
      const existing = merged.get(row.key);
      if (existing === undefined) {
        merged.set(row.key, {
          symbol: row.symbol,
          interface: row.interface,
          module: row.module,
          reason: row.reason,
          class: dropClass(row.reason),
          count: row.count,
          nodes: 1,
        });
        if (row.owner !== undefined) owners.set(row.key, row.owner);
      } else {
        existing.count += row.count;
        existing.nodes += 1;
        // undefined: every row so far names no one (agree() counts that as disagreeing with a row that does).
        const owner = agree(owners.get(row.key), row.owner);
        if (owner !== undefined) owners.set(row.key, owner);
      }
    }
  }
  let topActionable: DropRow | undefined;
  for (const row of merged.values()) {
    if (isActionable(row) && (topActionable === undefined || compareRows(row, topActionable) < 0)) topActionable = row;
  }
  // Owners and stacks are added to the top rows only: the rest are dropped anyway.
  const ranked = topRows(merged.values(), topN).map((row, index) => {
    const key = rowKey(row);
    const owner = owners.get(key);
    const rowStacks = index < MAX_STACK_ROWS ? topStacks(stacks.get(key)) : undefined;
    return {
      ...row,
      ...(owner === undefined ? {} : agreedOwner(owner)),
      ...(rowStacks === undefined ? {} : { stacks: rowStacks }),
    };
  });
  const drops = stacksOnTopRows(ranked, MAX_STATUS_STACK_BYTES);
  const kernelCounters = counters.status();
  const probeCost = costs.status();
  return {
    drops,
    totalDrops,
    uncountedDrops,
    distinctRows: merged.size,
    topActionable,
    ...(kernelCounters === undefined ? {} : { kernelCounters }),
    ...(probeCost === undefined ? {} : { probeCost }),
  };
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
  const top: DropRow[] = [];
  if (n <= 0) return top;
  for (const row of rows) {
    const last = top[top.length - 1];
    if (top.length === n && last !== undefined && compareRows(row, last) >= 0) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const probe = top[mid];
      if (probe !== undefined && compareRows(probe, row) <= 0) lo = mid + 1;
      else hi = mid;
    }
    top.splice(lo, 0, row);
    if (top.length > n) top.pop();
  }
  return top;
}
