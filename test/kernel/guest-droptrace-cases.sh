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
