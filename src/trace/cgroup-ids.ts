// The cgroup v2 hierarchy of a host by cgroup ID: the probe reports the cgroup of the socket a
// dropped packet carried as its ID (the kernfs node ID, which is the inode number of the cgroup's
// directory in the cgroup2 filesystem), and its path says whose it is (cgroup-path.ts: a pod's UID,
// a container's ID). Read by walking the host's cgroup2 mount (the agent mounts the host's
// /sys/fs/cgroup read-only; `droptrace run` reads its own).
//
// On a host with cgroup v1 controllers only in /sys/fs/cgroup, the v2 hierarchy sockets carry is
// the "unified" one, mounted at /sys/fs/cgroup/unified by systemd's hybrid layout; with no v2
// hierarchy mounted at all, every socket is in its root and says nothing about pods.
import { access, readdir, stat } from "node:fs/promises";
import path from "node:path";

export interface CgroupIds {
  /** The cgroup2 mount walked. */
  readonly root: string;
  /** Cgroup ID to its path from the hierarchy's root ("/" for the root, "/kubepods.slice/..."). */
  readonly paths: ReadonlyMap<number, string>;
  /** More cgroups than `max`: the walk stopped, and the rest are not named. */
  readonly truncated: boolean;
}

/** Cgroups walked at most: a node has hundreds to a few thousand. */
export const MAX_CGROUPS = 100_000;

/** The cgroup2 mount under `root`: `root` itself, or its `unified` directory (systemd's hybrid layout). */
export async function cgroup2Root(root: string): Promise<string | undefined> {
  for (const candidate of [root, path.join(root, "unified")]) {
    try {
      await access(path.join(candidate, "cgroup.controllers"));
      return candidate;
    } catch {
      // Not a cgroup2 mount.
    }
  }
  return undefined;
}

/**
 * Every cgroup under `root` (a cgroup2 mount, or a directory holding one as cgroup2Root finds it)
 * by ID. Throws when there is no cgroup2 hierarchy there; cgroups removed while walking are skipped.
 */
export async function scanCgroupIds(root: string, max: number = MAX_CGROUPS): Promise<CgroupIds> {
  const mount = await cgroup2Root(root);
  if (mount === undefined) throw new Error(`no cgroup v2 hierarchy at ${root} (nor at ${path.join(root, "unified")})`);
  const paths = new Map<number, string>();
  paths.set((await stat(mount)).ino, "/");
  let truncated = false;
  let level = [""];
  while (level.length > 0 && !truncated) {
    const next: string[] = [];
    for (const relative of level) {
      let entries;
      try {
        entries = await readdir(path.join(mount, relative), { withFileTypes: true });
      } catch {
        continue; // removed while walking
      }
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const child = `${relative}/${entry.name}`;
        try {
          paths.set((await stat(path.join(mount, child))).ino, child);
        } catch {
          continue;
        }
        if (paths.size >= max) {
          truncated = true;
          break;
        }
        next.push(child);
      }
      if (truncated) break;
    }
    level = next;
  }
  return { root: mount, paths, truncated };
}
