#!/bin/bash
# Compile stap/droptrace.stp into a kernel module for the guest's kernel, on
# the host, inside a chroot of the guest tree (compiling inside the TCG guest
# takes more than 20 minutes; here it takes about a minute cold, seconds warm).
#
# usage: compile-in-chroot.sh TREE OUTDIR [extra stap args...]
#
# - mounts proc in the chroot, bind-mounts stap/ read-only and a SystemTap
#   cache directory that lives beside the tree (outside it, so it never ends
#   up in a guest image), all in a private mount namespace (unshare), and
#   unmounts all of it even when stap fails;
# - runs: stap -r <release> -p4 -m droptrace_<hash> <flags> <extra args> droptrace.stp
#   where <flags> come from the script's "// stap-flags: ..." line, if any;
#   where <hash> covers the script, the extra args, the release and the
#   SystemTap version, so one (script, kernel) pair always gets one name;
# - copies the module to OUTDIR/droptrace_<hash>.ko.
#
# stdout: MODULE=<path of the copied .ko>, MODULE_NAME=..., KERNEL_RELEASE=...,
#         COMPILE_SECONDS=... (eval-able). stap's own messages go to stderr.
# Environment: DROPTRACE_STAP_SCRIPT (see below); DROPTRACE_STAP_SCRIPT_ARGS; DROPTRACE_KERNEL_RELEASE overrides the release (default: the
# tree's only/newest kernel with headers); DROPTRACE_STAP_CACHE overrides the
# SystemTap cache directory (default: <dir of TREE>/systemtap).
set -euo pipefail

die() { echo "compile-in-chroot: ERROR: $*" >&2; exit 1; }
log() { echo "compile-in-chroot: $*" >&2; }

[[ $# -ge 2 ]] || die "usage: $0 TREE OUTDIR [stap args...]"
[[ $(id -u) == 0 ]] || die "must run as root (chroot and mount need it)"
command -v unshare >/dev/null || die "'unshare' not found: apt-get install -y util-linux"
tree=$(realpath -e "$1") || die "no such tree: $1"
mkdir -p "$2"
outdir=$(realpath -e "$2")
shift 2

repo=$(cd "$(dirname "$0")/../.." && pwd)
# DROPTRACE_STAP_SCRIPT compiles another script the same way (the tests' small
# error-demonstration probes); its module is named dt_<basename>_<hash>.
script=$(realpath -e "${DROPTRACE_STAP_SCRIPT:-$repo/stap/droptrace.stp}") || die "missing script ${DROPTRACE_STAP_SCRIPT:-$repo/stap/droptrace.stp}"
if [[ $script == "$repo/stap/droptrace.stp" ]]; then
  prefix=droptrace
else
  base=$(basename "$script" .stp)
  prefix="dt_${base//[^A-Za-z0-9]/_}"
fi
[[ -x $tree/usr/bin/stap ]] || die "$tree has no /usr/bin/stap: build it with test/kernel/build-guest.sh"

release=${DROPTRACE_KERNEL_RELEASE:-}
if [[ -z $release ]]; then
  for r in $(ls "$tree/lib/modules" 2>/dev/null | sort -V -r); do
    if [[ -d "$tree/usr/src/linux-headers-$r" ]]; then release=$r; break; fi
  done
  [[ -n $release ]] || die "no kernel headers in $tree/usr/src"
fi

# The script's own required flags: a "// stap-flags: ..." comment line.
read -r -a script_flags <<<"$(sed -n 's|^// stap-flags: ||p' "$script" | head -n1)"
set -- "${script_flags[@]}" "$@"

stap_version=$(chroot "$tree" stap -V 2>&1 | head -n1)
# DROPTRACE_STAP_SCRIPT_ARGS: the script's own arguments, after the script (`stacks` builds
# droptrace.stp's module with its stacks handler).
read -r -a script_args <<<"${DROPTRACE_STAP_SCRIPT_ARGS:-}"
hash=$( { cat "$script"; printf '%s\n' "$release" "$stap_version" "$@" "${script_args[@]}"; } | sha256sum | cut -c1-12)
name="${prefix}_$hash"

stap_cache=${DROPTRACE_STAP_CACHE:-$(dirname "$tree")/systemtap}
mkdir -p "$stap_cache"

mnt_src="$tree/run/droptrace-src"
mnt_cache="$tree/run/droptrace-stap"
build_rel="/tmp/droptrace-build.$$"
cleanup() {
  rm -rf "${tree:?}$build_rel"
  # Fails harmlessly while another compile uses them as mount points.
  rmdir "$mnt_src" "$mnt_cache" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$tree/proc" "$mnt_src" "$mnt_cache" "$tree$build_rel"

# The mounts live in a private mount namespace: other users of the same tree
# never see them, and they vanish with the namespace however stap ends. The
# inner script still unmounts explicitly on its way out.
inner='
set -eu
tree=$1 src=$2 cache=$3 build=$4; shift 4
mounted=""
unmount_all() { for m in $mounted; do umount "$m" || umount -l "$m" || echo "compile-in-chroot: WARNING: could not unmount $m" >&2; done; }
trap unmount_all EXIT
mount -t proc proc "$tree/proc"; mounted="$tree/proc $mounted"
mount --bind "$src" "$tree/run/droptrace-src"; mounted="$tree/run/droptrace-src $mounted"
mount -o remount,bind,ro "$tree/run/droptrace-src"
mount --bind "$cache" "$tree/run/droptrace-stap"; mounted="$tree/run/droptrace-stap $mounted"
chroot "$tree" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  SYSTEMTAP_DIR=/run/droptrace-stap \
  /bin/sh -c "cd \"\$1\" && shift && exec stap \"\$@\"" sh "$build" "$@"
'

log "stap -r $release -p4 -m $name $* $(basename "$script") ${script_args[*]} ($stap_version)"
start=$(date +%s.%N)
set +e
unshare --mount --propagation private -- bash -c "$inner" inner \
  "$tree" "$(dirname "$script")" "$stap_cache" "$build_rel" \
  -r "$release" -p4 -m "$name" "$@" "/run/droptrace-src/$(basename "$script")" "${script_args[@]}" >&2
rc=$?
set -e
end=$(date +%s.%N)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
[[ $rc == 0 ]] || die "stap failed with exit status $rc after ${secs}s (release $release)"
[[ -f "$tree$build_rel/$name.ko" ]] || die "stap succeeded but produced no $name.ko"
cp "$tree$build_rel/$name.ko" "$outdir/$name.ko"
log "built $outdir/$name.ko in ${secs}s"
echo "MODULE=$outdir/$name.ko"
echo "MODULE_NAME=$name"
echo "KERNEL_RELEASE=$release"
echo "COMPILE_SECONDS=$secs"
