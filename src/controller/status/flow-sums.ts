// A row's flows as the controller keeps and sums them: each flow by its key (flows.ts flowKey,
// which holds all of its identity) and count, not as three objects, because 5,000 nodes of 200
// rows with 5 flows each are five million flows in the reports cache. Flows become objects again
// only on the status's top rows, where their addresses are named.
import { compareText } from "../../api/rows.js";
import { flowKey, MAX_FLOWS_PER_ROW, type Flow, type FlowEndpoint, type RowFlows } from "../../api/flows.js";

/**
 * A report keeps the listed flows of its first (largest) rows only, as it keeps their stacks: the
 * status shows flows on its top rows, which are the nodes' top rows, and a cache of 5,000 nodes
 * with 5 flows on each of 200 rows would be about a GiB. A lower row's listed flows count in its
 * status row's otherFlows (its unparsed drops stay counted as such), so a status row's count
 * still equals its flows, unparsed and other drops.
 */
export const MAX_FLOW_ROWS = 20;

/** Bytes of flows (as JSON) a status carries at most, over all its rows. */
export const MAX_STATUS_FLOW_BYTES = 128 * 1024;

/** What a row beyond MAX_FLOW_ROWS keeps when it had no unparsed drops: one shared object. */
const UNLISTED: ViewFlows = Object.freeze({ list: Object.freeze([]) as unknown as ViewFlow[], unparsed: 0 });

export interface ViewFlow {
  key: string;
  count: number;
}

/** A row's flows from one node. */
export interface ViewFlows {
  /** Most frequent first, at most MAX_FLOWS_PER_ROW. */
  list: ViewFlow[];
  unparsed: number;
}

/** Names of addresses (`namespace/pod`, `svc/namespace/name`, `node`); undefined for an address the cluster does not know. */
export type AddressNamer = (address: string) => string | undefined;

/**
 * The flows of a report row, or undefined for a row of an agent older than flows (it has none of
 * the fields); `listed` false for a row beyond the report's first MAX_FLOW_ROWS.
 */
export function viewFlows(
  row: {
    flows?: readonly Flow[] | undefined;
    unparsedFlows?: number | undefined;
    otherFlows?: number | undefined;
  },
  listed: boolean,
): ViewFlows | undefined {
  if (row.flows === undefined && row.unparsedFlows === undefined && row.otherFlows === undefined) return undefined;
  const unparsed = row.unparsedFlows ?? 0;
  if (!listed) return unparsed === 0 ? UNLISTED : { list: UNLISTED.list, unparsed };
  return { list: (row.flows ?? []).map((flow) => ({ key: flat(flowKey(flow)), count: flow.count })), unparsed };
}

/**
 * The key as one flat string. A template literal makes a tree of string pieces that keeps every
 * piece (and the parsed report's strings) alive; a million of them in the cache were most of 1.9
 * GiB in the benchmark. Keys are ASCII, so latin1 copies them exactly.
 */
function flat(key: string): string {
  return Buffer.from(key, "latin1").toString("latin1");
}

/** Flows with the same key summed, the most frequent `max` kept (the rest end up in otherFlows, as what the row's count leaves). */
export function sumFlows(parts: readonly ViewFlows[], max: number = MAX_FLOWS_PER_ROW): ViewFlows {
  let unparsed = 0;
  for (const part of parts) unparsed += part.unparsed;
  return sumFlowLists(
    parts.map((part) => part.list),
    unparsed,
    max,
  );
}

/** sumFlows over lists whose unparsed drops are summed already. */
export function sumFlowLists(lists: Iterable<readonly ViewFlow[]>, unparsed: number, max: number = MAX_FLOWS_PER_ROW): ViewFlows {
  const sums = new Map<string, number>();
  for (const list of lists) for (const { key, count } of list) sums.set(key, (sums.get(key) ?? 0) + count);
  // flows.ts compareFlows' order: most first, equal counts by key.
  const list = [...sums]
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || compareText(a.key, b.key))
    .slice(0, max);
  return { list, unparsed };
}

/**
 * The status row's three flow fields: the listed flows named, and otherFlows as what the row's
 * count leaves, so count = listed + unparsedFlows + otherFlows holds for every row. That counts
 * in otherFlows the flows cut beyond the top ones, those a node's flow table had no room for, and
 * the drops of an older agent's rows merged into a row other agents sent flows for.
 */
export function statusFlows(flows: ViewFlows, count: number, name: AddressNamer | undefined): Required<RowFlows> {
  let listed = 0;
  for (const flow of flows.list) listed += flow.count;
  return {
    flows: flows.list.map((flow) => flowOfKey(flow, name)),
    unparsedFlows: flows.unparsed,
    // Never negative, even for a report whose flows claim more than its row counted.
    otherFlows: Math.max(0, count - listed - flows.unparsed),
  };
}

/** The inverse of flowKey: "<protocol> <source> <port or empty> <destination> <port or empty>". */
function flowOfKey({ key, count }: ViewFlow, name: AddressNamer | undefined): Flow {
  const [protocol = "", source = "", sourcePort = "", destination = "", destinationPort = ""] = key.split(" ");
  return { protocol, source: endpoint(source, sourcePort, name), destination: endpoint(destination, destinationPort, name), count };
}

function endpoint(address: string, port: string, name: AddressNamer | undefined): FlowEndpoint {
  const named = name?.(address);
  return { address, ...(port === "" ? {} : { port: Number(port) }), ...(named === undefined ? {} : { name: named }) };
}

/**
 * The flows a status has room for: top rows first, until their flows' JSON reaches `maxBytes`;
 * each later row lists none and counts its flows as other flows. 200 rows of 5 named flows are
 * about 210 KiB, which with the rest of a status would pass the 256 KiB it should stay under.
 */
export function flowsWithinBudget<T extends { flows?: Flow[] | undefined; otherFlows?: number | undefined; count: number }>(rows: T[], maxBytes: number): T[] {
  let used = 0;
  return rows.map((row) => {
    const flows = row.flows;
    if (flows === undefined || flows.length === 0) return row;
    used += Buffer.byteLength(JSON.stringify(flows));
    if (used <= maxBytes) return row;
    let listed = 0;
    for (const flow of flows) listed += flow.count;
    return { ...row, flows: [], otherFlows: (row.otherFlows ?? 0) + listed };
  });
}
