// Names applied to a trace's rows when they are reported: whose each row's network namespace
// is, or, for a row in the node's own namespace (or in none), whose the packet's socket was. The
// probe counts by namespace inode and socket cgroup ID; names come from an Attributor, refreshed
// before each report, so a namespace named late is named in every later report and a count is
// never held back or lost waiting for a name.
import type { RowAttribution } from "../api/attribution.js";
import type { DropTraceReportStatus, ReportRow } from "../api/report.js";
import { scanNetworkNamespaces, type NetnsScan } from "./netns-scan.js";
import { scanCgroupIds, type CgroupIds } from "./cgroup-ids.js";

export interface Attributor {
  /** Re-reads who owns which namespace. Never throws: what went wrong shows in notes(). */
  refresh(): Promise<void>;
  /**
   * The attribution of a row in namespace `netns` (0: the packet had no device, so no namespace)
   * whose packets carried a socket of cgroup `socketCgroup` (0: none).
   */
  owner(netns: number, socketCgroup?: number): RowAttribution;
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
    const found = attributor.owner(row.netns, row.socketCgroup ?? 0);
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
  // Notes matter where a name is missing: a row no one owns, or a socket in the node's namespace left unnamed.
  const unnamed = rows.some((row) => row.attribution === "unknown" || ((row.socketCgroup ?? 0) !== 0 && row.attribution === "host"));
  const notes = unnamed ? attributor.notes() : [];
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

/**
 * An Attributor over a scan of a /proc (netns-scan.ts): each refresh scans it again and
 * remembers every namespace it can name; a namespace it cannot name now keeps the name it had.
 * Subclasses say how a namespace of the scan is named, and what stood in the way.
 */
export abstract class ScanAttributor implements Attributor {
  protected scan: NetnsScan | undefined;
  /** Why the last scan failed; the scan before it, if any, stays in use. */
  protected failure: string | undefined;
  /** The host's cgroups by ID, for sockets; undefined until read, or without a cgroup root. */
  protected cgroups: CgroupIds | undefined;
  /** Why the cgroups could not be read (sockets are then not named). */
  protected cgroupFailure: string | undefined;
  readonly #remembered = new RememberedOwners();
  readonly #rememberedSockets = new RememberedOwners();

  /** `cgroupRoot`: where the host's cgroup2 hierarchy is mounted; undefined: sockets are not named. */
  constructor(
    protected readonly procRoot: string,
    protected readonly cgroupRoot?: string,
  ) {}

  async refresh(): Promise<void> {
    this.startRefresh();
    await this.#refreshCgroups();
    try {
      this.scan = await scanNetworkNamespaces(this.procRoot);
      this.failure = undefined;
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
      this.failure = `${err instanceof Error ? err.message : String(err)}${cause}`;
      return;
    }
    for (const netns of this.scan.owners.keys()) this.#remembered.remember(netns, this.name(this.scan, netns));
  }

  async #refreshCgroups(): Promise<void> {
    if (this.cgroupRoot === undefined) return;
    try {
      this.cgroups = await scanCgroupIds(this.cgroupRoot);
      this.cgroupFailure = this.cgroups.truncated ? `more cgroups under ${this.cgroups.root} than are read; sockets of the rest are not named` : undefined;
    } catch (err) {
      this.cgroupFailure = `sockets not attributed: ${err instanceof Error ? err.message : String(err)}`;
      return;
    }
    for (const [id, cgroupPath] of this.cgroups.paths) {
      const named = this.nameSocket(cgroupPath);
      if (named !== undefined) this.#rememberedSockets.remember(id, named);
    }
  }

  owner(netns: number, socketCgroup = 0): RowAttribution {
    const byNetns = this.#ownerOfNetns(netns);
    // A namespace of a pod or container is theirs whatever socket the packet carried; the node's
    // own namespace (host-network pods share it), or no namespace, is the socket's owner's.
    if (socketCgroup === 0 || byNetns.attribution === "netns") return byNetns;
    const cgroupPath = this.cgroups?.paths.get(socketCgroup);
    const bySocket = (cgroupPath === undefined ? undefined : this.nameSocket(cgroupPath)) ?? this.#rememberedSockets.get(socketCgroup);
    return bySocket ?? byNetns;
  }

  #ownerOfNetns(netns: number): RowAttribution {
    if (netns === 0) return UNKNOWN;
    const now = this.scan === undefined ? UNKNOWN : this.name(this.scan, netns);
    return now.attribution === "unknown" ? (this.#remembered.get(netns) ?? now) : now;
  }

  /**
   * The owner of a socket in the cgroup at `cgroupPath` (from the hierarchy's root), as an
   * attribution `socket`; undefined when the cgroup is no pod's or container's.
   */
  protected abstract nameSocket(cgroupPath: string): RowAttribution | undefined;

  abstract notes(): readonly string[];

  /** Before each scan: state that holds for one refresh only is reset here. */
  protected startRefresh(): void {
    // Nothing by default.
  }

  /** The namespace's owner by this scan: `unknown` when the scan cannot tell. */
  protected abstract name(scan: NetnsScan, netns: number): RowAttribution;
}
