#!/bin/bash
# Init (PID 1) of the real-kernel guest for the droptrace cases (see run-droptrace-cases.sh).
# Runs `droptrace run --output json` as a user would while making drops whose number and kind
# are known, and leaves everything in /droptrace/out for kernel.test.ts to assert on.
# stap is masked: the guest must never compile (under emulation that takes over 20 minutes),
# it loads the module compiled on the host, or says it cannot.
#
# /droptrace/cases.env says which cases this boot runs (CASES):
#   full:   every scenario; agents killed and restarted; filters; stacks, a normal drop and
#           drops in a NIC; the CPU guard; no module and no compiler
#   matrix: the same but for the agents killed; a cache holding only other kernels' modules
# Every wait is for a condition (the run's "armed:" line, a counter, a link's carrier), never a
# fixed sleep: under emulation the same step takes 0.4 s on one boot and 12 s on another.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
set -u
OUT=/droptrace/out
mkdir -p "$OUT"
. /droptrace/guest-common.sh
mount_guest_filesystems
CASES=full
[[ -f /droptrace/cases.env ]] && . /droptrace/cases.env
say() { echo "droptrace-guest: $*"; }
up() { cut -d' ' -f1 /proc/uptime; }
status=0

mkdir -p /opt/droptrace /var/cache/droptrace
tar -C /opt/droptrace -xzf /droptrace/droptrace.tgz
tar -C /var/cache/droptrace -xzf /droptrace/module-cache.tgz
mount --bind /bin/false /usr/bin/stap
say "kernel $(uname -r), cases $CASES, node $(node --version), $(staprun -V 2>&1 | head -n1)"
uname -r >"$OUT/uname-r.txt"
# What this kernel publishes, for the assertions: its reason table, and its lockdown state.
cp /sys/kernel/tracing/events/skb/kfree_skb/format "$OUT/kfree_skb.format" 2>/dev/null
cat /sys/kernel/security/lockdown >"$OUT/lockdown.txt" 2>/dev/null || echo "(no lockdown file)" >"$OUT/lockdown.txt"

# wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds; says so and fails after SECONDS.
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@"; do
    if (( $(date +%s) >= deadline )); then say "FAIL: timed out after ${seconds}s waiting for $what"; return 1; fi
    sleep 0.1
  done
}

# ---- network (guest-common.sh): lo; a <-> b over va/vb, a DROP rule in b; an eth0 in c and d
setup_test_network || { say "FAIL: iptables rule not added"; status=1; }
{
  echo "root $(stat -L -c %i /proc/self/ns/net)"
  for ns in a b c d; do echo "$ns $(stat -L -c %i /run/netns/$ns)"; done
} >"$OUT/netns-inums.txt"
# This shell's cgroup v2 and its directory's inode, which is the cgroup's ID, the one a socket
# it makes carries (R records). Read on a mount of its own: what the guest's init left at
# /sys/fs/cgroup (moved from its initrd) showed inode 3 for its root on 6.1, where a fresh
# cgroup2 mount shows 1, the root cgroup's ID.
mkdir -p /run/cgroup2 && mount -t cgroup2 none /run/cgroup2
self_cgroup=$(sed -n 's/^0:://p' /proc/self/cgroup)
echo "$self_cgroup $(stat -c %i "/run/cgroup2$self_cgroup")" >"$OUT/cgroup-self.txt"
carrier() { ip ${2:+-n "$2"} link show "$1" | grep -q LOWER_UP; }
links_up() { carrier va a && carrier vb b && carrier hc && carrier hd && carrier eth0 c && carrier eth0 d; }
wait_for 60 "the test links' carrier" links_up || status=1

udp() { # COUNT HOST PORT [NETNS]
  local n=$1 host=$2 port=$3 ns=${4:-}
  if [[ -n $ns ]]; then
    ip netns exec "$ns" bash -c "for i in \$(seq 1 $n); do echo x > /dev/udp/$host/$port; done" 2>/dev/null
  else
    for i in $(seq 1 "$n"); do echo x >"/dev/udp/$host/$port"; done 2>/dev/null
  fi
}
# The DROP rule's packet counter in b: every datagram sent to it has been through netfilter.
dropped_by_rule() { ip netns exec b iptables -L INPUT -n -v -x | awk '/dpt:7777/ { print $1 }'; }
rule_counted() { [[ $(dropped_by_rule) -ge $1 ]]; }

# run_case NAME ARGS...: droptrace run in the background, stdout JSON to NAME.json, stderr
# (progress lines, stamped with guest uptime) to NAME.err, exit code to NAME.rc.
run_case() {
  local name=$1; shift
  CASE_NAME=$name
  echo "$(up)" >"$OUT/$name.started"
  ( setsid node /opt/droptrace/dist/src/cli/main.js run "$@" >"$OUT/$name.json" 2> >(while IFS= read -r l; do echo "$(up) $l"; done >"$OUT/$name.err"); echo $? >"$OUT/$name.rc" ) &
  CASE_PID=$!
}
# wait_armed: until the run says its probe is armed (drops from then on are counted), or it died.
armed_or_gone() { grep -q ' armed: ' "$OUT/$CASE_NAME.err" 2>/dev/null || ! kill -0 "$CASE_PID" 2>/dev/null; }
wait_armed() {
  wait_for 300 "$CASE_NAME's probe to be armed" armed_or_gone || return 1
  grep -q ' armed: ' "$OUT/$CASE_NAME.err" || { say "FAIL: $CASE_NAME ended before its probe was armed"; return 1; }
}
finish_case() { # NAME: wait for it, record what is loaded afterwards
  wait "$CASE_PID"
  grep '^droptrace_' /proc/modules >"$OUT/$1.modules-after" || true
}

# ---- case 1: every scenario, counted exactly -------------------------------------------
# 300 lo NO_SOCKET; 120 vb NETFILTER_DROP; 70 vb NO_SOCKET; 30 eth0@c (one flow,
# 10.9.1.1:40000 -> 10.9.1.2:6000), 20 eth0@d NO_SOCKET; then vb down and 40 va NEIGH_FAILED.
# Every other datagram comes from a socket of its own: as many flows as datagrams.
say "case 1: scenarios"
run_case scenarios --output json --duration 40s --interval 5s
wait_armed && echo "$(up)" >"$OUT/scenarios.armed" || status=1
# /proc/modules with the probe loaded and live, as the agent reads it.
cp /proc/modules "$OUT/proc-modules.txt"
udp 300 127.0.0.1 9
udp 120 10.9.0.2 7777 a
udp 70 10.9.0.2 5555 a
# From one socket bound to 10.9.1.1:40000: one flow, its addresses and ports known exactly.
node -e 'const s = require("node:dgram").createSocket("udp4"); s.bind(40000, "10.9.1.1", () => { let n = 0;
  const next = (err) => { if (err) throw err; if (n++ < 30) s.send("x", 6000, "10.9.1.2", next); else s.close(); }; next(); });'
udp 20 10.9.2.2 6000
# Taking vb down must not cut off datagrams still on their way through it.
wait_for 30 "the DROP rule to have counted 120 datagrams" rule_counted 120 || status=1
ip -n b link set vb down
udp 40 10.9.0.2 5555 a
ip netns exec b iptables -L INPUT -n -v -x >"$OUT/iptables-counters.txt" 2>&1
finish_case scenarios
ip -n b link set vb up
wait_for 60 "vb's carrier again" links_up || status=1

if [[ $CASES == full ]]; then
  # ---- case 2: agents killed mid-trace, then started again ----------------------------------
  # 2a: only the agent (node) is killed: its loader, stapio, lives on as an orphan holding the module.
  # 2b: the whole process group is killed, as a container runtime kills a container: the module
  #     stays loaded with nothing attached. Each next run must remove the leftover and trace.
  say "case 2: SIGKILL, then new runs"
  agent_pid() { pgrep -f 'cli/main.js run' | head -n1; }
  run_case killed --output json --duration 90s --interval 5s
  wait_armed || status=1
  grep '^droptrace_' /proc/modules >"$OUT/killed.modules-before-kill" || true
  kill -KILL "$(agent_pid)"
  wait "$CASE_PID" 2>/dev/null
  grep '^droptrace_' /proc/modules >"$OUT/killed.modules-after-kill" || true
  pgrep -a stapio >"$OUT/killed.orphans" || true
  run_case orphan-cleared --output json --duration 90s --interval 5s
  wait_armed || status=1
  grep '^droptrace_' /proc/modules >"$OUT/orphan-cleared.modules-running" || true
  kill -KILL -- "-$(agent_pid)"
  wait "$CASE_PID" 2>/dev/null
  grep '^droptrace_' /proc/modules >"$OUT/group-killed.modules-after-kill" || true
  pgrep -a stapio >"$OUT/group-killed.orphans" || true
  run_case restarted --output json --duration 20s --interval 5s
  wait_armed || status=1
  udp 50 127.0.0.1 9
  finish_case restarted
fi

# ---- case 3: filters ----------------------------------------------------------------------
say "case 3: --interface lo --interface 'vb*' --reason NO_SOCKET"
run_case filtered --output json --duration 20s --interval 5s --interface lo --interface 'vb*' --reason NO_SOCKET
wait_armed || status=1
udp 30 127.0.0.1 9          # lo, NO_SOCKET: kept
udp 20 10.9.0.2 5555 a      # vb, NO_SOCKET: kept (prefix)
udp 10 10.9.0.2 7777 a      # vb, NETFILTER_DROP: another reason
udp 15 10.9.1.2 6000        # eth0, NO_SOCKET: another interface
finish_case filtered

# ---- case 7, "pods": the agent names each drop's pod ------------------------------------------
# `droptrace agent` as its DaemonSet runs it, against the test API server (guest-apiserver.ts)
# holding three pods of this node, whose processes live in kubelet-shaped cgroups (cgroup v2):
#   A shop/web-…   (Deployment web)  systemd driver: kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope,
#                  netns pod-a, eth0 10.9.10.2 (vpa 10.9.10.1): 60 UDP to a closed port, NO_SOCKET;
#   B shop/db-0    (StatefulSet db)  cgroupfs driver: /kubepods/burstable/pod<uid>/<id>,
#                  netns pod-b, eth0 10.9.11.2 (vpb 10.9.11.1): 50 UDP into a DROP rule, NETFILTER_DROP;
#   H kube-system/node-agent-… (DaemonSet node-agent), host network, node IP 10.9.12.1:
#                  40 UDP it sends through a DROP rule in the root namespace's OUTPUT (NETFILTER_DROP,
#                  the skb carries H's socket and no device), and a connected UDP socket with the
#                  smallest SO_RCVBUF that it never reads, flooded with 200 datagrams from netns peer
#                  (eth0 10.9.12.2, vpeer 10.9.12.1): SOCKET_RCVBUFF for all that do not fit.
# Every datagram has a fixed source and destination address and port (pods/facts.env), for flows.
# H's processes are in their cgroup before they open a socket: a socket belongs to the cgroup its
# creator was in. Everything the assertions need is in $OUT/pods: facts.env, reports.json (the
# DropTraceReports as the API server held them once the agent had stopped), agent.log, pods.env.
say "case pods: the agent names each drop's pod (test API server in the guest)"
pods_case() {
PODS=$OUT/pods
mkdir -p "$PODS"
echo "$(up)" >"$PODS/started"
# The cgroup v2 hierarchy, mounted again where nothing else is: in the cgroup2 mount the initrd left
# on /sys/fs/cgroup (under the sysfs this init mounts over it) mkdir failed with "No such file or
# directory" on 6.1. Where it is mounted does not matter: /proc/<pid>/cgroup gives paths from the
# hierarchy's root (here, init is in /init.scope).
CG=/run/cgroup2
mkdir -p $CG
mountpoint -q $CG || mount -t cgroup2 none $CG || { say "FAIL: cannot mount cgroup2"; return 1; }
{ grep cgroup /proc/self/mountinfo; echo "init: $(cat /proc/1/cgroup)"; ls -la /sys/fs; } >"$PODS/cgroup-mounts.txt" 2>&1
fact() { echo "$1=$2" >>"$PODS/facts.env"; }
# pod_netns NAME HOST_IF HOST_IP POD_IP: a pod's network: its own namespace, an eth0 that is a veth
# to the root namespace, IPv4 only, and permanent neighbour entries both ways (no ARP queue to
# overflow): each link carries only the datagrams sent on purpose, so its counters count them.
pod_netns() {
  ip netns add "$1"; ip -n "$1" link set lo up
  ip link add "$2" type veth peer name eth0 netns "$1"
  sysctl -q -w "net.ipv6.conf.$2.disable_ipv6=1"
  ip netns exec "$1" sysctl -q -w net.ipv6.conf.eth0.disable_ipv6=1
  ip addr add "$3/24" dev "$2"; ip link set "$2" up
  ip -n "$1" addr add "$4/24" dev eth0; ip -n "$1" link set eth0 up
  ip -n "$1" route add default via "$3"
  ip neigh replace "$4" lladdr "$(ip -n "$1" -br link show eth0 | awk '{ print $3 }')" dev "$2" nud permanent
  ip -n "$1" neigh replace "$3" lladdr "$(ip -br link show "$2" | awk '{ print $3 }')" dev eth0 nud permanent
  fact "netns_$1" "$(stat -L -c %i "/run/netns/$1")"
}
pod_netns pod-a vpa 10.9.10.1 10.9.10.2
pod_netns pod-b vpb 10.9.11.1 10.9.11.2
pod_netns peer vpeer 10.9.12.1 10.9.12.2
fact netns_root "$(stat -L -c %i /proc/self/ns/net)"
pods_links_up() { carrier vpa && carrier vpb && carrier vpeer && carrier eth0 pod-a && carrier eth0 pod-b && carrier eth0 peer; }
wait_for 60 "the pods' links' carrier" pods_links_up || status=1
ip netns exec pod-b iptables -A INPUT -p udp --dport 7002 -j DROP || { say "FAIL: pod-b's DROP rule not added"; status=1; }
iptables -A OUTPUT -p udp --dport 7003 -j DROP || { say "FAIL: the OUTPUT DROP rule not added"; status=1; }

mkdir -p /opt/test-apiserver
tar -C /opt/test-apiserver -xzf /droptrace/guest-apiserver.tgz
(NODE_NAME=guest-node NODE_IP=10.9.12.1 POD_A_IP=10.9.10.2 POD_B_IP=10.9.11.2 TRACE=pods TRACE_DURATION=10m CRD_DIR=/opt/test-apiserver/crds \
  exec node /opt/test-apiserver/guest-apiserver.mjs "$PODS" >"$PODS/apiserver.log" 2>&1) &
apiserver_pid=$!
wait_for 180 "the test API server's pods" test -f "$PODS/pods.env" || { kill "$apiserver_pid"; return 1; }
. "$PODS/pods.env"

# The pods' cgroups, named after the UIDs the API server gave them, as kubelet names them.
container_id() { printf '%s' "$1" | sha256sum | cut -c1-64; }
CG_A=/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD_A_UID//-/_}.slice/cri-containerd-$(container_id a).scope
CG_B=/kubepods/burstable/pod${POD_B_UID}/$(container_id b)
CG_H=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_H_UID//-/_}.slice/cri-containerd-$(container_id h).scope
for key in A B H; do
  var=CG_$key uid=POD_${key}_UID
  mkdir -p "$CG${!var}" || { say "FAIL: cannot make pod $key's cgroup"; kill "$apiserver_pid"; return 1; }
  fact "pod_${key,,}_uid" "${!uid}"
  fact "pod_${key,,}_cgroup" "${!var}"
  fact "pod_${key,,}_cgroup_inode" "$(stat -c %i "$CG${!var}")"
done
# in_pod CGROUP NETNS COMMAND...: execs COMMAND as a process of that pod from its first instruction
# (its shell joins the cgroup, then execs it); run it in a subshell, or in the background, where $!
# is then COMMAND's PID. nsenter, not `ip netns exec`, which remounts /sys.
in_pod() {
  local cg=$1 ns=$2; shift 2
  exec nsenter --net="$ns" bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG$cg" "$@"
}
cat >/tmp/udp-send.py <<'PY'
# udp-send.py SRC_IP SRC_PORT DST_IP DST_PORT COUNT [SIZE]: COUNT datagrams from one socket bound
# to SRC; prints how many the kernel took and how many it refused (EPERM from a netfilter DROP).
import socket, sys
src, sport, dst, dport, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
size = int(sys.argv[6]) if len(sys.argv) > 6 else 1
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, sport))
sent = refused = 0
for _ in range(count):
    try:
        s.sendto(b"x" * size, (dst, dport))
        sent += 1
    except PermissionError:
        refused += 1
print(f"sent={sent} refused={refused}")
PY
cat >/tmp/never-reads.py <<'PY'
# never-reads.py LOCAL_IP LOCAL_PORT PEER_IP PEER_PORT READY_FILE: a connected UDP socket with the
# smallest receive buffer, never read; writes the buffer's size to READY_FILE, then waits.
import signal, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.connect((sys.argv[3], int(sys.argv[4])))
with open(sys.argv[5], "w") as f:
    f.write(f"{s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}\n")
signal.pause()
PY
in_pod "$CG_A" /run/netns/pod-a sleep infinity & pod_a_pid=$!
in_pod "$CG_B" /run/netns/pod-b sleep infinity & pod_b_pid=$!
in_pod "$CG_H" /proc/1/ns/net python3 /tmp/never-reads.py 10.9.12.1 7004 10.9.12.2 7104 "$PODS/h-rcvbuf" & pod_h_pid=$!
in_cgroup() { grep -qx "0::$2" "/proc/$1/cgroup"; }
wait_for 60 "pod A's process in its cgroup" in_cgroup "$pod_a_pid" "$CG_A" || status=1
wait_for 60 "pod B's process in its cgroup" in_cgroup "$pod_b_pid" "$CG_B" || status=1
wait_for 60 "pod H's socket" test -s "$PODS/h-rcvbuf" || status=1
fact pod_h_rcvbuf_bytes "$(cat "$PODS/h-rcvbuf")"
for key in a b h; do
  pid_var=pod_${key}_pid
  cat "/proc/${!pid_var}/cgroup" >"$PODS/pod-$key.proc-cgroup"
  fact "pod_${key}_pid" "${!pid_var}"
  fact "pod_${key}_pid_netns" "$(stat -L -c %i "/proc/${!pid_var}/ns/net")"
done

# The agent, with the environment the controller's DaemonSet gives it (controller/daemonset.ts),
# the host's /proc being this /proc.
echo "$(up)" >"$PODS/agent-started"
(
  export KUBECONFIG=$PODS/kubeconfig NODE_NAME=guest-node DROPTRACE_TRACE=pods DROPTRACE_TRACE_UID=$TRACE_UID \
    DROPTRACE_DURATION=10m DROPTRACE_REPORT_INTERVAL=5s DROPTRACE_INTERFACES= DROPTRACE_REASONS= DROPTRACE_STACKS=false \
    DROPTRACE_MAX_PROBE_CPU_PERCENT=5 DROPTRACE_NAMESPACES= DROPTRACE_POD_SELECTOR= DROPTRACE_CACHE_DIR=/var/cache/droptrace \
    DROPTRACE_METRICS_PORT=9102 DROPTRACE_ROW_CAP=1000 DROPTRACE_HOST_PROC=/proc DROPTRACE_HOST_CGROUP=$CG
  exec node /opt/droptrace/dist/src/cli/main.js agent >"$PODS/agent.log" 2>&1
) &
agent_pid=$!
agent_armed_or_gone() { grep -q '"msg":"probe armed: counting"' "$PODS/agent.log" 2>/dev/null || ! kill -0 "$agent_pid" 2>/dev/null; }
wait_for 300 "the agent's probe to be armed" agent_armed_or_gone || status=1
grep -q '"msg":"probe armed: counting"' "$PODS/agent.log" || { say "FAIL: the agent ended before its probe was armed"; status=1; }
echo "$(up)" >"$PODS/armed"

snmp() { # NETNS PROTO FIELD: a counter of /proc/net/snmp in that namespace
  ip netns exec "$1" awk -v p="$2:" -v f="$3" '$1 == p && !n { for (i = 2; i <= NF; i++) col[$i] = i; n = 1; next } $1 == p { print $col[f] }' /proc/net/snmp
}
root_snmp() { awk -v p="$1:" -v f="$2" '$1 == p && !n { for (i = 2; i <= NF; i++) col[$i] = i; n = 1; next } $1 == p { print $col[f] }' /proc/net/snmp; }
rule_packets() { # [NETNS] CHAIN PORT
  if [[ $# == 3 ]]; then ip netns exec "$1" iptables -L "$2" -n -v -x; else iptables -L "$1" -n -v -x; fi | awk -v p="dpt:${*: -1}" '$0 ~ p { print $1 }'
}
socket_drops() { awk -v a="$1" '$2 == a { print $NF }' /proc/net/udp; }
h_socket=$(printf '%02X%02X%02X%02X:%04X' 1 12 9 10 7004) # 10.9.12.1:7004 as /proc/net/udp writes it
ge() { [[ $("${@:2}") -ge $1 ]]; }
a_noports0=$(snmp pod-a Udp NoPorts)
vpeer_rx() { ip -s link show vpeer | awk '/RX:/ { getline; print $2; exit }'; }
vpeer_rx0=$(vpeer_rx) rcvbuf_errors0=$(root_snmp Udp RcvbufErrors)

# A: 60 to a closed port on its eth0, from 10.9.10.1:7101.
fact a_sent 60; fact a_src 10.9.10.1:7101; fact a_dst 10.9.10.2:7001
python3 /tmp/udp-send.py 10.9.10.1 7101 10.9.10.2 7001 60 >"$PODS/a-send.txt"
# B: 50 into its DROP rule, from 10.9.11.1:7102.
fact b_sent 50; fact b_src 10.9.11.1:7102; fact b_dst 10.9.11.2:7002
python3 /tmp/udp-send.py 10.9.11.1 7102 10.9.11.2 7002 50 >"$PODS/b-send.txt"
# H: 40 sent by a process of pod H (as `kubectl exec` would run it) into the OUTPUT DROP rule.
fact h_out_sent 40; fact h_out_src 10.9.12.1:7103; fact h_out_dst 10.9.12.2:7003
(in_pod "$CG_H" /proc/1/ns/net python3 /tmp/udp-send.py 10.9.12.1 7103 10.9.12.2 7003 40 >"$PODS/h-out-send.txt")
# H: 200 of 100 bytes from netns peer to its socket that never reads.
fact h_rcvbuf_sent 200; fact h_rcvbuf_src 10.9.12.2:7104; fact h_rcvbuf_dst 10.9.12.1:7004
ip netns exec peer python3 /tmp/udp-send.py 10.9.12.2 7104 10.9.12.1 7004 200 100 >"$PODS/h-rcvbuf-send.txt"

a_noports() { echo $(( $(snmp pod-a Udp NoPorts) - a_noports0 )); }
h_received() { echo $(( $(vpeer_rx) - vpeer_rx0 )); }
wait_for 60 "pod A's namespace to count 60 NoPorts" ge 60 a_noports || status=1
wait_for 60 "pod B's rule to count 50" ge 50 rule_packets pod-b INPUT 7002 || status=1
wait_for 60 "the OUTPUT rule to count 40" ge 40 rule_packets OUTPUT 7003 || status=1
wait_for 60 "the node to receive H's 200 datagrams" ge 200 h_received || status=1
fact a_noports "$(a_noports)"
fact b_rule_packets "$(rule_packets pod-b INPUT 7002)"
fact h_out_rule_packets "$(rule_packets OUTPUT 7003)"
fact h_out_refused "$(sed -n 's/.*refused=\([0-9]*\).*/\1/p' "$PODS/h-out-send.txt")"
fact h_rcvbuf_socket_drops "$(socket_drops "$h_socket")"
fact h_rcvbuf_received "$(h_received)"
fact h_rcvbuf_udp_rcvbuf_errors "$(( $(root_snmp Udp RcvbufErrors) - rcvbuf_errors0 ))"
grep -E '^ *sl|:1B5C ' /proc/net/udp >"$PODS/proc-net-udp.txt"

kill -TERM "$agent_pid"
wait "$agent_pid"; echo $? >"$PODS/agent.rc"
echo "$(up)" >"$PODS/ended"
kill -TERM "$apiserver_pid"
wait "$apiserver_pid"; echo $? >"$PODS/apiserver.rc"
test -s "$PODS/reports.json" || { say "FAIL: no reports.json from the test API server"; status=1; }
kill "$pod_a_pid" "$pod_b_pid" "$pod_h_pid" 2>/dev/null; wait "$pod_a_pid" "$pod_b_pid" "$pod_h_pid" 2>/dev/null
iptables -D OUTPUT -p udp --dport 7003 -j DROP
for ns in pod-a pod-b peer; do ip netns del "$ns"; done
echo "$(up)" >"$PODS/cleaned"
}
pods_case || status=1

# ---- case 4: what drops mean, their code path, and drops the probe cannot see --------------
#   25 OTHERHOST on eth0@c: datagrams to 10.9.1.2 sent to a MAC that is not eth0's (a static
#      neighbour entry with a wrong address): a normal drop;
#   30 NOT_SPECIFIED at ip6_mc_input on eth0@c: IPv6 multicast to a group nothing in c joined;
#   20 frames longer than the e1000's MTU from the virtio-net in netns n (MTU 9000): the NIC
#      refuses them before the kernel has an skb (boot-guest.sh DROPTRACE_GUEST_NIC_LOOP=1), so
#      no row holds them and the root namespace's RxFrameErrors counts them;
# with --stacks. The run is stopped (SIGTERM) once the kernel has counted all of it.
say "case 4: --stacks; OTHERHOST, ip6_mc_input, drops in a NIC"
nic_by_mac() { grep -l "$1" /sys/class/net/*/address 2>/dev/null | head -n1 | cut -d/ -f5; }
modprobe virtio_net; modprobe e1000
nic_a=$(nic_by_mac 52:54:00:00:00:0a) nic_b=$(nic_by_mac 52:54:00:00:00:0b)
if [[ -z $nic_a || -z $nic_b ]]; then
  say "FAIL: the NIC loop's devices are missing (a: '$nic_a', b: '$nic_b')"; status=1
else
  ip link set "$nic_b" down; ip link set "$nic_b" name nic1
  ip netns add n; ip link set "$nic_a" netns n; ip -n n link set "$nic_a" name nic0
  ip addr add 10.9.5.2/24 dev nic1; ip link set nic1 up
  ip -n n addr add 10.9.5.1/24 dev nic0; ip -n n link set nic0 mtu 9000 up
  ip -n n neigh replace 10.9.5.2 lladdr 52:54:00:00:00:0b dev nic0 nud permanent
  wait_for 60 "the NIC loop's carrier" carrier nic1 || status=1
fi
rx_packets() { ip -n "$2" -s link show "$1" | awk '/RX:/ { getline; print $2; exit }'; }
frame_errors() { tr ':' ' ' </proc/net/dev | awk -v d="$1" '$1 == d { print $7 }'; }
at_least() { [[ $($1 "${@:3}") -ge $2 ]]; }
c_rx0=$(rx_packets eth0 c) frames0=$(frame_errors nic1)
run_case explained --output json --duration 300s --interval 5s --stacks
wait_armed || status=1
ip neigh replace 10.9.1.2 lladdr 02:00:00:00:00:99 dev hc nud permanent
udp 25 10.9.1.2 6000
ip neigh del 10.9.1.2 dev hc
node -e 'const s = require("node:dgram").createSocket("udp6"); let n = 0;
  const next = (err) => { if (err) throw err; if (n++ < 30) s.send("x", 9, "ff02::1234%hc", next); else s.close(); }; next();'
ip netns exec n bash -c 'for i in $(seq 1 20); do head -c 4000 /dev/zero > /dev/udp/10.9.5.2/9; done' 2>/dev/null
wait_for 60 "eth0 in c to receive the 55 datagrams" at_least rx_packets $((c_rx0 + 55)) eth0 c || status=1
# The e1000's driver reads its statistics registers every two seconds.
wait_for 60 "nic1 to count 20 frame errors" at_least frame_errors $((frames0 + 20)) nic1 || status=1
echo "c_rx_before=$c_rx0 c_rx_after=$(rx_packets eth0 c) nic1_frame_before=$frames0 nic1_frame_after=$(frame_errors nic1)" >"$OUT/explained.kernel.txt"
kill -TERM "$(pgrep -f 'cli/main.js run' | head -n1)"
finish_case explained

# ---- case 5: the probe's CPU guard ----------------------------------------------------------
# A limit of 1% of the CPUs and two senders flooding a closed port on lo: the probe stops itself
# (ProbeOverload) long before its 120 s, with what it counted so far.
say "case 5: --max-probe-cpu-percent 1 under a flood"
cat >/tmp/flood.js <<'JS'
const s = require("node:dgram").createSocket("udp4");
let sent = 0;
const next = (err) => { if (err) process.exit(1); if (sent++ >= Number(process.argv[2])) { s.close(); return; } s.send("x", 9, "127.0.0.1", next); };
next();
JS
run_case overload --output json --duration 120s --interval 5s --max-probe-cpu-percent 1
wait_armed || status=1
node /tmp/flood.js 200000 & flood_a=$!
node /tmp/flood.js 200000 & flood_b=$!
finish_case overload
echo "$(up)" >"$OUT/overload.ended"
kill "$flood_a" "$flood_b" 2>/dev/null; wait "$flood_a" "$flood_b" 2>/dev/null

# ---- case 6: no module for this kernel, and no compiler ------------------------------------
if [[ $CASES == full ]]; then
  say "case 6: empty module cache, no stap"
  mkdir -p /tmp/nocache
else
  # The cache holds the probe compiled for the other kernels, never to be loaded on this one.
  say "case 6: a cache with only other kernels' modules, no stap"
  mkdir -p /tmp/nocache
  for dir in /var/cache/droptrace/*/; do
    [[ $(basename "$dir") == "$(uname -r)" || $(basename "$dir") == loaded ]] || cp -a "$dir" /tmp/nocache/
  done
  ls /tmp/nocache >"$OUT/nocache.releases"
fi
node /opt/droptrace/dist/src/cli/main.js run --output json --duration 5s --cache-dir /tmp/nocache >"$OUT/nocache.json" 2>"$OUT/nocache.err"
echo $? >"$OUT/nocache.rc"

grep '^droptrace_' /proc/modules >"$OUT/final-modules" || true
sync
say "exit $status"
echo o >/proc/sysrq-trigger
sleep 30
