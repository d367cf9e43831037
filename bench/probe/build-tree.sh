#!/bin/bash
# Build (once) the guest tree the probe-cost benchmark boots: the real-kernel suite's tree
# (test/kernel/build-guest.sh) plus Debian's bpftrace and the static C library the flood
# sender is linked with. The suite's own tree is never written: this one is a hard-linked
# copy (`cp -al`) in which /etc and /var, where apt and dpkg append to or rewrite files in
# place, are real copies; dpkg replaces every other file it installs by renaming a new one
# over it, which leaves the shared inode alone. After the install the suite's tree is
# checked for files changed since the copy began.
#
# The tree is cached beside the suite's, under
#   ${DROPTRACE_GUEST_CACHE:-/var/cache/droptrace-guest}/bench-<key>/tree
# where <key> hashes the suite tree's path, the packages added and this recipe's version.
#
# stdout (only this): BENCH_TREE=<path>  BENCH_TREE_VERSIONS=<versions.txt>
# Environment: DROPTRACE_BENCH_REBUILD=1 throws the cached bench tree away first.
set -euo pipefail

die() { echo "bench-tree: ERROR: $*" >&2; exit 1; }
log() { echo "bench-tree: $*" >&2; }

RECIPE_VERSION=1
PACKAGES=(bpftrace libc6-dev)

[[ $(id -u) == 0 ]] || die "must run as root (chroot, apt-get)"
repo=$(cd "$(dirname "$0")/../.." && pwd)
eval "$("$repo/test/kernel/build-guest.sh")"
[[ -n ${GUEST_TREE:-} ]] || die "build-guest.sh named no tree"
base=$GUEST_TREE
cache_root=$(dirname "$(dirname "$base")")

key=$(printf '%s\n' "recipe=$RECIPE_VERSION" "base=$base" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
dir="$cache_root/bench-$key"
tree="$dir/tree"

emit() {
  echo "BENCH_TREE=$tree"
  echo "BENCH_TREE_VERSIONS=$dir/versions.txt"
}

if [[ ${DROPTRACE_BENCH_REBUILD:-0} == 1 && -d $dir ]]; then
  log "DROPTRACE_BENCH_REBUILD=1: removing $dir"
  rm -rf "$dir"
fi
if [[ -f "$dir/complete" ]]; then
  log "cached tree $tree"
  emit
  exit 0
fi

mkdir -p "$dir"
work="$dir/tree.partial"
rm -rf "$work"
marker="$dir/copy-started"
touch "$marker"
log "hard-linked copy of $base"
cp -a -l -x "$base" "$work"
for d in etc var; do
  rm -rf "${work:?}/$d"
  cp -a -x "$base/$d" "$work/$d"
done

mount -t proc proc "$work/proc"
trap 'umount "$work/proc" 2>/dev/null || true' EXIT
log "apt-get install ${PACKAGES[*]} (sid's Release file may be past its Valid-Until: not checked)"
chroot "$work" apt-get -o Acquire::Check-Valid-Until=false update -qq >&2
DEBIAN_FRONTEND=noninteractive chroot "$work" apt-get -o Acquire::Check-Valid-Until=false \
  install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2
rm -f "$work"/var/cache/apt/archives/*.deb
umount "$work/proc"
trap - EXIT

changed=$(find "$base" -xdev -newer "$marker" -not -path "$base/proc/*" -not -path "$base/run/*" -print -quit 2>/dev/null || true)
[[ -z $changed ]] || die "the suite's tree changed while this copy was installed into ($changed): check it, then rebuild both"

{
  echo "base=$base recipe=$RECIPE_VERSION built=$(date -u +%FT%TZ)"
  chroot "$work" dpkg-query -W -f '${Package}=${Version}\n' bpftrace libc6-dev systemtap 'linux-image-*' 2>/dev/null | grep -v '=$' || true
} >"$dir/versions.txt"
mv "$work" "$tree"
touch "$dir/complete"
log "built $tree"
sed 's/^/bench-tree:   /' "$dir/versions.txt" >&2
emit
