// `droptrace run`'s attribution, with no Kubernetes to ask: a namespace of this machine's own
// is `host`; one whose lowest-numbered process runs in a container's cgroup is that container's
// (for a pod, its sandbox); any other is `unknown`, its inode kept in the row.
import type { RowAttribution } from "../api/attribution.js";
import { parseCgroupPath } from "./cgroup-path.js";
import { ScanAttributor } from "./attribution.js";
import type { NetnsScan } from "./netns-scan.js";

export class ContainerAttributor extends ScanAttributor {
  constructor(procRoot = "/proc") {
    super(procRoot);
  }

  notes(): readonly string[] {
    if (this.failure !== undefined) return [`rows not attributed: ${this.failure}`];
    if (this.scan?.hostNetns === undefined) return [`the host's own network namespace is unknown: ${this.procRoot}/1/ns/net could not be read`];
    return [];
  }

  protected name(scan: NetnsScan, netns: number): RowAttribution {
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
