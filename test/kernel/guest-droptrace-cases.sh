#!/bin/bash
# Init (PID 1) of the real-kernel guest for the droptrace cases (see run-droptrace-cases.sh).
# Runs `droptrace run --output json` as a user would while making drops whose number and kind
# are known, and leaves everything in /droptrace/out for kernel.test.ts to assert on.
# stap is masked: the guest must never compile (under emulation that takes over 20 minutes),
# it loads the module compiled on the host, or says it cannot.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
set -u
OUT=/droptrace/out
mkdir -p "$OUT"
. /droptrace/guest-common.sh
mount_guest_filesystems
say() { echo "droptrace-guest: $*"; }
up() { cut -d' ' -f1 /proc/uptime; }
status=0

mkdir -p /opt/droptrace /var/cache/droptrace
tar -C /opt/droptrace -xzf /droptrace/droptrace.tgz
tar -C /var/cache/droptrace -xzf /droptrace/module-cache.tgz
mount --bind /bin/false /usr/bin/stap
droptrace() { node /opt/droptrace/dist/src/cli/main.js "$@"; }
say "kernel $(uname -r), node $(node --version), $(staprun -V 2>&1 | head -n1)"
uname -r >"$OUT/uname-r.txt"

# ---- network (guest-common.sh): lo; a <-> b over va/vb, a DROP rule in b; an eth0 in c and d
setup_test_network || { say "FAIL: iptables rule not added"; status=1; }
{
  echo "root $(stat -L -c %i /proc/self/ns/net)"
  for ns in a b c d; do echo "$ns $(stat -L -c %i /run/netns/$ns)"; done
} >"$OUT/netns-inums.txt"
sleep 2

udp() { # COUNT HOST PORT [NETNS]
  local n=$1 host=$2 port=$3 ns=${4:-}
  if [[ -n $ns ]]; then
    ip netns exec "$ns" bash -c "for i in \$(seq 1 $n); do echo x > /dev/udp/$host/$port; done" 2>/dev/null
  else
    for i in $(seq 1 "$n"); do echo x >"/dev/udp/$host/$port"; done 2>/dev/null
  fi
}
modules_now() { grep -o '^droptrace_[^ ]*' /proc/modules | sort; }
# wait_loaded PID: until a module that was not loaded when the case started is live (a leftover
# from a killed run does not count), or the run died.
wait_loaded() {
  for _ in $(seq 1 900); do
    if [[ -n $(comm -13 <(echo "$CASE_BEFORE") <(modules_now)) ]]; then sleep 1; return 0; fi
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}
# run_case NAME ARGS...: droptrace run in the background, stdout JSON to NAME.json, stderr
# (progress lines, stamped with guest uptime) to NAME.err, exit code to NAME.rc.
run_case() {
  local name=$1; shift
  CASE_BEFORE=$(modules_now)
  echo "$(up)" >"$OUT/$name.started"
  ( setsid node /opt/droptrace/dist/src/cli/main.js run "$@" >"$OUT/$name.json" 2> >(while IFS= read -r l; do echo "$(up) $l"; done >"$OUT/$name.err"); echo $? >"$OUT/$name.rc" ) &
  CASE_PID=$!
}
finish_case() { # NAME: wait for it, record what is loaded afterwards
  wait "$CASE_PID"
  sleep 1
  grep '^droptrace_' /proc/modules >"$OUT/$1.modules-after" || true
}

# ---- case 1: every scenario, counted exactly -------------------------------------------
# 300 lo NO_SOCKET; 120 vb NETFILTER_DROP (nf_tables); 70 vb NO_SOCKET; 30 eth0@c, 20 eth0@d
# NO_SOCKET; then vb down and 40 va NEIGH_FAILED.
say "case 1: scenarios"
run_case scenarios --output json --duration 40s --interval 5s
wait_loaded "$CASE_PID" && echo "$(up)" >"$OUT/scenarios.loaded" || { say "FAIL: case 1 never loaded its module"; status=1; }
udp 300 127.0.0.1 9
udp 120 10.9.0.2 7777 a
udp 70 10.9.0.2 5555 a
udp 30 10.9.1.2 6000
udp 20 10.9.2.2 6000
sleep 2
ip -n b link set vb down
udp 40 10.9.0.2 5555 a
ip netns exec b iptables -L INPUT -n -v -x >"$OUT/iptables-counters.txt" 2>&1
finish_case scenarios
ip -n b link set vb up

# ---- case 2: agents killed mid-trace, then started again ----------------------------------
# 2a: only the agent (node) is killed: its loader, stapio, lives on as an orphan holding the module.
# 2b: the whole process group is killed, as a container runtime kills a container: the module
#     stays loaded with nothing attached. Each next run must remove the leftover and trace.
say "case 2: SIGKILL, then new runs"
agent_pid() { pgrep -f 'cli/main.js run' | head -n1; }
run_case killed --output json --duration 90s --interval 5s
wait_loaded "$CASE_PID" || say "FAIL: case 2 never loaded its module"
grep '^droptrace_' /proc/modules >"$OUT/killed.modules-before-kill" || true
kill -KILL "$(agent_pid)"
wait "$CASE_PID" 2>/dev/null
sleep 1
grep '^droptrace_' /proc/modules >"$OUT/killed.modules-after-kill" || true
pgrep -a stapio >"$OUT/killed.orphans" || true
run_case orphan-cleared --output json --duration 90s --interval 5s
wait_loaded "$CASE_PID" || say "FAIL: the run after the orphan never loaded its module"
grep '^droptrace_' /proc/modules >"$OUT/orphan-cleared.modules-running" || true
kill -KILL -- "-$(agent_pid)"
wait "$CASE_PID" 2>/dev/null
sleep 1
grep '^droptrace_' /proc/modules >"$OUT/group-killed.modules-after-kill" || true
pgrep -a stapio >"$OUT/group-killed.orphans" || true
run_case restarted --output json --duration 20s --interval 5s
wait_loaded "$CASE_PID" || say "FAIL: the run after the group kill never loaded its module"
udp 50 127.0.0.1 9
finish_case restarted

# ---- case 3: filters ----------------------------------------------------------------------
say "case 3: --interface lo --interface 'vb*' --reason NO_SOCKET"
sleep 2
run_case filtered --output json --duration 20s --interval 5s --interface lo --interface 'vb*' --reason NO_SOCKET
wait_loaded "$CASE_PID" || say "FAIL: case 3 never loaded its module"
udp 30 127.0.0.1 9          # lo, NO_SOCKET: kept
udp 20 10.9.0.2 5555 a      # vb, NO_SOCKET: kept (prefix)
udp 10 10.9.0.2 7777 a      # vb, NETFILTER_DROP: another reason
udp 15 10.9.1.2 6000        # eth0, NO_SOCKET: another interface
finish_case filtered

# ---- case 4: no compiled module and no compiler ------------------------------------------
say "case 4: empty module cache, no stap"
mkdir -p /tmp/empty-cache
node /opt/droptrace/dist/src/cli/main.js run --output json --duration 5s --cache-dir /tmp/empty-cache >"$OUT/nocache.json" 2>"$OUT/nocache.err"
echo $? >"$OUT/nocache.rc"

grep '^droptrace_' /proc/modules >"$OUT/final-modules" || true
sync
say "exit $status"
echo o >/proc/sysrq-trigger
sleep 30
