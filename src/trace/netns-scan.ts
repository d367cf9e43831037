// Which processes, pods and containers live in each network namespace of a host, read from its
// /proc: each process's `ns/net` link (`net:[4026532252]`, the inode the probe reports per row)
// and its cgroup (cgroup-path.ts). The agent reads the host's /proc mounted read-only (no hostPID);
// `droptrace run` reads its own. Processes come and go while this reads: one that vanished is
// counted and skipped, and so is one this reader may not look into.
import { readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import { parseProcCgroup, type ContainerRuntime } from "./cgroup-path.js";

export interface NetnsContainer {
  readonly id: string;
  readonly runtime?: ContainerRuntime;
}

export interface NetnsOwner {
  /** UIDs of the pods whose processes are in the namespace, sorted: one for a pod's sandbox namespace. */
  readonly podUids: readonly string[];
  /** Containers with a process in the namespace, by ID. */
  readonly containers: readonly NetnsContainer[];
  /** The cgroup of the namespace's lowest-numbered process (in a pod, usually its sandbox's pause process). */
  readonly cgroup: string;
  readonly lowestPid: number;
}

export interface NetnsScan {
  /** The host's own namespace: that of the host's pid 1. Undefined when it could not be read (see problems). */
  readonly hostNetns: number | undefined;
  readonly owners: ReadonlyMap<number, NetnsOwner>;
  /** Processes read. */
  readonly processes: number;
  /** Processes that exited while they were read. */
  readonly vanished: number;
  /** Processes this reader may not look into (EACCES, EPERM). */
  readonly denied: number;
  /** The first few other failures, verbatim. */
  readonly problems: readonly string[];
}

const MAX_PROBLEMS = 5;
/** Processes read at once: enough to hide the latency of procfs reads, few enough to stay light on a busy node. */
const BATCH = 64;

const NET_LINK = /^net:\[(\d+)\]$/;

/** The inode in an `ns/net` link's target, or undefined if it is not one. */
export function parseNetnsLink(target: string): number | undefined {
  const match = NET_LINK.exec(target);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

type Outcome =
  { kind: "read"; pid: number; netns: number; cgroup: string | undefined } | { kind: "vanished" } | { kind: "denied" } | { kind: "problem"; message: string };

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string" ? err.code : undefined;
}

async function readProcess(procRoot: string, pid: number): Promise<Outcome> {
  const dir = path.join(procRoot, String(pid));
  try {
    const link = await readlink(path.join(dir, "ns", "net"));
    const netns = parseNetnsLink(link);
    if (netns === undefined) return { kind: "problem", message: `${dir}/ns/net links to ${JSON.stringify(link)}, not net:[inode]` };
    let cgroup: string | undefined;
    try {
      cgroup = await readFile(path.join(dir, "cgroup"), "utf8");
    } catch (err) {
      // The namespace is known even if the cgroup is not (a kernel without cgroups, a process that exited just now).
      if (!["ENOENT", "ESRCH", "EACCES", "EPERM"].includes(errorCode(err) ?? "")) throw err;
    }
    return { kind: "read", pid, netns, cgroup };
  } catch (err) {
    const code = errorCode(err);
    if (code === "ENOENT" || code === "ESRCH") return { kind: "vanished" };
    if (code === "EACCES" || code === "EPERM") return { kind: "denied" };
    return { kind: "problem", message: `${dir}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

interface Building {
  podUids: Set<string>;
  containers: Map<string, NetnsContainer>;
  cgroup: string;
  lowestPid: number;
}

/**
 * Reads every process under `procRoot`. Throws only when `procRoot` itself cannot be listed
 * (not mounted, not procfs): the caller reports that, and attributes nothing.
 */
export async function scanNetworkNamespaces(procRoot: string): Promise<NetnsScan> {
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch (err) {
    throw new Error(`cannot list processes in ${procRoot}`, { cause: err });
  }
  const pids = entries
    .filter((name) => /^[1-9]\d*$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const owners = new Map<number, Building>();
  let hostNetns: number | undefined;
  let processes = 0;
  let vanished = 0;
  let denied = 0;
  const problems: string[] = [];
  for (let i = 0; i < pids.length; i += BATCH) {
    const outcomes = await Promise.all(pids.slice(i, i + BATCH).map((pid) => readProcess(procRoot, pid)));
    for (const outcome of outcomes) {
      if (outcome.kind === "vanished") vanished += 1;
      else if (outcome.kind === "denied") denied += 1;
      else if (outcome.kind === "problem") {
        if (problems.length < MAX_PROBLEMS) problems.push(outcome.message);
      } else {
        processes += 1;
        if (outcome.pid === 1) hostNetns = outcome.netns;
        const owner = outcome.cgroup === undefined ? undefined : parseProcCgroup(outcome.cgroup);
        let building = owners.get(outcome.netns);
        if (building === undefined) {
          // pids are in ascending order: the first process seen in a namespace is its lowest.
          building = { podUids: new Set(), containers: new Map(), cgroup: owner?.path ?? "", lowestPid: outcome.pid };
          owners.set(outcome.netns, building);
        }
        if (owner?.podUid !== undefined) building.podUids.add(owner.podUid);
        if (owner?.containerId !== undefined && !building.containers.has(owner.containerId)) {
          building.containers.set(owner.containerId, { id: owner.containerId, ...(owner.runtime === undefined ? {} : { runtime: owner.runtime }) });
        }
      }
    }
  }
  if (hostNetns === undefined && problems.length < MAX_PROBLEMS) problems.push(`${procRoot}/1/ns/net could not be read: the host's own namespace is not known`);
  const result = new Map<number, NetnsOwner>();
  for (const [netns, b] of owners) {
    result.set(netns, { podUids: [...b.podUids].sort(), containers: [...b.containers.values()], cgroup: b.cgroup, lowestPid: b.lowestPid });
  }
  return { hostNetns, owners: result, processes, vanished, denied, problems };
}
