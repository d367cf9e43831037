#!/bin/bash
# Build (once) the Debian guest tree that the real-kernel tests boot under QEMU
# and compile the probe in (through a chroot, see compile-in-chroot.sh).
#
# The tree is cached outside the repository, under
#   ${DROPTRACE_GUEST_CACHE:-/var/cache/droptrace-guest}/<key>/tree
# where <key> hashes the suite, mirror, package list and this recipe's version,
# so a changed package list builds a new tree and an unchanged one is reused.
#
# stdout (only this, so callers can `eval "$(build-guest.sh)"`):
#   GUEST_TREE=<absolute path of the tree>
#   GUEST_KERNEL_RELEASE=<kernel release of the tree's image and headers>
# Progress and errors go to stderr. Exit status is non-zero, with a message
# saying what failed, when the archive cannot be reached or the build fails.
#
# Environment:
#   DROPTRACE_GUEST_CACHE   cache root (default /var/cache/droptrace-guest)
#   DROPTRACE_GUEST_SUITE   Debian suite (default sid)
#   DROPTRACE_GUEST_MIRROR  archive URL (default http://deb.debian.org/debian)
#   DROPTRACE_GUEST_REBUILD=1  throw the cached tree for this key away first
set -euo pipefail

die() { echo "build-guest: ERROR: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }

# Bump when the recipe below changes in a way the package list does not show.
RECIPE_VERSION=1
SUITE=${DROPTRACE_GUEST_SUITE:-sid}
MIRROR=${DROPTRACE_GUEST_MIRROR:-http://deb.debian.org/debian}
CACHE_ROOT=${DROPTRACE_GUEST_CACHE:-/var/cache/droptrace-guest}

# What the guest needs: a kernel with its headers (the probe is compiled
# against them), SystemTap (stap for the chroot compile, staprun in the guest),
# a compiler for SystemTap's kernel-module build, tools to make drops on
# purpose (iproute2 for netns/veth, iptables with the nft backend), kmod to
# load modules, procps, gzip for kallsyms captures, and nodejs so the agent
# itself can run in the guest later.
PACKAGES=(
  systemtap
  linux-headers-amd64
  linux-image-amd64
  gcc
  make
  iproute2
  procps
  kmod
  iptables
  nodejs
  gzip
  util-linux
)

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap and chroot need it)"
for tool in debootstrap curl sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' not found: apt-get install -y debootstrap curl coreutils"
done

key=$(printf '%s\n' "recipe=$RECIPE_VERSION" "suite=$SUITE" "mirror=$MIRROR" "${PACKAGES[@]}" \
  | sha256sum | cut -c1-16)
dir="$CACHE_ROOT/$SUITE-$key"
tree="$dir/tree"

release_of() {
  # The release whose image and headers are both in the tree.
  local t=$1 r
  for r in $(ls "$t/lib/modules" 2>/dev/null | sort -V -r); do
    if [[ -e "$t/boot/vmlinuz-$r" && -d "$t/usr/src/linux-headers-$r" ]]; then
      echo "$r"; return 0
    fi
  done
  return 1
}

emit() {
  local r
  r=$(release_of "$tree") || die "no kernel with matching headers in $tree"
  echo "GUEST_TREE=$tree"
  echo "GUEST_KERNEL_RELEASE=$r"
}

if [[ ${DROPTRACE_GUEST_REBUILD:-0} == 1 && -d $dir ]]; then
  log "DROPTRACE_GUEST_REBUILD=1: removing $dir"
  rm -rf "$dir"
fi

if [[ -f "$dir/complete" ]]; then
  log "cached tree $tree"
  emit
  exit 0
fi

log "checking the archive: $MIRROR/dists/$SUITE/Release"
if ! curl -fsS -m 30 -o /dev/null "$MIRROR/dists/$SUITE/Release"; then
  die "the Debian archive is unreachable ($MIRROR/dists/$SUITE/Release could not be fetched); no guest tree can be built"
fi

mkdir -p "$dir"
work="$dir/tree.partial"
rm -rf "$work"
log "debootstrap --variant=minbase $SUITE into $work (a few minutes, ~1.3 GB)"
include=$(IFS=,; echo "${PACKAGES[*]}")
if ! debootstrap --variant=minbase --include="$include" "$SUITE" "$work" "$MIRROR" >"$dir/debootstrap.log" 2>&1; then
  tail -n 30 "$dir/debootstrap.log" >&2
  die "debootstrap of $SUITE from $MIRROR failed (full log: $dir/debootstrap.log)"
fi

# Shrink the tree: the .deb files are not needed once installed.
rm -f "$work"/var/cache/apt/archives/*.deb
# Without this, a guest booted with init=<script> has no /run/netns etc.
mkdir -p "$work/run/netns" "$work/droptrace"

release_of "$work" >/dev/null || die "debootstrap finished but $work has no kernel image with matching headers"
{
  echo "suite=$SUITE mirror=$MIRROR recipe=$RECIPE_VERSION built=$(date -u +%FT%TZ)"
  chroot "$work" dpkg-query -W -f '${Package}=${Version}\n' \
    systemtap systemtap-runtime linux-image-amd64 linux-headers-amd64 gcc make iproute2 iptables nodejs kmod 2>/dev/null || true
} >"$dir/versions.txt"
rm -rf "$tree"
mv "$work" "$tree"
touch "$dir/complete"
log "built $tree"
sed 's/^/build-guest:   /' "$dir/versions.txt" >&2
emit
