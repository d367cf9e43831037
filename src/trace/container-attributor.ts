// `droptrace run`'s attribution, with no Kubernetes to ask: a namespace of this machine's own
// is `host`; one whose lowest-numbered process runs in a container's cgroup is that container's
// (for a pod, its sandbox); any other is `unknown`, its inode kept in the row. A row of the
// machine's own namespace (or of none) whose packets carried a container's socket is `socket`,
// that container's.
import type { RowAttribution } from "../api/attribution.js";
import { parseCgroupPath } from "./cgroup-path.js";
import { ScanAttributor } from "./attribution.js";
import type { NetnsScan } from "./netns-scan.js";

export class ContainerAttributor extends ScanAttributor {
  constructor(procRoot = "/proc", cgroupRoot: string | undefined = "/sys/fs/cgroup") {
    super(procRoot, cgroupRoot);
  }

  notes(): readonly string[] {
    const notes: string[] = [];
    if (this.failure !== undefined) notes.push(`rows not attributed: ${this.failure}`);
    else if (this.scan?.hostNetns === undefined) notes.push(`the host's own network namespace is unknown: ${this.procRoot}/1/ns/net could not be read`);
    if (this.cgroupFailure !== undefined) notes.push(this.cgroupFailure);
    return notes;
  }

  protected nameSocket(cgroupPath: string): RowAttribution | undefined {
    const cgroup = parseCgroupPath(cgroupPath);
    if (cgroup.containerId === undefined) return undefined;
    return {
      attribution: "socket",
      container: { id: cgroup.containerId, ...(cgroup.runtime === undefined ? {} : { runtime: cgroup.runtime }), cgroup: cgroupPath.slice(0, 1024) },
    };
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
