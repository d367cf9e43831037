// `droptrace run`'s attribution, with no Kubernetes to ask: a namespace of this machine's own
// is `host`; one whose lowest-numbered process runs in a container's cgroup is that container's
// (for a pod, its sandbox); any other is `unknown`, its inode kept in the row.
import type { RowAttribution } from "../api/attribution.js";
import { parseCgroupPath } from "./cgroup-path.js";
import { RememberedOwners, type Attributor } from "./attribution.js";
import { scanNetworkNamespaces, type NetnsScan } from "./netns-scan.js";

export class ContainerAttributor implements Attributor {
  readonly #procRoot: string;
  readonly #remembered = new RememberedOwners();
  #scan: NetnsScan | undefined;
  #failure: string | undefined;

  constructor(procRoot = "/proc") {
    this.#procRoot = procRoot;
  }

  async refresh(): Promise<void> {
    try {
      this.#scan = await scanNetworkNamespaces(this.#procRoot);
      this.#failure = undefined;
    } catch (err) {
      this.#failure = `${err instanceof Error ? err.message : String(err)}${err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : ""}`;
      return;
    }
    for (const netns of this.#scan.owners.keys()) this.#remembered.remember(netns, this.#fromScan(netns));
  }

  owner(netns: number): RowAttribution {
    const now = this.#fromScan(netns);
    return now.attribution === "unknown" ? (this.#remembered.get(netns) ?? now) : now;
  }

  notes(): readonly string[] {
    if (this.#failure !== undefined) return [`rows not attributed: ${this.#failure}`];
    if (this.#scan?.hostNetns === undefined) return [`the host's own network namespace is unknown: ${this.#procRoot}/1/ns/net could not be read`];
    return [];
  }

  #fromScan(netns: number): RowAttribution {
    const scan = this.#scan;
    if (scan === undefined) return { attribution: "unknown" };
    if (netns === scan.hostNetns) return { attribution: "host" };
    const owner = scan.owners.get(netns);
    if (owner === undefined || owner.cgroup === "") return { attribution: "unknown" };
    const cgroup = parseCgroupPath(owner.cgroup);
    if (cgroup.containerId === undefined) return { attribution: "unknown" };
    return {
      attribution: "netns",
      container: { id: cgroup.containerId, ...(cgroup.runtime === undefined ? {} : { runtime: cgroup.runtime }), cgroup: owner.cgroup.slice(0, 1024) },
    };
  }
}
