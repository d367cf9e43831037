// The one identity and the one order of drop rows, in a node's report and in a DropTrace's
// status. Every place that sums, caps or lists rows uses these, so a row is the same row, and
// equal counts list the same way, on every node, in the controller and in `droptrace run`.
import { rowWorkload } from "./attribution.js";

/** What makes a row a row across nodes: where the kernel dropped, on which interface, why. */
export interface RowIdentity {
  readonly symbol: string;
  readonly interface: string;
  readonly module: string;
  readonly reason: string;
}

/**
 * Where a row's drops happened, without the node-local network namespace: part of
 * statusRowKey (below) for rows no workload owns.
 */
export function rowKey(row: RowIdentity): string {
  return `${row.symbol}\0${row.interface}\0${row.module}\0${row.reason}`;
}

/** Whose a row is, as far as its identity in a DropTrace's status cares (report and status rows both fit). */
export interface RowOwnerIdentity {
  readonly attribution?: string | undefined;
  readonly pod?: { readonly namespace: string } | undefined;
  readonly workload?: { readonly kind: string; readonly name: string; readonly namespace?: string } | undefined;
}

/**
 * Key of a row in a DropTrace's status (issue 11: "Deployment `cart` dropped 1,200 at `udp_rcv`
 * as `NO_SOCKET` on 3 nodes"). A row with a workload is keyed by (symbol, module, reason,
 * workload): its pods' eth0s on every node are one row, whatever interface each drop was on (the
 * status row keeps the interfaces it summed). A row without one (the node's own namespace, a
 * namespace no pod owns, or an agent older than attribution) is keyed by what it has: its place,
 * interface included, and how it was attributed, so `host` drops on `lo` stay apart from
 * `unknown` drops on `lo` and from `host` drops on `eth0`.
 */
export function statusRowKey(row: RowIdentity & RowOwnerIdentity): string {
  const workload = rowWorkload(row);
  if (workload !== undefined) return `${row.symbol}\0${row.module}\0${row.reason}\0${workload.namespace}\0${workload.kind}\0${workload.name}`;
  return `${rowKey(row)}\0\0${row.attribution ?? ""}`;
}

/**
 * Key of a row on one node (its report): the network namespace tells two pods' eth0 apart, the
 * socket's cgroup two host-network pods' drops in the node's own namespace.
 */
export function nodeRowKey(row: RowIdentity & { readonly netns: number; readonly socketCgroup?: number | undefined }): string {
  return `${rowKey(row)}\0${row.netns}\0${row.socketCgroup ?? 0}`;
}

/**
 * Largest count first; ties by symbol, interface, netns (where rows have one), module, reason
 * and owner (workload, else attribution), so equal counts always list the same way.
 */
export function compareRows(
  a: RowIdentity & RowOwnerIdentity & { readonly count: number; readonly netns?: number },
  b: RowIdentity & RowOwnerIdentity & { readonly count: number; readonly netns?: number },
): number {
  return (
    b.count - a.count ||
    compareText(a.symbol, b.symbol) ||
    compareText(a.interface, b.interface) ||
    (a.netns ?? 0) - (b.netns ?? 0) ||
    compareText(a.module, b.module) ||
    compareText(a.reason, b.reason) ||
    compareText(ownerOrder(a), ownerOrder(b))
  );
}

function ownerOrder(row: RowOwnerIdentity): string {
  const workload = rowWorkload(row);
  return workload === undefined ? (row.attribution ?? "") : `${workload.namespace}/${workload.kind}/${workload.name}`;
}

/** Code-unit order, not localeCompare: the order must not depend on the locale of a node's or the controller's image. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
