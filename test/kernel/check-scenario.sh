#!/bin/bash
# Check what guest-scenario.sh recorded (the directory boot-guest.sh copied
# out of the guest) against the drops it made on purpose.
#
# usage: check-scenario.sh DIR
# DIR may also be test/fixtures/kernel-guest (kallsyms.txt gzipped there).
# Prints one line per check and a closing "N passed, N failed"; exits 1 if any
# check failed.
set -uo pipefail
dir=${1:?usage: $0 DIR}
cd "$dir" || exit 2

pass=0 failed=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { # description, then a command that must succeed
  local what=$1; shift
  if "$@"; then ok "$what"; else ko "$what"; fi
}
eq() { # description expected actual
  if [[ "$2" == "$3" ]]; then ok "$1 = $2"; else ko "$1: expected $2, got $3"; fi
}

inum() { awk -v n="$1" '$1 == n { print $2 }' netns-inums.txt; }
reason() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" reason-numbers.txt; }
ROOT=$(inum root) A=$(inum a) B=$(inum b) C=$(inum c) D=$(inum d)
NO_SOCKET=$(reason NO_SOCKET) NETFILTER_DROP=$(reason NETFILTER_DROP) NEIGH_FAILED=$(reason NEIGH_FAILED)

# sum FILE IFACE NETNS REASON: total count of matching R rows, all intervals.
sum() { awk -F'\t' -v i="$2" -v n="$3" -v r="$4" '$1 == "R" && $4 == i && $5 == n && $6 == r { s += $2 } END { print s + 0 }' "$1"; }
# Every line is A (first), R, F, I, O (the guard stopped the probe) or E; each I counts the R rows before it; I numbers run
# 1, 2, ...; every F names an R row of its interval by its row ID; E is last and repeats the
# last I number.
wellformed() {
  awk -F'\t' '
    $1 == "A" { if (NF != 1 || NR != 1) exit 1; next }
    $1 == "R" { if (NF != 8 || $2 !~ /^[0-9]+$/ || $3 !~ /^0x[0-9a-f]+$/ || $5 !~ /^[0-9]+$/ || $6 !~ /^-?[0-9]+$/ || $7 !~ /^[0-9]+$/) exit 1; ids[$8] = 1; rows++; next }
    $1 == "F" { if (NF != 11 || !($3 in ids) || $4 !~ /^[046]$/) exit 1; next }
    $1 == "I" { if (NF != 11 || $2 != ++seq || $3 != rows) exit 1; rows = 0; delete ids; next }
    $1 == "O" { if (NF != 3) exit 1; next }
    $1 == "E" { if (NF != 2 || $2 != seq) exit 1; ended = NR; next }
    { exit 1 }
    END { if (!ended || ended != NR || rows) exit 1 }' "$1"
}
only_ifaces() { # FILE IFACE... : no R row on another interface
  local f=$1; shift
  awk -F'\t' -v keep="$*" 'BEGIN { n = split(keep, k, " "); for (j = 1; j <= n; j++) ok[k[j]] = 1 }
    $1 == "R" && !($4 in ok) { bad = 1 } END { exit bad }' "$f"
}
only_reasons() { # FILE REASON...
  local f=$1; shift
  awk -F'\t' -v keep="$*" 'BEGIN { n = split(keep, k, " "); for (j = 1; j <= n; j++) ok[k[j]] = 1 }
    $1 == "R" && !($6 in ok) { bad = 1 } END { exit bad }' "$f"
}
# SystemTap prints "WARNING: Number of errors: 0, skipped probes: N" at exit
# when a probe was skipped (lock timeout); anything else on stderr is wrong.
quiet_stderr() { ! grep -qv '^WARNING: Number of errors: 0, skipped probes: [0-9]*$' "$1"; }
skipped() { sed -n 's/^WARNING: Number of errors: [0-9]*, skipped probes: \([0-9]*\)$/\1/p' "$1" | tail -n1; }
rc_is() { [[ -s $1.rc && $(cat "$1.rc") == "$2" ]]; }
rc_nonzero() { [[ -s $1.rc && $(cat "$1.rc") != 0 ]]; }
unloaded() { grep -q "not in /proc/modules" "$1.module-after.txt"; }
has() { grep -qF -- "$2" "$1"; }
# owner ADDR: "[module]" or "kernel", symbol and offset for the kallsyms text
# symbol that covers ADDR. Addresses are compared as 16-digit hex strings (awk
# numbers are doubles and cannot hold 64-bit addresses exactly).
owner() {
  awk -v a="$1" '
    function hex(s,  i, v) { v = 0; s = tolower(s); for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
    BEGIN { want = tolower(substr(a, 3)); while (length(want) < 16) want = "0" want }
    $2 ~ /^[tT]$/ && $1 <= want && $1 > best { best = $1; m = ($4 == "" ? "kernel" : $4); sym = $3 }
    END { printf "%s %s+0x%x\n", m, sym, hex(substr(want, 9)) - hex(substr(best, 9)) }' <(kallsyms)
}
kallsyms() { if [[ -f kallsyms.txt ]]; then cat kallsyms.txt; else gzip -dc kallsyms.txt.gz; fi; }

for run in all iface reason overflow gset flood dup; do
  [[ -f $run.tsv ]] || { ko "$run: no output"; continue; }
  check "$run: output well formed (R/I/E, trailers count rows, E last)" wellformed "$run.tsv"
  check "$run: staprun exited 0 on its signal" rc_is "$run" 0
  check "$run: module unloaded afterwards" unloaded "$run"
  check "$run: stderr empty or only SystemTap's skipped-probes warning (0 errors)" quiet_stderr "$run.err"
done

eq "all: lo NO_SOCKET (root netns)" 300 "$(sum all.tsv lo "$ROOT" "$NO_SOCKET")"
eq "all: vb NETFILTER_DROP (netns b)" 120 "$(sum all.tsv vb "$B" "$NETFILTER_DROP")"
eq "all: vb NO_SOCKET (netns b)" 70 "$(sum all.tsv vb "$B" "$NO_SOCKET")"
eq "all: eth0 NO_SOCKET (netns c)" 30 "$(sum all.tsv eth0 "$C" "$NO_SOCKET")"
eq "all: eth0 NO_SOCKET (netns d)" 20 "$(sum all.tsv eth0 "$D" "$NO_SOCKET")"
eq "all: va NEIGH_FAILED (netns a)" 40 "$(sum all.tsv va "$A" "$NEIGH_FAILED")"
nf_loc=$(awk -F'\t' -v r="$NETFILTER_DROP" '$1 == "R" && $6 == r { print $3; exit }' all.tsv)
check "all: NETFILTER_DROP location $nf_loc is in [nf_tables] ($(owner "$nf_loc"))" has <(owner "$nf_loc") "[nf_tables]"
check "all: iptables DROP rule counted 120 packets" \
  bash -c "awk '/== after run all/{f=1;next} f && /dpt:7777/{print \$1; exit}' iptables-counters.txt | grep -qx 120"

check "iface: only eth0 and vb* rows" only_ifaces iface.tsv eth0 vb
eq "iface: eth0 (c)" 30 "$(sum iface.tsv eth0 "$C" "$NO_SOCKET")"
eq "iface: eth0 (d)" 20 "$(sum iface.tsv eth0 "$D" "$NO_SOCKET")"
eq "iface: vb NETFILTER_DROP" 120 "$(sum iface.tsv vb "$B" "$NETFILTER_DROP")"
eq "iface: vb NO_SOCKET" 70 "$(sum iface.tsv vb "$B" "$NO_SOCKET")"

check "reason: only NETFILTER_DROP and NEIGH_FAILED rows" only_reasons reason.tsv "$NETFILTER_DROP" "$NEIGH_FAILED"
eq "reason: vb NETFILTER_DROP" 120 "$(sum reason.tsv vb "$B" "$NETFILTER_DROP")"
eq "reason: va NEIGH_FAILED" 40 "$(sum reason.tsv va "$A" "$NEIGH_FAILED")"

check "overflow: at most 3 rows per interval" awk -F'\t' '$1 == "I" && $3 > 3 { bad = 1 } END { exit bad }' overflow.tsv
check "overflow: overflow events counted" awk -F'\t' '$1 == "I" { o += $4 } END { exit !(o > 0) }' overflow.tsv
check "overflow: rows + overflow account for at least the 580 drops made" \
  awk -F'\t' '$1 == "R" { s += $2 } $1 == "I" { s += $4 } END { exit !(s >= 580) }' overflow.tsv

# stap -G at -p4 does not change the module: the defaults apply (no filter,
# 10 s interval), so other interfaces are counted too.
check "gset: -G interfaces=lo at compile time is not baked in (vb rows present)" \
  awk -F'\t' '$1 == "R" && $4 == "vb" { found = 1 } END { exit !found }' gset.tsv
eq "gset: lo NO_SOCKET" 300 "$(sum gset.tsv lo "$ROOT" "$NO_SOCKET")"

n=$(sed -n 's/datagrams_per_sender=\([0-9]*\).*/\1/p' flood-timing.txt)
counted=$(sum flood.tsv lo "$ROOT" "$NO_SOCKET")
skips=$(skipped flood.err); skips=${skips:-0}
echo "info flood: $counted of $((2 * n)) datagrams counted, SystemTap reported $skips skipped probes"
check "flood: every datagram counted or reported skipped ($counted counted + $skips skipped >= $((2 * n)) >= $counted)" \
  test "$counted" -le "$((2 * n))" -a "$((counted + skips))" -ge "$((2 * n))"
check "flood: several intervals reported" awk -F'\t' '$1 == "E" { exit !($2 >= 3) }' flood.tsv

check "badsetting: refused" rc_nonzero badsetting
check "badsetting: says which pattern" has badsetting.err "bad interface pattern 'bad/name'"
eq "dup: drops counted before SIGTERM" 10 "$(sum dup.tsv lo "$ROOT" "$NO_SOCKET")"
check "dup-second: refused" rc_nonzero dup-second
check "dup-second: File exists" has dup-second.err "File exists"
check "map overflow error text" has dt_map_overflow.err "ERROR: Array overflow, check MAXMAPENTRIES"
check "sized map overflow error text" has dt_sized_map_overflow.err "ERROR: Array overflow, check size limit (4)"
check "overload error text" has dt_overload.err "exceeded threshold"
check "modules_disabled: Operation not permitted" has modules-disabled.err "Operation not permitted"

echo "$pass passed, $failed failed"
[[ $failed == 0 ]]
