// A row's flows as the controller keeps and sums them: each flow by its key (flows.ts flowKey,
// which holds all of its identity) and count, not as three objects, because 5,000 nodes of 200
// rows with 5 flows each are five million flows in the reports cache. Flows become objects again
// only on the status's top rows, where their addresses are named.
import { compareText } from "../../api/rows.js";
import { flowKey, MAX_FLOWS_PER_ROW, type Flow, type FlowEndpoint, type RowFlows } from "../../api/flows.js";

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

/** The flows of a report row, or undefined for a row of an agent older than flows (it has none of the fields). */
export function viewFlows(row: {
  flows?: readonly Flow[] | undefined;
  unparsedFlows?: number | undefined;
  otherFlows?: number | undefined;
}): ViewFlows | undefined {
  if (row.flows === undefined && row.unparsedFlows === undefined && row.otherFlows === undefined) return undefined;
  return { list: (row.flows ?? []).map((flow) => ({ key: flowKey(flow), count: flow.count })), unparsed: row.unparsedFlows ?? 0 };
}

/** Flows with the same key summed, the most frequent `max` kept (the rest end up in otherFlows, as what the row's count leaves). */
export function sumFlows(parts: Iterable<ViewFlows>, max: number = MAX_FLOWS_PER_ROW): ViewFlows {
  const sums = new Map<string, number>();
  let unparsed = 0;
  for (const part of parts) {
    unparsed += part.unparsed;
    for (const { key, count } of part.list) sums.set(key, (sums.get(key) ?? 0) + count);
  }
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
