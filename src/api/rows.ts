// The one identity and the one order of drop rows, in a node's report and in a DropTrace's
// status. Every place that sums, caps or lists rows uses these, so a row is the same row, and
// equal counts list the same way, on every node, in the controller and in `droptrace run`.

/** What makes a row a row across nodes: where the kernel dropped, on which interface, why. */
export interface RowIdentity {
  readonly symbol: string;
  readonly interface: string;
  readonly module: string;
  readonly reason: string;
}

/**
 * Key of a row across nodes (a DropTrace's status): network namespaces are node-local inodes,
 * so rows that differ only in netns are one row there.
 */
export function rowKey(row: RowIdentity): string {
  return `${row.symbol}\0${row.interface}\0${row.module}\0${row.reason}`;
}

/** Key of a row on one node (its report): the network namespace tells two pods' eth0 apart. */
export function nodeRowKey(row: RowIdentity & { readonly netns: number }): string {
  return `${rowKey(row)}\0${row.netns}`;
}

/**
 * Largest count first; ties by symbol, interface, netns (where rows have one), module and
 * reason, so equal counts always list the same way.
 */
export function compareRows(
  a: RowIdentity & { readonly count: number; readonly netns?: number },
  b: RowIdentity & { readonly count: number; readonly netns?: number },
): number {
  return (
    b.count - a.count ||
    compareText(a.symbol, b.symbol) ||
    compareText(a.interface, b.interface) ||
    (a.netns ?? 0) - (b.netns ?? 0) ||
    compareText(a.module, b.module) ||
    compareText(a.reason, b.reason)
  );
}

/** Code-unit order, not localeCompare: the order must not depend on the locale of a node's or the controller's image. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
