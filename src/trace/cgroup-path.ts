// A process's cgroup, as /proc/<pid>/cgroup states it, read for the Kubernetes pod and container
// it belongs to. kubelet names a pod's cgroup after the pod's UID in every layout it makes, and
// the container runtimes name each container's cgroup after the container ID, so the path alone
// says whose a process is, whatever the runtime (test/trace/cgroup-path.test.ts lists the shapes).
//
// kubelet's layouts (pkg/kubelet/cm: cgroup_manager_linux.go, pod_container_manager_linux.go,
// qos_container_manager_linux.go):
// - cgroupfs driver: /kubepods[/burstable|/besteffort]/pod<uid>/<container>
// - systemd driver: the same names as nested slices, each level's name prefixed with its
//   parent's and "-" inside a name escaped to "_": kubepods-burstable-pod<uid with _>.slice.
// Guaranteed pods sit right under kubepods; a containerized kubelet (kind, k3d) adds its own
// prefix before "kubepods". A reader in its own cgroup namespace (a pod on cgroup v2) sees other
// cgroups' paths relative to its own, starting with "/../..": only the names below matter here.

/** The container runtime that named the container's cgroup, where its name says so. */
export type ContainerRuntime = "containerd" | "cri-o" | "docker";

export interface CgroupOwner {
  /** The path the owner was read from (the unified hierarchy's, else the first usable v1 one). */
  readonly path: string;
  /** The pod's UID, with dashes, as the API shows it. */
  readonly podUid?: string;
  /** The container's ID (64 hex digits), where the path names one. */
  readonly containerId?: string;
  readonly runtime?: ContainerRuntime;
}

const UID = "[0-9a-fA-F]{8}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{12}";
/**
 * `pod<uid>` (cgroupfs) or `<parents>-pod<uid_with_underscores>.slice` (systemd), where the
 * parents are `kubepods[-qos]`, or `kubelet-kubepods[-qos]` under kind's cgroup root `/kubelet`.
 */
const POD_SEGMENT = new RegExp(`^(?:[A-Za-z0-9_.-]*-)?pod(${UID})(?:\\.slice)?$`);
const ID = "([0-9a-f]{64})";
/** A container's cgroup: the runtime's systemd scope, CRI-O's cgroupfs name, or the bare ID (containerd, docker with cgroupfs). */
const CONTAINER_SEGMENTS: readonly [RegExp, ContainerRuntime | undefined][] = [
  [new RegExp(`^cri-containerd-${ID}\\.scope$`), "containerd"],
  [new RegExp(`^crio-${ID}(?:\\.scope)?$`), "cri-o"],
  [new RegExp(`^docker-${ID}\\.scope$`), "docker"],
  [new RegExp(`^${ID}$`), undefined],
];

/** Which v1 hierarchies to read, best first: every process is in each of these, and kubelet makes pod cgroups in all of them. */
const V1_PREFERRED = ["name=systemd", "memory", "pids", "cpu", "cpuacct", "cpu,cpuacct", "devices", "freezer"];

/**
 * The cgroup path to read from /proc/<pid>/cgroup's text: the unified hierarchy's (`0::/path`)
 * when it is a real path, else the best v1 hierarchy's (`N:controllers:/path`). A hybrid host
 * lists both, and its `0::` path may be `/` while the v1 ones carry kubelet's names: the one
 * that names a pod wins.
 */
export function chooseCgroupPath(text: string): string | undefined {
  const v1 = new Map<string, string>();
  let unified: string | undefined;
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const id = line.slice(0, first);
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (id === "0" && controllers === "") unified = path;
    else for (const controller of controllers.split(",")) v1.set(controller, path);
    if (controllers.includes(",")) v1.set(controllers, path);
  }
  const candidates = [unified, ...V1_PREFERRED.map((c) => v1.get(c)), ...v1.values()].filter((p): p is string => p !== undefined);
  return candidates.find((p) => podSegment(p) !== undefined) ?? candidates.find((p) => p !== "/") ?? candidates[0];
}

/** Who a process belongs to, from the text of its /proc/<pid>/cgroup; undefined when the text names no cgroup at all. */
export function parseProcCgroup(text: string): CgroupOwner | undefined {
  const path = chooseCgroupPath(text);
  return path === undefined ? undefined : parseCgroupPath(path);
}

/** Who a process in cgroup `path` belongs to. */
export function parseCgroupPath(path: string): CgroupOwner {
  const segments = path.split("/").filter((s) => s !== "");
  const pod = podSegment(path);
  if (pod === undefined) return { path, ...containerAt(segments, segments.length - 1) };
  // The container is the segment right under the pod's (containers nest no deeper in kubelet's layouts).
  return { path, podUid: pod.uid, ...containerAt(segments, pod.index + 1) };
}

function podSegment(path: string): { uid: string; index: number } | undefined {
  const segments = path.split("/").filter((s) => s !== "");
  // The last pod segment: a containerized kubelet's own prefix may look like anything, but never below a pod.
  for (let i = segments.length - 1; i >= 0; i -= 1) {
    const match = POD_SEGMENT.exec(segments[i] ?? "");
    if (match?.[1] !== undefined) return { uid: match[1].replaceAll("_", "-").toLowerCase(), index: i };
  }
  return undefined;
}

function containerAt(segments: readonly string[], index: number): { containerId?: string; runtime?: ContainerRuntime } {
  const segment = segments[index];
  if (segment === undefined) return {};
  for (const [pattern, runtime] of CONTAINER_SEGMENTS) {
    const match = pattern.exec(segment);
    if (match?.[1] !== undefined) return { containerId: match[1], ...(runtime === undefined ? {} : { runtime }) };
  }
  return {};
}
