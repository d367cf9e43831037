// A /proc tree in a temp dir, as procfs shows it: one directory per process with `ns/net` a
// link to `net:[inode]` (a dangling link, as procfs's are to a reader outside the namespace
// file system) and `cgroup` the kernel's text.
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

export interface FakeProcess {
  pid: number;
  netns: number;
  /** /proc/<pid>/cgroup's text; a v2 path alone becomes "0::<path>". Absent: no cgroup file. */
  cgroup?: string;
}

export class FakeProc {
  private constructor(readonly root: string) {}

  static async create(processes: readonly FakeProcess[] = [], root?: string): Promise<FakeProc> {
    if (root !== undefined) await mkdir(root, { recursive: true });
    const proc = new FakeProc(root ?? (await mkdtemp(path.join(tmpdir(), "droptrace-proc-"))));
    for (const p of processes) await proc.add(p);
    return proc;
  }

  async add({ pid, netns, cgroup }: FakeProcess): Promise<void> {
    const dir = path.join(this.root, String(pid));
    await mkdir(path.join(dir, "ns"), { recursive: true });
    await symlink(`net:[${netns}]`, path.join(dir, "ns", "net"));
    if (cgroup !== undefined) await writeFile(path.join(dir, "cgroup"), cgroup.includes(":") ? cgroup : `0::${cgroup}\n`);
  }

  async remove(pid: number): Promise<void> {
    await rm(path.join(this.root, String(pid)), { recursive: true, force: true });
  }

  async dispose(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}
