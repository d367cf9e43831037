// The agent's attribution: the host's /proc says which pod UID owns each network namespace
// (netns-scan.ts), this node's pods name the UID (node-pods.ts). A namespace named once keeps
// its name after its pod is gone; one that cannot be named is `unknown`, and the report's
// message says why when something stood in the way.
import type { RowAttribution } from "../api/attribution.js";
import { ScanAttributor } from "../trace/attribution.js";
import type { NetnsScan } from "../trace/netns-scan.js";
import type { PodSource } from "./node-pods.js";
import { parseCgroupPath } from "../trace/cgroup-path.js";

export class PodAttributor extends ScanAttributor {
  readonly #pods: PodSource;
  /** Pod UIDs found in namespaces but not (yet) among the node's pods, since the last refresh. */
  #unnamed = new Set<string>();

  constructor(procRoot: string, pods: PodSource, cgroupRoot?: string) {
    super(procRoot, cgroupRoot);
    this.#pods = pods;
  }

  notes(): readonly string[] {
    const notes: string[] = [];
    if (this.failure !== undefined) notes.push(`pods not attributed: ${this.failure}`);
    else if (this.scan?.hostNetns === undefined) notes.push(`the node's own network namespace is unknown: ${this.procRoot}/1/ns/net could not be read`);
    const podProblem = this.#pods.problem();
    if (podProblem !== undefined) notes.push(`pod names unknown: ${podProblem}`);
    else if (this.#unnamed.size > 0) notes.push(`pod UIDs in /proc but not among this node's pods: ${this.#unnamed.size}`);
    if (this.cgroupFailure !== undefined) notes.push(this.cgroupFailure);
    if ((this.scan?.denied ?? 0) > 0) notes.push(`${this.scan?.denied ?? 0} processes could not be read in ${this.procRoot}`);
    return notes;
  }

  protected override startRefresh(): void {
    this.#unnamed = new Set();
  }

  protected name(scan: NetnsScan, netns: number): RowAttribution {
    // The node's own namespace is `host`; a host-network pod's rows in it are told apart by the
    // packet's socket (nameSocket, below).
    if (netns === scan.hostNetns) return { attribution: "host" };
    const uids = scan.owners.get(netns)?.podUids ?? [];
    // A pod's sandbox namespace holds that pod's processes only; more than one UID is not a sandbox.
    const uid = uids.length === 1 ? uids[0] : undefined;
    if (uid === undefined) return { attribution: "unknown" };
    const named = this.#pods.lookup(uid);
    if (named === undefined) {
      this.#unnamed.add(uid);
      return { attribution: "unknown" };
    }
    return { attribution: "netns", pod: named.pod, workload: named.workload };
  }

  protected nameSocket(cgroupPath: string): RowAttribution | undefined {
    const uid = parseCgroupPath(cgroupPath).podUid;
    if (uid === undefined) return undefined;
    const named = this.#pods.lookup(uid);
    if (named === undefined) {
      this.#unnamed.add(uid);
      return undefined;
    }
    return { attribution: "socket", pod: named.pod, workload: named.workload };
  }
}
