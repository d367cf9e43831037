// The host /proc scan: network namespace inode -> pods and containers, and the host's own.
import { mkdir, readlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseNetnsLink, scanNetworkNamespaces } from "../../src/trace/netns-scan.js";
import { FakeProc } from "./fake-proc.js";

const HOST = 4026531833;
const POD_NS = 4026532252;
const OTHER_NS = 4026532302;
const UID = "5f3b1c2a-9d4e-4c1b-8a7f-0e6d5c4b3a21";
const UID_ = UID.replaceAll("-", "_");
const PAUSE = "a".repeat(64);
const APP = "b".repeat(64);
const slice = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;

let proc: FakeProc | undefined;
afterEach(async () => {
  await proc?.dispose();
  proc = undefined;
});

describe("scanNetworkNamespaces over a /proc tree", () => {
  it("maps each namespace to its pod and containers, and finds the host's from pid 1", async () => {
    proc = await FakeProc.create([
      { pid: 1, netns: HOST, cgroup: "/init.scope" },
      { pid: 812, netns: HOST, cgroup: "/system.slice/kubelet.service" },
      { pid: 4100, netns: POD_NS, cgroup: `${slice}/cri-containerd-${PAUSE}.scope` },
      { pid: 4188, netns: POD_NS, cgroup: `${slice}/cri-containerd-${APP}.scope` },
      { pid: 4189, netns: POD_NS, cgroup: `${slice}/cri-containerd-${APP}.scope` },
      // An `ip netns` namespace with a shell in it: no pod, no container.
      { pid: 5000, netns: OTHER_NS, cgroup: "/user.slice/user-0.slice/session-1.scope" },
    ]);
    const scan = await scanNetworkNamespaces(proc.root);
    expect(scan.hostNetns).toBe(HOST);
    expect(scan.processes).toBe(6);
    expect(scan.owners.get(POD_NS)).toEqual({
      podUids: [UID],
      containers: [
        { id: PAUSE, runtime: "containerd" },
        { id: APP, runtime: "containerd" },
      ],
      cgroup: `${slice}/cri-containerd-${PAUSE}.scope`,
      lowestPid: 4100,
    });
    expect(scan.owners.get(OTHER_NS)).toEqual({ podUids: [], containers: [], cgroup: "/user.slice/user-0.slice/session-1.scope", lowestPid: 5000 });
    expect(scan.owners.get(HOST)?.podUids).toEqual([]);
    expect([...scan.owners.keys()].sort()).toEqual([HOST, POD_NS, OTHER_NS].sort());
  });

  it("counts processes that vanish mid-scan and skips what is not a process, losing nothing else", async () => {
    proc = await FakeProc.create([
      { pid: 1, netns: HOST, cgroup: "/init.scope" },
      { pid: 4100, netns: POD_NS, cgroup: `${slice}/cri-containerd-${PAUSE}.scope` },
    ]);
    // Listed, then gone before its ns/net was read: procfs answers ENOENT.
    await mkdir(path.join(proc.root, "4200"));
    // Its ns/net read, its cgroup gone before it was read: the namespace still counts.
    await proc.add({ pid: 4300, netns: OTHER_NS });
    // Not processes: procfs's own files.
    await writeFile(path.join(proc.root, "kallsyms"), "");
    await mkdir(path.join(proc.root, "self"));
    const scan = await scanNetworkNamespaces(proc.root);
    expect(scan).toMatchObject({ hostNetns: HOST, processes: 3, vanished: 1, denied: 0, problems: [] });
    expect(scan.owners.get(OTHER_NS)).toEqual({ podUids: [], containers: [], cgroup: "", lowestPid: 4300 });
    expect(scan.owners.get(POD_NS)?.podUids).toEqual([UID]);
  });

  it("says when the host's namespace is unknown, and reports a link that is not a namespace", async () => {
    proc = await FakeProc.create([{ pid: 4100, netns: POD_NS, cgroup: `${slice}/cri-containerd-${PAUSE}.scope` }]);
    await mkdir(path.join(proc.root, "4400", "ns"), { recursive: true });
    await writeFile(path.join(proc.root, "4400", "ns", "net"), "not a link");
    const scan = await scanNetworkNamespaces(proc.root);
    expect(scan.hostNetns).toBeUndefined();
    expect(scan.problems).toHaveLength(2);
    expect(scan.problems[0]).toContain("4400");
    expect(scan.problems[1]).toContain("host's own namespace is not known");
    expect(scan.owners.get(POD_NS)?.podUids).toEqual([UID]);
  });

  it("throws, with the path, when the root is not there", async () => {
    await expect(scanNetworkNamespaces("/nonexistent/proc")).rejects.toThrow("cannot list processes in /nonexistent/proc");
  });

  it("reads link targets as the kernel writes them", () => {
    expect(parseNetnsLink("net:[4026532252]")).toBe(4026532252);
    expect(parseNetnsLink("mnt:[4026531841]")).toBeUndefined();
    expect(parseNetnsLink("net:[]")).toBeUndefined();
  });
});

describe("scanNetworkNamespaces over this machine's /proc", () => {
  it("finds this process's namespace and pid 1's as readlink does, or counts pid 1 as denied", async () => {
    const scan = await scanNetworkNamespaces("/proc");
    const own = parseNetnsLink(await readlink(`/proc/${process.pid}/ns/net`));
    expect(own).toBeGreaterThan(0);
    expect(scan.owners.get(own ?? -1)?.lowestPid).toBeLessThanOrEqual(process.pid);
    let pid1: number | undefined;
    try {
      pid1 = parseNetnsLink(await readlink("/proc/1/ns/net"));
    } catch (err) {
      // Some sandboxes refuse even root a look at pid 1's namespaces; the scan must then say so, not guess.
      expect((err as NodeJS.ErrnoException).code).toMatch(/^(EACCES|EPERM)$/);
    }
    if (pid1 === undefined) {
      expect(scan.hostNetns).toBeUndefined();
      expect(scan.denied).toBeGreaterThan(0);
    } else {
      expect(scan.hostNetns).toBe(pid1);
    }
  });
});
