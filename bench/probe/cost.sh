#!/bin/bash
# The probe's cost per drop, side by side with bpftrace's equivalent (issue 12).
#
#   sudo bench/probe/cost.sh --boots 3 --rounds 3
#
# options:
#   --boots N        guest boots (default 3); every boot measures every mode
#   --rounds N       rounds per boot (default 3); a round runs each mode once, each between two
#                    no-probe baselines, in an order that rotates from round to round
#   --count N        datagrams per flood (default 100000)
#   --floods N       floods per run (default 3): a tool stays loaded over all of them
#   --kernel K       7.2 (default), 6.12, 6.1, or a full release in the guest tree
#   --compare REV    also measure stap/droptrace.stp as it is at git revision REV (mode
#                    droptrace@REV), in the same boots: before/after
#   --compare-nomatch  with --compare, also REV with the filter that matches nothing
#   --stacks         also measure the probe with stacks=1 (mode droptrace-stacks): the code path
#   --variant FILE   also measure another SystemTap script (repeatable; mode named after the file):
#                    an ablation, e.g. variants/empty.stp; its counts are not checked
#   --no-bpftrace    leave bpftrace out (ablation boots: it takes minutes to start)
#   --issue-bpftrace also measure the issue's literal bpftrace one-liner (location, reason only)
#   --no-icount      run QEMU without -icount (see "Cost per drop" below)
#   --out DIR        where results go (default /var/cache/droptrace-guest/bench-results/<time>)
#   --summarize DIR  only print the tables of an earlier run's DIR/runs.tsv
#
# What it does: builds (once, cached) a copy of the real-kernel suite's guest tree with Debian's
# bpftrace (build-tree.sh); compiles the static sender (dropflood.c) and the probe (with its
# stap-flags, in a chroot: test/kernel/compile-in-chroot.sh); boots the tree under QEMU TCG
# with -smp 1 and guest-cost.sh as init, once per boot. In the guest each mode floods COUNT
# one-byte UDP datagrams to a closed port on lo, each a NO_SOCKET drop:
#   none               no probe (the baseline; run before and after every probe run)
#   droptrace          stap/droptrace.stp, default settings but the guard's limit at 50%
#   bpftrace           tracepoint:skb:kfree_skb counting by the same key as droptrace:
#                      (location, dev->name, netns inode, reason)
#   droptrace-nomatch  stap/droptrace.stp with interfaces=nomatch0 (a filter matching nothing)
# Every probe run must count exactly the datagrams sent (none at all with the filter) and skip
# no probe hit, or it is void and left out.
#
# Cost per drop, two ways, both printed:
#   wall  the sender's wall time per datagram in the guest. With one vCPU and nothing else
#         running, the receive path (softirq on the same CPU) is in it, probe included. QEMU
#         runs with -icount shift=0: the guest's clock advances one nanosecond per guest
#         instruction executed, so "wall" is guest instructions per datagram, the same
#         however loaded the host is. (Without -icount, --no-icount, host load stretches it.)
#   vcpu  the host CPU time of QEMU's vCPU thread between the sender's start and end marks
#         (read from /proc/<qemu>/task/<vCPU>/schedstat when the marks reach the console):
#         the cost of emulating that work. Host load stretches it less than wall time, but
#         still: another QEMU on the same cores made it vary by 15% or more between runs.
# added = a probe run's cost minus the mean of the two baselines around it (same round).
# Emulation inflates every absolute number (TCG): compare ratios, within a boot.
#
# Output: tables on stdout; OUT/runs.tsv (one line per run), OUT/boot<N>.console, guest files
# in OUT/boot<N>/ (every probe's output), OUT/machine.txt.
set -euo pipefail

die() { echo "cost: ERROR: $*" >&2; exit 1; }
log() { echo "cost: $*" >&2; }

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
boots=3 rounds=3 count=100000 floods=3 kernel=7.2 stacks=0 compare="" compare_nomatch=0 bpftrace=1 issue_bpftrace=0 icount=(-icount shift=0,sleep=on) out="" summarize="" variants=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --boots) boots=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --floods) floods=$2; shift 2 ;;
    --kernel) kernel=$2; shift 2 ;;
    --compare) compare=$2; shift 2 ;;
    --compare-nomatch) compare_nomatch=1; shift ;;
    --stacks) stacks=1; shift ;;
    --issue-bpftrace) issue_bpftrace=1; shift ;;
    --no-icount) icount=(); shift ;;
    --no-bpftrace) bpftrace=0; shift ;;
    --variant) variants+=("$(realpath -e "$2")"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --summarize) summarize=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

# summarize RUNS_TSV: the tables. Columns of runs.tsv: kernel boot round mode sent wall_ns
# cpu_ns vcpu_ns counted exact note (in run order within a boot).
summarize() {
  awk -F'\t' '
    function add(key, v) { n[key]++; s[key] += v; ss[key] += v * v; if (!(key in lo) || v < lo[key]) lo[key] = v; if (!(key in hi) || v > hi[key]) hi[key] = v }
    function mean(key) { return s[key] / n[key] }
    function sd(key,  m) { if (n[key] < 2) return 0; m = mean(key); return sqrt((ss[key] - n[key] * m * m) / (n[key] - 1)) }
    function stat(key) { return (key in n) ? sprintf("%7.0f ± %5.0f  (%6.0f..%6.0f, n=%d)", mean(key), sd(key), lo[key], hi[key], n[key]) : "   void" }
    function rstat(key) { return sprintf("%.2f ± %.2f  (%.2f..%.2f, n=%d)", mean(key), sd(key), lo[key], hi[key], n[key]) }
    FNR == 1 { next }
    {
      kernel = $1; boot = $2; round = $3; mode = $4; sent = $5
      metric["wall"] = $6 / sent; metric["vcpu"] = $8 / sent
      # An ablation variant prints nothing, so no E line; runs before that was allowed said so.
      if ($10 != 1 && !(mode ~ /^variant-/ && $11 == "no-E-line")) { voids[kernel] = voids[kernel] sprintf("  void: boot %s round %s %s (%s)\n", boot, round, mode, $11); if (mode != "none") next }
      bk = kernel SUBSEP boot
      if (!(kernel in seen_kernel)) { seen_kernel[kernel] = 1; kernels[++nk] = kernel }
      if (!(bk in seen_boot)) { seen_boot[bk] = 1; boots_of[kernel] = boots_of[kernel] " " boot }
      if (mode == "none") {
        for (m in metric) {
          add(bk SUBSEP "none" SUBSEP m, metric[m])
          if (pending_mode[bk] != "" && prev_round[bk] == round && (bk SUBSEP m) in last_none)
            added[bk, pending_mode[bk], round, m] = pending[bk, m] - (last_none[bk, m] + metric[m]) / 2
          last_none[bk, m] = metric[m]
        }
        if (pending_mode[bk] != "") {
          pm = pending_mode[bk]
          if (!((kernel, pm) in seen_mode)) { seen_mode[kernel, pm] = 1; modes_of[kernel] = modes_of[kernel] " " pm }
          for (m in metric) {
            a = added[bk, pm, round, m]; add(bk SUBSEP pm SUBSEP m, a); add(kernel SUBSEP "all" SUBSEP pm SUBSEP m, a)
          }
        }
        pending_mode[bk] = ""; prev_round[bk] = round
      } else {
        if (prev_round[bk] != round) { pending_mode[bk] = ""; next }  # no baseline before it
        pending_mode[bk] = mode
        for (m in metric) pending[bk, m] = metric[m]
      }
    }
    END {
      for (k = 1; k <= nk; k++) {
        kernel = kernels[k]
        printf "\n=== kernel %s: cost per drop (mean ± sd over rounds, min..max) ===\n", kernel
        nb = split(boots_of[kernel], bl, " "); nm = split(modes_of[kernel], ml, " ")
        for (mi = 1; mi <= 2; mi++) {
          m = mi == 1 ? "wall" : "vcpu"
          printf "\n-- %s: %s --\n", m, m == "vcpu" ? "host CPU time of the vCPU thread per datagram" : "guest wall time per datagram (with -icount shift=0: guest instructions)"
          for (b = 1; b <= nb; b++) {
            bk = kernel SUBSEP bl[b]
            printf "boot %s  baseline (no probe)        %s\n", bl[b], stat(bk SUBSEP "none" SUBSEP m)
            for (j = 1; j <= nm; j++) printf "boot %s  added by %-20s %s\n", bl[b], ml[j], stat(bk SUBSEP ml[j] SUBSEP m)
            for (j = 1; j <= nm; j++) {
              pm = ml[j]
              if (pm !~ /^droptrace/ || !((bk SUBSEP pm SUBSEP m) in n) || !((bk SUBSEP "bpftrace" SUBSEP m) in n)) continue
              r = mean(bk SUBSEP pm SUBSEP m) / mean(bk SUBSEP "bpftrace" SUBSEP m)
              rounds_txt = ""
              for (rr = 1; rr <= 100; rr++) if ((bk, pm, rr, m) in added && (bk, "bpftrace", rr, m) in added && added[bk, "bpftrace", rr, m] != 0)
              {
                v = added[bk, pm, rr, m] / added[bk, "bpftrace", rr, m]
                rounds_txt = rounds_txt sprintf(" %.2f", v)
                add(kernel SUBSEP "ratio" SUBSEP pm SUBSEP m, v)
              }
              printf "boot %s  ratio %s/bpftrace = %.2f   (per round:%s)\n", bl[b], pm, r, rounds_txt
              ratio[kernel, pm, m, b] = r
            }
            printf "\n"
          }
          printf "across boots (every round of every boot):\n"
          for (j = 1; j <= nm; j++) printf "  added by %-20s %s\n", ml[j], stat(kernel SUBSEP "all" SUBSEP ml[j] SUBSEP m)
          for (j = 1; j <= nm; j++) {
            pm = ml[j]; if (pm !~ /^droptrace/) continue
            txt = ""; cnt = 0; sum = 0; rl = ""; rh = ""
            for (b = 1; b <= nb; b++) if ((kernel, pm, m, b) in ratio) {
              v = ratio[kernel, pm, m, b]; txt = txt sprintf(" %.2f", v); cnt++; sum += v
              if (rl == "" || v < rl) rl = v; if (rh == "" || v > rh) rh = v
            }
            if (cnt) printf "  ratio %s/bpftrace per boot:%s   mean %.2f, spread %.2f..%.2f\n", pm, txt, sum / cnt, rl, rh
            if ((kernel SUBSEP "ratio" SUBSEP pm SUBSEP m) in n)
              printf "  ratio %s/bpftrace per round (same round, every boot): %s\n", pm, rstat(kernel SUBSEP "ratio" SUBSEP pm SUBSEP m)
          }
        }
        if (voids[kernel] != "") printf "\nvoid runs (left out):\n%s", voids[kernel]
      }
    }' "$1"
}

if [[ -n $summarize ]]; then
  summarize "$summarize/runs.tsv"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "must run as root (chroot, mount, QEMU)"
PATH=$PATH:/usr/sbin:/sbin
for tool in qemu-system-x86_64 mkfs.ext4 debugfs git; do command -v "$tool" >/dev/null || die "'$tool' not found"; done

eval "$("$here/build-tree.sh")"
tree=$BENCH_TREE
cache_dir=$(dirname "$(dirname "$tree")")
release=""
for r in $(ls "$tree/lib/modules" | sort -V); do
  if [[ $r == "$kernel" || $r == "$kernel".* || $r == "$kernel"-* ]]; then release=$r; fi
done
[[ -n $release && -f $tree/boot/vmlinuz-$release ]] || die "no kernel '$kernel' in $tree (have: $(ls "$tree/lib/modules" | tr '\n' ' '))"

out=${out:-$cache_dir/bench-results/$(date -u +%Y%m%dT%H%M%SZ)-$release}
mkdir -p "$out"
out=$(realpath "$out")
work=$(mktemp -d "$cache_dir/bench-boot.XXXXXX")
qpid=""
cleanup() {
  if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then kill "$qpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

files="$work/files"
mkdir -p "$files" "$work/src"
# The sender, static, built with the tree's compiler.
mkdir -p "$tree/run/droptrace-bench"
cp "$here/dropflood.c" "$tree/run/droptrace-bench/"
chroot "$tree" gcc -O2 -Wall -Wextra -static -o /run/droptrace-bench/dropflood /run/droptrace-bench/dropflood.c
cp "$tree/run/droptrace-bench/dropflood" "$files/"
rm -rf "$tree/run/droptrace-bench"

compile() { # SCRIPT [SCRIPT ARGS] -> module file name in $files
  local vars
  vars=$(DROPTRACE_STAP_SCRIPT=$1 DROPTRACE_STAP_SCRIPT_ARGS=${2:-} DROPTRACE_KERNEL_RELEASE=$release "$repo/test/kernel/compile-in-chroot.sh" "$tree" "$files")
  eval "$vars"
  basename "$MODULE"
}
log "compiling stap/droptrace.stp for $release"
module=$(compile "$repo/stap/droptrace.stp")
# The guard at its highest limit (50%): one CPU doing nothing but dropping spends more of it
# in the handler than the default 5%, and the guard would stop the probe mid-flood.
guard=max_cpu_pct=50
modes=$(printf '%s\t%s\t%s\t%s' droptrace stap "$module" "$guard")
[[ $bpftrace == 0 ]] || modes+=$'\n'$(printf '%s\t%s\t%s' bpftrace bpftrace full.bt)
modes+=$'\n'$(printf '%s\t%s\t%s\t%s\t%s' droptrace-nomatch stap "$module" "$guard" interfaces=nomatch0)
if [[ $stacks == 1 ]]; then
  # The module with the stacks handler is another build (the script argument `stacks`).
  log "compiling stap/droptrace.stp with stacks for $release"
  stacks_module=$(compile "$repo/stap/droptrace.stp" stacks)
  modes+=$'\n'$(printf '%s\t%s\t%s\t%s\t%s' droptrace-stacks stap "$stacks_module" "$guard" stacks=1)
fi
if [[ -n $compare ]]; then
  rev=$(git -C "$repo" rev-parse --short "$compare")
  git -C "$repo" show "$rev:stap/droptrace.stp" >"$work/src/droptrace_$rev.stp"
  log "compiling stap/droptrace.stp at $rev"
  old_module=$(compile "$work/src/droptrace_$rev.stp")
  modes+=$'\n'$(printf '%s\t%s\t%s' "droptrace@$rev" stap "$old_module")
  if [[ $compare_nomatch == 1 ]]; then
    modes+=$'\n'$(printf '%s\t%s\t%s\t%s' "droptrace@$rev-nomatch" stap "$old_module" interfaces=nomatch0)
  fi
fi
for v in "${variants[@]}"; do
  log "compiling variant $v"
  name=$(basename "$v" .stp)
  cp "$v" "$work/src/$name.stp"
  vmodule=$(compile "$work/src/$name.stp")
  modes+=$'\n'$(printf '%s\t%s\t%s' "variant-$name" stap-nocount "$vmodule")
done
if [[ $issue_bpftrace == 1 ]]; then modes+=$'\n'$(printf '%s\t%s\t%s' bpftrace-issue bpftrace issue.bt); fi
echo "$modes" >"$files/modes.tsv"

# bpftrace, keyed as droptrace keys its rows: location, interface name (empty when skb->dev is
# NULL: bpftrace's reads of a NULL pointer give zeros), netns inode, reason.
cat >"$files/full.bt" <<'EOF'
tracepoint:skb:kfree_skb {
  $dev = ((struct sk_buff *)args->skbaddr)->dev;
  @c[args->location, $dev->name, $dev->nd_net.net->ns.inum, args->reason] = count();
}
EOF
cat >"$files/issue.bt" <<'EOF'
tracepoint:skb:kfree_skb { @c[args->location, args->reason] = count(); }
EOF
printf 'ROUNDS=%d\nFLOODS=%d\nCOUNT=%d\nWARMUP=%d\n' "$rounds" "$floods" "$count" $((count / 4)) >"$files/bench.env"

{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -r), $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1), $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "qemu: $(qemu-system-x86_64 --version | head -n1), -accel tcg ${icount[*]} -smp 1 -m 2048"
  echo "guest kernel: $release"
  echo "guest tree: $tree"
  sed 's/^/  /' "$BENCH_TREE_VERSIONS"
  echo "probe: stap/droptrace.stp at $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD -- stap/droptrace.stp || echo ' (with uncommitted changes)'), module $module"
  [[ -z $compare ]] || echo "compared with: stap/droptrace.stp at $rev, module $old_module"
  echo "boots=$boots rounds=$rounds floods per run=$floods count per flood=$count"
  echo "modes:"
  sed 's/^/  /' "$files/modes.tsv"
} | tee "$out/machine.txt" >&2

runs="$out/runs.tsv"
printf 'kernel\tboot\tround\tmode\tsent\twall_ns\tcpu_ns\tvcpu_ns\tcounted\texact\tnote\n' >"$runs"

vcpu_ns() { local a _; read -r a _ <"/proc/$qpid/task/$1/schedstat"; echo "$a"; }
find_vcpu() {
  local t
  for t in /proc/"$qpid"/task/*; do
    # "CPU 0/TCG", or "ALL CPUs/TCG" with -icount (one thread runs every vCPU).
    if [[ $(cat "$t/comm" 2>/dev/null) == *"/TCG" ]]; then echo "${t##*/}"; return 0; fi
  done
  return 1
}

boot_once() { # BOOT
  local b=$1 root="$work/root" img="$work/root.img" line vcpu="" t_begin=0 t_sum=0 status="" fd
  rm -rf "$root" "$img"
  cp -a -l -x "$tree" "$root"
  rm -rf "$root/droptrace"
  mkdir -p "$root/droptrace/out"
  cp "$here/guest-cost.sh" "$root/droptrace/guest.sh"
  chmod 0755 "$root/droptrace/guest.sh"
  cp "$files"/* "$root/droptrace/"
  # noinit_itable (on the kernel command line below): without it the guest's kernel zeroes
  # the new file system's inode tables in the background, on the one CPU the floods run on.
  truncate -s 4G "$img"
  mkfs.ext4 -q -F -d "$root" "$img"
  rm -rf "$root"
  log "boot $b of $boots: $release; host loadavg at start: $(cat /proc/loadavg)"
  echo "boot $b loadavg-start $(cat /proc/loadavg)" >>"$out/machine.txt"
  mkfifo "$work/console"
  qemu-system-x86_64 -name droptrace-bench,debug-threads=on -accel tcg "${icount[@]}" -m 2048 -smp 1 \
    -nographic -no-reboot -nic none \
    -kernel "$tree/boot/vmlinuz-$release" -initrd "$tree/boot/initrd.img-$release" \
    -drive "file=$img,format=raw,if=virtio" \
    -append "console=ttyS0 root=/dev/vda rw rootflags=noinit_itable init=/droptrace/guest.sh panic=-1 quiet" \
    </dev/null >"$work/console" 2>&1 &
  qpid=$!
  exec {fd}<"$work/console"
  # No console line for 15 minutes: the guest hangs.
  while IFS= read -r -t 900 -u "$fd" line; do
    line=${line%$'\r'}
    printf '%s\n' "$line" >>"$out/boot$b.console"
    case $line in
      *"@@mark begin"*)
        [[ -n $vcpu ]] || vcpu=$(find_vcpu) || die "no vCPU thread (*/TCG) in QEMU $qpid"
        t_begin=$(vcpu_ns "$vcpu") ;;
      *"@@mark end"*) t_sum=$((t_sum + $(vcpu_ns "$vcpu") - t_begin)) ;;
      "@@run "*)
        local -A f=()
        local kv
        for kv in ${line#@@run }; do f[${kv%%=*}]=${kv#*=}; done
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$release" "$b" "${f[round]}" "${f[mode]}" "${f[sent]}" \
          "${f[wall_ns]}" "${f[cpu_ns]}" "$t_sum" "${f[counted]}" "${f[exact]}" "${f[note]}" >>"$runs"
        log "boot $b round ${f[round]} ${f[mode]}: $((f[wall_ns] / f[sent])) ns/datagram wall, $((t_sum / f[sent])) vCPU; counted ${f[counted]} of ${f[sent]}$([[ ${f[exact]} == 1 ]] || echo " VOID: ${f[note]}")"
        t_sum=0
        unset f ;;
      "@@info "*) echo "boot $b ${line#@@info }" >>"$out/machine.txt" ;;
      "droptrace-guest: exit "*) status=${line#droptrace-guest: exit } ;;
      "droptrace-guest: "*) log "boot $b: ${line#droptrace-guest: }" ;;
    esac
  done
  exec {fd}<&-
  kill "$qpid" 2>/dev/null || true
  wait "$qpid" || true
  qpid=""
  rm -f "$work/console"
  echo "boot $b loadavg-end $(cat /proc/loadavg)" >>"$out/machine.txt"
  log "boot $b done; host loadavg at end: $(cat /proc/loadavg)"
  mkdir -p "$out/boot$b"
  debugfs -R "rdump /droptrace/out $out/boot$b" "$img" >/dev/null 2>&1 || log "WARNING: could not copy the guest's files"
  rm -f "$img"
  [[ $status == 0 ]] || log "WARNING: boot $b: the guest reported status '${status:-none}' (see $out/boot$b.console)"
}

for ((boot = 1; boot <= boots; boot++)); do boot_once "$boot"; done
summarize "$runs" | tee "$out/summary.txt"
log "results in $out"
