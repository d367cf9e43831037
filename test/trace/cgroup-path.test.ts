// The cgroup shapes kubelet and the container runtimes make, each with where it comes from:
// kubelet's pkg/kubelet/cm (cgroup_manager_linux.go names systemd slices by joining the parents'
// names with "-" and escaping "-" in a name as "_"; pod_container_manager_linux.go names a pod's
// cgroup "pod" + its UID; qos_container_manager_linux.go puts burstable and besteffort pods in
// their own level and guaranteed pods right under kubepods), and each runtime's own scope name.
import { describe, expect, it } from "vitest";
import { chooseCgroupPath, parseCgroupPath, parseProcCgroup } from "../../src/trace/cgroup-path.js";

const UID = "74c13223-5a00-11e9-b385-42010a80018d";
const UID_ = UID.replaceAll("-", "_");
const ID = "34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea03376";

describe("parseCgroupPath on kubelet's layouts", () => {
  it.each([
    // systemd driver, cgroup v2, containerd: a burstable pod (containerd's systemd cgroup scope "cri-containerd-<id>.scope").
    ["systemd, containerd, burstable", `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`, "containerd"],
    // systemd driver, CRI-O (its systemd scope "crio-<id>.scope"), besteffort.
    ["systemd, CRI-O, besteffort", `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`, "cri-o"],
    // systemd driver, dockershim / cri-dockerd ("docker-<id>.scope"), guaranteed: no QoS level.
    ["systemd, docker, guaranteed", `/kubepods.slice/kubepods-pod${UID_}.slice/docker-${ID}.scope`, "docker"],
    // cgroupfs driver, containerd or docker: the container's cgroup is its bare ID.
    ["cgroupfs, burstable", `/kubepods/burstable/pod${UID}/${ID}`, undefined],
    ["cgroupfs, guaranteed", `/kubepods/pod${UID}/${ID}`, undefined],
    ["cgroupfs, besteffort", `/kubepods/besteffort/pod${UID}/${ID}`, undefined],
    // cgroupfs driver, CRI-O: "crio-<id>" without ".scope".
    ["cgroupfs, CRI-O", `/kubepods/burstable/pod${UID}/crio-${ID}`, "cri-o"],
    // kind: the node is a container, kubelet's cgroup root is /kubelet with the systemd driver,
    // so every slice name carries "kubelet-" (kind's kubeadm config sets cgroupRoot: /kubelet).
    [
      "kind, systemd",
      `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
      "containerd",
    ],
    // A kubelet in a docker container with cgroupfs (k3d, minikube's docker driver): the node container's cgroup first.
    ["nested, cgroupfs", `/docker/0123abcd/kubepods/burstable/pod${UID}/${ID}`, undefined],
    // Read from inside a cgroup namespace of its own (an agent pod on cgroup v2): paths relative to the reader's cgroup.
    ["from another cgroup namespace", `/../../kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`, "containerd"],
  ])("%s", (_shape, path, runtime) => {
    expect(parseCgroupPath(path)).toEqual({ path, podUid: UID, containerId: ID, ...(runtime === undefined ? {} : { runtime }) });
  });

  it("names the pod but no container for the pod's own cgroup and CRI-O's conmon scope", () => {
    expect(parseCgroupPath(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`)).toEqual({
      path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`,
      podUid: UID,
    });
    // CRI-O runs conmon, its container monitor, in "crio-conmon-<id>.scope" inside the pod's slice.
    const conmon = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-conmon-${ID}.scope`;
    expect(parseCgroupPath(conmon)).toEqual({ path: conmon, podUid: UID });
  });

  it("names a container outside Kubernetes (docker or podman on a plain host) but no pod", () => {
    // docker with the systemd driver puts containers in system.slice/docker-<id>.scope.
    expect(parseCgroupPath(`/system.slice/docker-${ID}.scope`)).toEqual({ path: `/system.slice/docker-${ID}.scope`, containerId: ID, runtime: "docker" });
  });

  it("names nothing for host processes", () => {
    expect(parseCgroupPath("/system.slice/kubelet.service")).toEqual({ path: "/system.slice/kubelet.service" });
    expect(parseCgroupPath("/user.slice/user-1000.slice/session-3.scope")).toEqual({ path: "/user.slice/user-1000.slice/session-3.scope" });
    expect(parseCgroupPath("/")).toEqual({ path: "/" });
  });
});

describe("parseProcCgroup on /proc/<pid>/cgroup as the kernel prints it", () => {
  it("reads cgroup v2's single line", () => {
    const path = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`;
    expect(parseProcCgroup(`0::${path}\n`)).toMatchObject({ podUid: UID, containerId: ID, runtime: "containerd" });
  });

  it("reads cgroup v1's lines, one per hierarchy, preferring one that names the pod", () => {
    // A v1 host (cgroupfs driver): every controller's hierarchy has kubelet's path; cpuset is one of them.
    const text = [
      `12:cpuset:/kubepods/besteffort/pod${UID}/${ID}`,
      `11:memory:/kubepods/besteffort/pod${UID}/${ID}`,
      `4:cpu,cpuacct:/kubepods/besteffort/pod${UID}/${ID}`,
      `1:name=systemd:/kubepods/besteffort/pod${UID}/${ID}`,
      "",
    ].join("\n");
    expect(parseProcCgroup(text)).toEqual({ path: `/kubepods/besteffort/pod${UID}/${ID}`, podUid: UID, containerId: ID });
  });

  it("on a hybrid host (v1 controllers, an empty unified line) uses the v1 path that names the pod", () => {
    const text = ["10:memory:/kubepods/pod" + UID + "/" + ID, "1:name=systemd:/kubepods/pod" + UID + "/" + ID, "0::/", ""].join("\n");
    expect(chooseCgroupPath(text)).toBe(`/kubepods/pod${UID}/${ID}`);
    expect(parseProcCgroup(text)).toMatchObject({ podUid: UID, containerId: ID });
  });

  it("keeps a host process's path, and has nothing for an empty file", () => {
    expect(parseProcCgroup("0::/init.scope\n")).toEqual({ path: "/init.scope" });
    expect(parseProcCgroup("")).toBeUndefined();
  });
});
