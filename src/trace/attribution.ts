// Names applied to a trace's rows when they are reported: whose each row's network namespace
// is. The probe counts by namespace inode alone; names come from an Attributor, refreshed
// before each report, so a namespace named late is named in every later report and a count is
// never held back or lost waiting for a name.
import type { RowAttribution } from "../api/attribution.js";
import type { DropTraceReportStatus, ReportRow } from "../api/report.js";

export interface Attributor {
  /** Re-reads who owns which namespace. Never throws: what went wrong shows in notes(). */
  refresh(): Promise<void>;
  /** The attribution of a row in namespace `netns` (0: the packet had no device, so no namespace). */
  owner(netns: number): RowAttribution;
  /** Why some rows could not be named, for the report's message; empty when nothing stood in the way. */
  notes(): readonly string[];
}

const UNKNOWN: RowAttribution = { attribution: "unknown" };

/**
 * `rows` with each one's attribution. A row that already carries a name (counted before an
 * agent restart, named then) keeps it when the attributor now knows nothing better.
 */
export function attributeRows(rows: readonly ReportRow[], attributor: Attributor): ReportRow[] {
  return rows.map((row) => {
    const found = row.netns === 0 ? UNKNOWN : attributor.owner(row.netns);
    if (found.attribution === "unknown" && row.attribution !== undefined && row.attribution !== "unknown") return row;
    // The row with the names found now, none of the names it had before.
    const renamed: ReportRow = { ...row };
    delete renamed.attribution;
    delete renamed.pod;
    delete renamed.workload;
    delete renamed.container;
    return { ...renamed, ...found };
  });
}

/** A report's status with its rows named and, where names are missing for a reason, the reason in its message. */
export function attributeStatus(status: DropTraceReportStatus, attributor: Attributor): DropTraceReportStatus {
  const rows = attributeRows(status.rows, attributor);
  const notes = rows.some((row) => row.attribution === "unknown") ? attributor.notes() : [];
  if (notes.length === 0) return { ...status, rows };
  const message = [...(status.message === undefined ? [] : [status.message]), ...notes].join("; ").slice(0, 4096);
  return { ...status, message, rows };
}

/** A namespace's owner as last seen, kept after its processes are gone: a pod that ended mid-trace keeps its name. */
export class RememberedOwners {
  readonly #owners = new Map<number, RowAttribution>();
  constructor(readonly max = 10_000) {}

  remember(netns: number, owner: RowAttribution): void {
    if (owner.attribution === "unknown") return;
    // Bounded: oldest first out. A node sees far fewer namespaces than this in a trace's day.
    if (!this.#owners.has(netns) && this.#owners.size >= this.max) {
      const oldest = this.#owners.keys().next().value;
      if (oldest !== undefined) this.#owners.delete(oldest);
    }
    this.#owners.set(netns, owner);
  }

  get(netns: number): RowAttribution | undefined {
    return this.#owners.get(netns);
  }
}
