// Names applied to rows at report time: by namespace, late names, remembered names, and the
// reason in the message when names are missing; counts are never changed or dropped.
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DropTraceReportStatus, ReportRow } from "../../src/api/report.js";
import { PodAttributor } from "../../src/agent/pod-attributor.js";
import type { NamedPod, PodSource } from "../../src/agent/node-pods.js";
import { attributeRows, attributeStatus } from "../../src/trace/attribution.js";
import { ContainerAttributor } from "../../src/trace/container-attributor.js";
import { FakeProc } from "./fake-proc.js";

const HOST = 4026531833;
const CART_NS = 4026532252;
const DB_NS = 4026532302;
const ORPHAN_NS = 4026532400;
const CART_UID = "5f3b1c2a-9d4e-4c1b-8a7f-0e6d5c4b3a21";
const DB_UID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const PAUSE = "c".repeat(64);
const podSlice = (uid: string) => `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid.replaceAll("-", "_")}.slice`;

const CART: NamedPod = {
  pod: { namespace: "shop", name: "cart-7d9c5b6f4-x2k9q", uid: CART_UID },
  workload: { kind: "Deployment", name: "cart" },
  labels: { app: "cart" },
};
const DB: NamedPod = { pod: { namespace: "shop", name: "db-0", uid: DB_UID }, workload: { kind: "StatefulSet", name: "db" }, labels: { app: "db" } };

/** What the attributor puts on a row: the pod and its workload, not its labels. */
const names = ({ pod, workload }: NamedPod) => ({ pod, workload });

class FakePods implements PodSource {
  pods = new Map<string, NamedPod>();
  failure: string | undefined;
  lookup(uid: string) {
    return this.pods.get(uid);
  }
  problem() {
    return this.failure;
  }
}

const row = (netns: number, count: number, iface = "eth0"): ReportRow => ({
  symbol: "udp_rcv+0x452",
  interface: iface,
  netns,
  module: "kernel",
  reason: "NO_SOCKET",
  class: "depends",
  count,
});
const ROWS = [row(CART_NS, 30), row(DB_NS, 20), row(HOST, 300, "lo"), row(ORPHAN_NS, 7), row(0, 1, "-")];
const status = (rows: ReportRow[]): DropTraceReportStatus => ({
  phase: "Running",
  intervals: 1,
  totalDrops: 358,
  uncountedDrops: 0,
  otherRows: 0,
  otherDrops: 0,
  rows,
});

let proc: FakeProc;
afterEach(async () => {
  await proc.dispose();
});

async function node(): Promise<FakeProc> {
  return FakeProc.create([
    { pid: 1, netns: HOST, cgroup: "/init.scope" },
    { pid: 900, netns: HOST, cgroup: "/system.slice/kubelet.service" },
    { pid: 4100, netns: CART_NS, cgroup: `${podSlice(CART_UID)}/cri-containerd-${PAUSE}.scope` },
    { pid: 4300, netns: DB_NS, cgroup: `${podSlice(DB_UID)}/cri-containerd-${"d".repeat(64)}.scope` },
  ]);
}

describe("PodAttributor", () => {
  it("names pods by namespace, the host's namespace as host, and anything else unknown", async () => {
    proc = await node();
    const pods = new FakePods();
    pods.pods.set(CART_UID, CART).set(DB_UID, DB);
    const attributor = new PodAttributor(proc.root, pods);
    await attributor.refresh();
    const named = attributeStatus(status(ROWS), attributor);
    expect(named.rows).toEqual([
      { ...row(CART_NS, 30), attribution: "netns", ...names(CART) },
      { ...row(DB_NS, 20), attribution: "netns", ...names(DB) },
      { ...row(HOST, 300, "lo"), attribution: "host" },
      { ...row(ORPHAN_NS, 7), attribution: "unknown" },
      { ...row(0, 1, "-"), attribution: "unknown" },
    ]);
    // A namespace no process is in (an `ip netns` one, or a pod gone before the first scan) is not a failure to report.
    expect(named.message).toBeUndefined();
  });

  it("when the pod list fails, leaves pod rows unknown with the reason in the message, and every count as it was", async () => {
    proc = await node();
    const pods = new FakePods();
    pods.failure = "listing the pods on node node-a failed (HTTP-Code: 403 Forbidden), retrying";
    const attributor = new PodAttributor(proc.root, pods);
    await attributor.refresh();
    const named = attributeStatus({ ...status(ROWS), message: "2 malformed probe output lines" }, attributor);
    expect(named.rows.map((r) => [r.netns, r.count, r.attribution, r.pod])).toEqual([
      [CART_NS, 30, "unknown", undefined],
      [DB_NS, 20, "unknown", undefined],
      [HOST, 300, "host", undefined],
      [ORPHAN_NS, 7, "unknown", undefined],
      [0, 1, "unknown", undefined],
    ]);
    expect(named.totalDrops).toBe(358);
    expect(named.message).toBe(
      "2 malformed probe output lines; pod names unknown: listing the pods on node node-a failed (HTTP-Code: 403 Forbidden), retrying",
    );

    // The list recovers: the next report names them, counts unchanged.
    pods.failure = undefined;
    pods.pods.set(CART_UID, CART).set(DB_UID, DB);
    await attributor.refresh();
    const later = attributeStatus(status(ROWS), attributor);
    expect(later.rows.slice(0, 2).map((r) => [r.count, r.pod?.name, r.workload])).toEqual([
      [30, "cart-7d9c5b6f4-x2k9q", { kind: "Deployment", name: "cart" }],
      [20, "db-0", { kind: "StatefulSet", name: "db" }],
    ]);
    expect(later.message).toBeUndefined();
  });

  it("says so when a pod UID in /proc is not among the node's pods", async () => {
    proc = await node();
    const pods = new FakePods();
    pods.pods.set(CART_UID, CART);
    const attributor = new PodAttributor(proc.root, pods);
    await attributor.refresh();
    const named = attributeStatus(status(ROWS), attributor);
    expect(named.rows[1]).toMatchObject({ netns: DB_NS, attribution: "unknown" });
    expect(named.message).toBe("pod UIDs in /proc but not among this node's pods: 1");
  });

  it("keeps the name of a pod that ended mid-trace", async () => {
    proc = await node();
    const pods = new FakePods();
    pods.pods.set(CART_UID, CART).set(DB_UID, DB);
    const attributor = new PodAttributor(proc.root, pods);
    await attributor.refresh();
    // The cart pod ends: its processes are gone, its namespace with them.
    await proc.remove(4100);
    await attributor.refresh();
    expect(attributeRows([row(CART_NS, 31)], attributor)).toEqual([{ ...row(CART_NS, 31), attribution: "netns", ...names(CART) }]);
  });

  it("keeps a name a row already carries (counted before an agent restart) when nothing better is known now", async () => {
    proc = await FakeProc.create([{ pid: 1, netns: HOST, cgroup: "/init.scope" }]);
    const attributor = new PodAttributor(proc.root, new FakePods());
    await attributor.refresh();
    const carried: ReportRow = { ...row(CART_NS, 12), attribution: "netns", ...names(CART) };
    expect(attributeRows([carried], attributor)).toEqual([carried]);
  });

  it("reports a /proc it cannot read, and names nothing", async () => {
    proc = await FakeProc.create();
    const attributor = new PodAttributor(`${proc.root}/missing`, new FakePods());
    await attributor.refresh();
    const named = attributeStatus(status(ROWS), attributor);
    expect(named.rows.every((r) => r.attribution === "unknown")).toBe(true);
    expect(named.message).toContain(`pods not attributed: cannot list processes in ${proc.root}/missing: ENOENT`);
  });
});

describe("ContainerAttributor (droptrace run)", () => {
  it("names the container of a namespace's lowest process, the host, and remembers containers that exited", async () => {
    const id = "e".repeat(64);
    proc = await FakeProc.create([
      { pid: 1, netns: HOST, cgroup: "/init.scope" },
      { pid: 700, netns: DB_NS, cgroup: `/system.slice/docker-${id}.scope` },
      { pid: 800, netns: ORPHAN_NS, cgroup: "/user.slice/user-0.slice/session-1.scope" },
    ]);
    const attributor = new ContainerAttributor(proc.root, undefined);
    await attributor.refresh();
    await proc.remove(700);
    await attributor.refresh();
    expect(attributeRows([row(HOST, 1), row(DB_NS, 2), row(ORPHAN_NS, 3)], attributor)).toEqual([
      { ...row(HOST, 1), attribution: "host" },
      { ...row(DB_NS, 2), attribution: "netns", container: { id, runtime: "docker", cgroup: `/system.slice/docker-${id}.scope` } },
      { ...row(ORPHAN_NS, 3), attribution: "unknown" },
    ]);
  });
});

/** A cgroup2 mount in a temp dir: its directories' inode numbers are the cgroup IDs the probe reports. */
async function cgroupTree(paths: readonly string[]): Promise<{ root: string; id: (p: string) => Promise<number>; dispose: () => Promise<void> }> {
  const root = await mkdtemp(path.join(tmpdir(), "droptrace-cgroup-"));
  await writeFile(path.join(root, "cgroup.controllers"), "cpu memory pids\n");
  for (const p of paths) await mkdir(path.join(root, p), { recursive: true });
  return { root, id: async (p) => (await stat(path.join(root, p))).ino, dispose: () => rm(root, { recursive: true, force: true }) };
}

describe("socket attribution: the packet's socket's cgroup names a host-network pod", () => {
  const HOSTNET_UID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
  const HOSTNET: NamedPod = {
    pod: { namespace: "kube-system", name: "node-exporter-x7k2p", uid: HOSTNET_UID },
    workload: { kind: "DaemonSet", name: "node-exporter" },
    labels: {},
  };
  // The cgroupfs driver's shape for this one, the systemd driver's for the cart pod: both name the UID.
  const hostnetCgroup = `/kubepods/burstable/pod${HOSTNET_UID}/${"f".repeat(64)}`;
  const cartCgroup = `${podSlice(CART_UID)}/cri-containerd-${PAUSE}.scope`;

  it("names the socket's pod in the node's namespace and in none, keeps a pod namespace's own name, and leaves other sockets host", async () => {
    proc = await node();
    const tree = await cgroupTree([hostnetCgroup, cartCgroup, "/system.slice/kubelet.service"]);
    try {
      const pods = new FakePods();
      pods.pods.set(CART_UID, CART).set(DB_UID, DB).set(HOSTNET_UID, HOSTNET);
      const attributor = new PodAttributor(proc.root, pods, tree.root);
      await attributor.refresh();
      const hostnet = await tree.id(hostnetCgroup);
      const cart = await tree.id(cartCgroup);
      const kubelet = await tree.id("/system.slice/kubelet.service");
      const withSocket = (r: ReportRow, socketCgroup: number): ReportRow => ({ ...r, socketCgroup });
      const named = attributeStatus(
        status([
          withSocket(row(HOST, 5), hostnet),
          withSocket(row(0, 4, "-"), hostnet),
          withSocket(row(DB_NS, 3), cart),
          withSocket(row(HOST, 2), kubelet),
          withSocket(row(HOST, 1), 999_999_999),
        ]),
        attributor,
      );
      expect(named.rows).toEqual([
        { ...withSocket(row(HOST, 5), hostnet), attribution: "socket", ...names(HOSTNET) },
        { ...withSocket(row(0, 4, "-"), hostnet), attribution: "socket", ...names(HOSTNET) },
        // The packet is in db's namespace: the namespace says whose the row is, whatever socket it carried.
        { ...withSocket(row(DB_NS, 3), cart), attribution: "netns", ...names(DB) },
        { ...withSocket(row(HOST, 2), kubelet), attribution: "host" },
        { ...withSocket(row(HOST, 1), 999_999_999), attribution: "host" },
      ]);
      expect(named.message).toBeUndefined();
    } finally {
      await tree.dispose();
    }
  });

  it("keeps the name of a socket's pod after its cgroup is gone", async () => {
    proc = await node();
    const tree = await cgroupTree([hostnetCgroup]);
    try {
      const pods = new FakePods();
      pods.pods.set(HOSTNET_UID, HOSTNET);
      const attributor = new PodAttributor(proc.root, pods, tree.root);
      await attributor.refresh();
      const hostnet = await tree.id(hostnetCgroup);
      await rm(path.join(tree.root, hostnetCgroup), { recursive: true });
      await attributor.refresh();
      expect(attributeRows([{ ...row(HOST, 7), socketCgroup: hostnet }], attributor)[0]).toMatchObject({ attribution: "socket", ...names(HOSTNET) });
    } finally {
      await tree.dispose();
    }
  });

  it("says why sockets are not named when there is no cgroup v2 hierarchy, and names rows by namespace as before", async () => {
    proc = await node();
    const empty = await mkdtemp(path.join(tmpdir(), "droptrace-nocgroup-"));
    try {
      const pods = new FakePods();
      pods.pods.set(CART_UID, CART).set(DB_UID, DB);
      const attributor = new PodAttributor(proc.root, pods, empty);
      await attributor.refresh();
      const named = attributeStatus(status([row(CART_NS, 3), { ...row(HOST, 2), socketCgroup: 1234 }]), attributor);
      expect(named.rows.map((r) => r.attribution)).toEqual(["netns", "host"]);
      expect(named.message).toBe(`sockets not attributed: no cgroup v2 hierarchy at ${empty} (nor at ${empty}/unified)`);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it("droptrace run names a container's socket in the host's namespace", async () => {
    const id = "a".repeat(64);
    proc = await FakeProc.create([{ pid: 1, netns: HOST, cgroup: "/init.scope" }]);
    const tree = await cgroupTree([`/system.slice/docker-${id}.scope`]);
    try {
      const attributor = new ContainerAttributor(proc.root, tree.root);
      await attributor.refresh();
      const socketCgroup = await tree.id(`/system.slice/docker-${id}.scope`);
      expect(attributeRows([{ ...row(HOST, 4), socketCgroup }], attributor)).toEqual([
        { ...row(HOST, 4), socketCgroup, attribution: "socket", container: { id, runtime: "docker", cgroup: `/system.slice/docker-${id}.scope` } },
      ]);
    } finally {
      await tree.dispose();
    }
  });
});
