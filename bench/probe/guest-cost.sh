#!/bin/bash
# Init (PID 1) of the probe-cost guest (see cost.sh, which boots it with -smp 1).
#
# /droptrace/ holds: dropflood (static sender), bench.env (ROUNDS, FLOODS, COUNT, WARMUP), modes.tsv
# (one probe mode a line: NAME<TAB>stap<TAB>MODULE.ko[<TAB>PARAM...],
# NAME<TAB>stap-nocount<TAB>MODULE.ko (an ablation whose output is not checked) or
# NAME<TAB>bpftrace<TAB>PROGRAM.bt), the modules and the bpftrace programs.
#
# Each round floods with no probe, then with one probe mode, then with none again, and so on
# for every mode, so each probe run sits between two baselines; the modes' order rotates from
# round to round. A run is FLOODS floods of COUNT datagrams (a tool stays loaded over all of
# them: bpftrace alone takes minutes to start here). Every probe is started, armed (waited for: SystemTap's "probes: N" kernel
# log line, bpftrace's "Attached N probes"), flooded, then stopped, and its output checked:
# the datagrams counted on lo must equal the datagrams sent (no rows at all on lo for a
# filter that matches nothing), with no skipped probes, else the run is void.
#
# Console lines for cost.sh:
#   @@mark begin|end                       (from dropflood, around its timed loop)
#   @@run round=R mode=M sent=N wall_ns=N cpu_ns=N counted=N exact=0|1 note=...
#   @@info key=value
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
set -u
OUT=/droptrace/out
mkdir -p "$OUT"
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tracefs none /sys/kernel/tracing 2>/dev/null
mount -t debugfs none /sys/kernel/debug 2>/dev/null
ip link set lo up
say() { echo "droptrace-guest: $*"; }
. /droptrace/bench.env
status=0

# The reason number this kernel gives NO_SOCKET, from the tracepoint's format.
no_socket=$(grep -o '{ *[0-9]\+, *"NO_SOCKET" *}' /sys/kernel/tracing/events/skb/kfree_skb/format | grep -o '[0-9]\+' | head -n1)
echo "@@info kernel=$(uname -r)"
echo "@@info no_socket=${no_socket:-?}"
echo "@@info systemtap=$(dpkg-query -W -f '${Version}' systemtap-runtime)"
echo "@@info bpftrace=$(bpftrace --version 2>&1 | head -n1 | tr ' ' '_')"
echo "@@info cpus=$(nproc)"

# wait_for TIMEOUT_S COMMAND...: until COMMAND succeeds (checked every 0.1 s); 1 on timeout.
wait_for() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [[ $(date +%s) -lt $deadline ]] || return 1
    sleep 0.1
  done
}
stap_armed() { dmesg | grep -q "^.*${1} (.*): systemtap: .* probes: "; }
# bpftrace (0.24 and later) says "Attached N probes" on stderr once they are attached.
bpftrace_armed() { grep -q '^Attached [0-9]* probe' "$1"; }
tool_alive() { kill -0 "$1" 2>/dev/null; }

# settle: until the CPU was at least 90% idle over a second (30 s at most), so work left
# behind by the previous run (a tool's teardown in kernel workers, RCU callbacks) is not
# charged to the next flood. /proc/stat is read with builtins: under emulation starting a
# process takes tens of milliseconds, which would count as busy; the one `sleep` does.
cpu_idle_total() { # -> IDLE TOTAL (jiffies) in CPU_IDLE, CPU_TOTAL
  local _cpu u n s i w irq sirq st
  read -r _cpu u n s i w irq sirq st _ </proc/stat
  CPU_IDLE=$((i + w)) CPU_TOTAL=$((u + n + s + i + w + irq + sirq + st))
}
settled() {
  local i0 t0
  cpu_idle_total; i0=$CPU_IDLE t0=$CPU_TOTAL
  sleep 1
  cpu_idle_total
  IDLE_PERCENT=$(((CPU_IDLE - i0) * 100 / (CPU_TOTAL - t0 > 0 ? CPU_TOTAL - t0 : 1)))
  [[ $IDLE_PERCENT -ge 90 ]]
}

# run_flood: FLOODS times settle, then dropflood; the sums in FLOOD (sent=N wall_ns=N cpu_ns=N).
run_flood() {
  local line f sent=0 wall=0 cpu=0
  for ((f = 0; f < FLOODS; f++)); do
    wait_for 30 settled || say "not idle after 30 s (last second ${IDLE_PERCENT}% idle), flooding anyway"
    line=$(BENCH_MARK=1 /droptrace/dropflood "$COUNT" 9 2>/dev/console) || { say "dropflood failed: $line"; return 1; }
    [[ $line =~ sent=([0-9]+)\ wall_ns=([0-9]+)\ cpu_ns=([0-9]+) ]] || { say "dropflood said '$line'"; return 1; }
    sent=$((sent + BASH_REMATCH[1])) wall=$((wall + BASH_REMATCH[2])) cpu=$((cpu + BASH_REMATCH[3]))
  done
  FLOOD="sent=$sent wall_ns=$wall cpu_ns=$cpu"
}

report() { # ROUND MODE COUNTED EXACT NOTE
  echo "@@run round=$1 mode=$2 $FLOOD counted=$3 exact=$4 note=$5"
}

sent_of() { sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$FLOOD"; }

run_none() { # ROUND
  run_flood || return 1
  report "$1" none 0 1 -
}

run_stap() { # KIND ROUND MODE MODULE [PARAM...]
  local kind=$1 round=$2 mode=$3 module=/droptrace/$4 name out err pid counted exact=1 note=- skipped sent
  shift 4
  name=$(basename "$module" .ko)
  out="$OUT/r$round-$mode.out"
  err="$OUT/r$round-$mode.err"
  dmesg -C
  staprun "$module" "$@" >"$out" 2>"$err" &
  pid=$!
  if ! wait_for 120 stap_armed "$name"; then
    say "FAIL: $mode never armed: $(tail -n3 "$err")"
    kill -INT "$pid" 2>/dev/null; wait "$pid"
    return 1
  fi
  run_flood || return 1
  kill -INT "$pid"
  wait "$pid"
  sent=$(sent_of)
  # Rows on lo with the NO_SOCKET reason: R count location ifname netns reason.
  counted=$(awk -F'\t' -v r="$no_socket" '$1 == "R" && $4 == "lo" && $6 == r { n += $2 } END { print n + 0 }' "$out")
  skipped=$(sed -n 's/.*skipped probes: \([0-9]*\).*/\1/p' "$err" | tail -n1)
  [[ $kind == stap-nocount ]] || grep -q '^E	' "$out" || { exact=0; note=no-E-line; }
  [[ ${skipped:-0} == 0 ]] || { exact=0; note=skipped-$skipped; }
  if [[ $kind == stap-nocount ]]; then
    : # an ablation variant counts nothing; only skipped probes void it
  elif [[ " $* " == *" interfaces="* ]]; then
    # A filter that matches nothing: nothing on lo may be counted, nothing may overflow.
    [[ $counted == 0 ]] || { exact=0; note=filter-leaked-$counted; }
    awk -F'\t' '$1 == "I" && $4 != 0 { bad = 1 } END { exit bad }' "$out" || { exact=0; note=overflow; }
  else
    [[ $counted == "$sent" ]] || { exact=0; note=counted-$counted-of-$sent; }
  fi
  report "$round" "$mode" "$counted" "$exact" "$note"
}

run_bpftrace() { # ROUND MODE PROGRAM
  local round=$1 mode=$2 prog=/droptrace/$3 out err pid counted exact=1 note=- sent
  out="$OUT/r$round-$mode.out"
  err="$OUT/r$round-$mode.err"
  bpftrace "$prog" >"$out" 2>"$err" &
  pid=$!
  # Under emulation bpftrace takes minutes to start (BTF, LLVM).
  if ! wait_for 1200 bpftrace_armed "$err"; then
    say "FAIL: $mode never attached: $(tail -n3 "$err") $(tail -n3 "$out")"
    kill -INT "$pid" 2>/dev/null; wait "$pid"
    return 1
  fi
  run_flood || return 1
  kill -INT "$pid"
  wait "$pid"
  sent=$(sent_of)
  # Map lines: @c[LOCATION, IFNAME, NETNS, REASON]: COUNT (or @c[LOCATION, REASON] for the
  # issue's two-key program, whose every drop here is on lo).
  counted=$(awk -v r="$no_socket" '
    /^@c\[/ {
      key = $0; sub(/^@c\[/, "", key); sub(/\]:.*/, "", key); n = split(key, k, ", ")
      c = $0; sub(/.*\]: */, "", c)
      # bpftrace may print the reason by its enum name.
      reason = k[n]; if (reason ~ /NO_SOCKET$/) reason = r
      if ((n == 4 && k[2] == "lo" && reason == r) || (n == 2 && reason == r)) total += c
    }
    END { print total + 0 }' "$out")
  [[ $counted == "$sent" ]] || { exact=0; note=counted-$counted-of-$sent; }
  report "$round" "$mode" "$counted" "$exact" "$note"
}

run_mode() { # ROUND LINE
  local round=$1 mode kind args
  IFS=$'\t' read -r -a args <<<"$2"
  if [[ ${#args[@]} -lt 3 || ! -f /droptrace/${args[2]} ]]; then say "FAIL: bad mode line '$2'"; return 1; fi
  mode=${args[0]} kind=${args[1]}
  case $kind in
    stap | stap-nocount) run_stap "$kind" "$round" "$mode" "${args[@]:2}" ;;
    bpftrace) run_bpftrace "$round" "$mode" "${args[2]}" ;;
    *) say "unknown mode kind $kind"; return 1 ;;
  esac
}

mapfile -t modes < <(grep -v '^#' /droptrace/modes.tsv | grep -v '^$')
say "warm-up: $WARMUP datagrams"
/droptrace/dropflood "$WARMUP" 9 >/dev/null || status=1
for ((round = 1; round <= ROUNDS; round++)); do
  say "round $round of $ROUNDS"
  for ((i = 0; i < ${#modes[@]}; i++)); do
    line=${modes[(i + round - 1) % ${#modes[@]}]}
    run_none "$round" || status=1
    run_mode "$round" "$line" || status=1
  done
  run_none "$round" || status=1
done

sync
say "exit $status"
echo o >/proc/sysrq-trigger
sleep 30
