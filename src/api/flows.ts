// The flows behind a row's drops: source and destination address, protocol and ports, with
// counts. Shared by the agent, which keeps a row's most frequent flows from the probe's F records,
// the controller, which sums them across nodes and names their addresses, and whatever prints
// them. crds/ must agree (test/api proves it).
//
// The probe reads the network and transport headers of the dropped packet where the kernel had
// set them and they lie inside the packet's linear data; a drop whose packet has none it can
// read is counted in its row and in the row's unparsedFlows, never lost.
import { z } from "zod";
import { compareText } from "./rows.js";

/** Flows a row keeps, in a node's report and in a DropTrace's status: the most frequent. */
export const MAX_FLOWS_PER_ROW = 5;

/** Protocols by name; any other IP protocol number is `IP-<n>`. */
export const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 132: "SCTP" };
/** Protocols whose first four header bytes are the source and destination ports. */
export const PORT_PROTOCOLS: ReadonlySet<number> = new Set([6, 17, 132]);
export const PROTOCOL_PATTERN = "^(TCP|UDP|SCTP|ICMP|ICMPv6|IP-[0-9]{1,3})$";

/** The longest text form of an address: an IPv6 address with an embedded IPv4 one. */
export const MAX_ADDRESS_LENGTH = 45;
/** The longest name of an address: "svc/<namespace 63>/<name 253>". */
export const MAX_ADDRESS_NAME_LENGTH = 320;

export const FlowEndpointSchema = z.strictObject({
  /** The address as the packet carried it: IPv4 dotted, IPv6 in its RFC 5952 form. */
  address: z.string().min(2).max(MAX_ADDRESS_LENGTH),
  /** TCP, UDP and SCTP only. */
  port: z.number().int().min(0).max(65535).optional(),
  /**
   * Whose the address is, named by the controller when it merges: `namespace/pod` for a pod's IP,
   * `svc/namespace/name` for a Service's cluster IP, `node` for a node's own address; absent when
   * nothing in the cluster has it.
   */
  name: z.string().min(1).max(MAX_ADDRESS_NAME_LENGTH).optional(),
});
export type FlowEndpoint = z.infer<typeof FlowEndpointSchema>;

export const FlowSchema = z.strictObject({
  protocol: z.string().regex(new RegExp(PROTOCOL_PATTERN)),
  source: FlowEndpointSchema,
  destination: FlowEndpointSchema,
  /** Drops of the row that were of this flow. */
  count: z.number().int().min(0),
});
export type Flow = z.infer<typeof FlowSchema>;

export const FlowsSchema = z.array(FlowSchema).max(MAX_FLOWS_PER_ROW);

/**
 * The fields a row (report or status) has about its flows, all optional: rows of an agent older
 * than flows have none. A row's count = the listed flows' counts + unparsedFlows + otherFlows.
 */
export const RowFlowsShape = {
  /** The row's most frequent flows, most first (at most MAX_FLOWS_PER_ROW). */
  flows: FlowsSchema.optional(),
  /** Drops of the row whose packet had no network header the probe could read (no IP, unset or outside the data). */
  unparsedFlows: z.number().int().min(0).optional(),
  /** Drops of the row in flows not listed: beyond the top ones, or not stored because the node's flow table was full. */
  otherFlows: z.number().int().min(0).optional(),
};

export interface RowFlows {
  flows?: Flow[];
  unparsedFlows?: number;
  otherFlows?: number;
}

/** Protocol number to its name in Flow.protocol. */
export function protocolName(protocol: number): string {
  return PROTOCOL_NAMES[protocol] ?? `IP-${protocol}`;
}

/** One key per distinct flow, its names aside (names are the controller's, and may differ in time). */
export function flowKey(flow: Flow): string {
  return `${flow.protocol} ${flow.source.address} ${flow.source.port ?? ""} ${flow.destination.address} ${flow.destination.port ?? ""}`;
}

/** Most frequent first; equal counts by their key, so the same flows always list the same way. */
export function compareFlows(a: Flow, b: Flow): number {
  return b.count - a.count || compareText(flowKey(a), flowKey(b));
}

/**
 * Flows with the same key summed, the `max` most frequent kept; `dropped` is the sum of the ones
 * left out (they belong in otherFlows). A flow keeps the first name any list gave its addresses.
 */
export function mergeFlows(lists: Iterable<readonly Flow[]>, max: number = MAX_FLOWS_PER_ROW): { flows: Flow[]; dropped: number } {
  const byKey = new Map<string, Flow>();
  for (const list of lists) {
    for (const flow of list) {
      const key = flowKey(flow);
      const had = byKey.get(key);
      if (had === undefined) {
        byKey.set(key, { ...flow, source: { ...flow.source }, destination: { ...flow.destination } });
        continue;
      }
      had.count += flow.count;
      if (had.source.name === undefined && flow.source.name !== undefined) had.source.name = flow.source.name;
      if (had.destination.name === undefined && flow.destination.name !== undefined) had.destination.name = flow.destination.name;
    }
  }
  const all = [...byKey.values()].sort(compareFlows);
  const flows = all.slice(0, max);
  let dropped = 0;
  for (const flow of all.slice(max)) dropped += flow.count;
  return { flows, dropped };
}

/** "UDP 10.1.2.3:5353 -> 10.1.4.7:9", names in parentheses where known: how tables and describe print a flow. */
export function formatFlow(flow: Flow): string {
  return `${flow.protocol} ${endpointText(flow.source)} -> ${endpointText(flow.destination)}`;
}

function endpointText(endpoint: FlowEndpoint): string {
  const address = endpoint.address.includes(":") && endpoint.port !== undefined ? `[${endpoint.address}]` : endpoint.address;
  const withPort = endpoint.port === undefined ? address : `${address}:${endpoint.port}`;
  return endpoint.name === undefined ? withPort : `${withPort} (${endpoint.name})`;
}
