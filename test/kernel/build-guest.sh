#!/bin/bash
# Build (once) the Debian guest tree that the real-kernel tests boot under QEMU
# and compile the probe in (through a chroot, see compile-in-chroot.sh).
#
# The tree is cached outside the repository, under
#   ${DROPTRACE_GUEST_CACHE:-/var/cache/droptrace-guest}/<key>/tree
# where <key> hashes the suite, mirror, package list and this recipe's version,
# so a changed package list builds a new tree and an unchanged one is reused.
#
# Beside the suite's own kernel the tree holds the newest kernel of each suite in
# EXTRA_KERNEL_SUITES (Debian 12's 6.1 and Debian 13's 6.12, from their security
# suites, where Debian publishes kernel updates) with its headers and the gcc its
# headers name, so one SystemTap (the suite's, as the agent image carries it)
# compiles for, and the guest boots, each kernel clusters run.
#
# stdout (only this, so callers can `eval "$(build-guest.sh)"`):
#   GUEST_TREE=<absolute path of the tree>
#   GUEST_KERNEL_RELEASE=<the suite's own kernel release (the newest)>
#   GUEST_KERNEL_RELEASES="<every release with image, initrd and headers, oldest first>"
# Progress and errors go to stderr. Exit status is non-zero, with a message
# saying what failed, when the archive cannot be reached or the build fails.
#
# Environment:
#   DROPTRACE_GUEST_CACHE   cache root (default /var/cache/droptrace-guest)
#   DROPTRACE_GUEST_SUITE   Debian suite (default sid)
#   DROPTRACE_GUEST_MIRROR  archive URL (default http://deb.debian.org/debian)
#   DROPTRACE_GUEST_SECURITY_MIRROR  security archive URL (default http://deb.debian.org/debian-security)
#   DROPTRACE_GUEST_EXTRA_KERNELS  space-separated suites whose newest kernel to add
#                           (default "bookworm-security trixie-security"; "" for none)
#   DROPTRACE_GUEST_REBUILD=1  throw the cached tree for this key away first
set -euo pipefail

die() { echo "build-guest: ERROR: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }

# Bump when the recipe below changes in a way the package list does not show.
RECIPE_VERSION=2
SUITE=${DROPTRACE_GUEST_SUITE:-sid}
MIRROR=${DROPTRACE_GUEST_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DROPTRACE_GUEST_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
read -r -a EXTRA_KERNEL_SUITES <<<"${DROPTRACE_GUEST_EXTRA_KERNELS-bookworm-security trixie-security}"
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
  "security=$SECURITY_MIRROR" "extra=${EXTRA_KERNEL_SUITES[*]}" \
  | sha256sum | cut -c1-16)
dir="$CACHE_ROOT/$SUITE-$key"
tree="$dir/tree"

releases_of() {
  # Every release whose image, initrd and headers are all in the tree, oldest first.
  local t=$1 r
  for r in $(ls "$t/lib/modules" 2>/dev/null | sort -V); do
    if [[ -e "$t/boot/vmlinuz-$r" && -e "$t/boot/initrd.img-$r" && -d "$t/usr/src/linux-headers-$r" ]]; then
      echo "$r"
    fi
  done
}

emit() {
  local all newest
  all=$(releases_of "$tree" | tr '\n' ' ')
  newest=${all% }; newest=${newest##* }
  [[ -n $newest ]] || die "no kernel with matching headers in $tree"
  echo "GUEST_TREE=$tree"
  echo "GUEST_KERNEL_RELEASE=$newest"
  echo "GUEST_KERNEL_RELEASES=\"${all% }\""
}

# suite_url SUITE: the archive that publishes it.
suite_url() { if [[ $1 == *-security ]]; then echo "$SECURITY_MIRROR"; else echo "$MIRROR"; fi; }

# add_extra_kernels TREE: apt sources for each extra suite (and its base suite) pinned below
# the tree's own, then the newest kernel image and headers of each. The headers depend on
# the gcc they were built with (gcc-12 for 6.1, gcc-14 for 6.12): apt takes it from the
# tree's own suite where it has it.
add_extra_kernels() {
  local t=$1 s base suite version abi wanted=()
  mount -t proc proc "$t/proc"
  # shellcheck disable=SC2064
  trap "umount '$t/proc' 2>/dev/null || true" RETURN
  : >"$t/etc/apt/preferences.d/droptrace-kernels"
  for s in "${EXTRA_KERNEL_SUITES[@]}"; do
    base=${s%-security}
    for suite in "$base" "$s"; do
      echo "deb $(suite_url "$suite") $suite main" >>"$t/etc/apt/sources.list.d/droptrace-kernels.list"
      printf 'Package: *\nPin: release n=%s\nPin-Priority: 300\n\n' "${suite}" >>"$t/etc/apt/preferences.d/droptrace-kernels"
    done
  done
  sort -u -o "$t/etc/apt/sources.list.d/droptrace-kernels.list" "$t/etc/apt/sources.list.d/droptrace-kernels.list"
  # sid's Release file on the mirror may be past its Valid-Until: the tree is a test fixture.
  chroot "$t" apt-get -o Acquire::Check-Valid-Until=false update -qq >&2 || return 1
  for s in "${EXTRA_KERNEL_SUITES[@]}"; do
    # The metapackage's version in that suite names its newest kernel ABI.
    version=$(chroot "$t" apt-cache madison linux-image-amd64 | awk -v s=" $s/" 'index($0, s) { print $3; exit }')
    [[ -n $version ]] || { echo "build-guest: $s has no linux-image-amd64" >&2; return 1; }
    abi=$(chroot "$t" apt-cache show "linux-image-amd64=$version" | sed -n 's/^Depends: .*\(linux-image-[0-9][^ ,]*-amd64\).*/\1/p' | head -n1)
    [[ -n $abi ]] || { echo "build-guest: cannot tell which kernel linux-image-amd64=$version ($s) depends on" >&2; return 1; }
    log "$s: newest kernel $abi (linux-image-amd64 $version)"
    wanted+=("$abi" "${abi/linux-image-/linux-headers-}")
  done
  DEBIAN_FRONTEND=noninteractive chroot "$t" apt-get -o Acquire::Check-Valid-Until=false install -y -qq --no-install-recommends "${wanted[@]}" >&2
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

[[ -n $(releases_of "$work") ]] || die "debootstrap finished but $work has no kernel image with matching headers"
if [[ ${#EXTRA_KERNEL_SUITES[@]} -gt 0 ]]; then
  log "adding the newest kernel of: ${EXTRA_KERNEL_SUITES[*]} (a few minutes: initrds are built)"
  add_extra_kernels "$work" || die "could not install the kernels of ${EXTRA_KERNEL_SUITES[*]} from $MIRROR and $SECURITY_MIRROR"
  rm -f "$work"/var/cache/apt/archives/*.deb
  count=$(releases_of "$work" | wc -l)
  [[ $count -eq $((1 + ${#EXTRA_KERNEL_SUITES[@]})) ]] \
    || die "expected $((1 + ${#EXTRA_KERNEL_SUITES[@]})) kernels with initrd and headers in the tree, found: $(releases_of "$work" | tr '\n' ' ')"
fi
{
  echo "suite=$SUITE mirror=$MIRROR recipe=$RECIPE_VERSION extra=${EXTRA_KERNEL_SUITES[*]} built=$(date -u +%FT%TZ)"
  chroot "$work" dpkg-query -W -f '${Package}=${Version}\n' \
    systemtap systemtap-runtime 'linux-image-*' 'linux-headers-*' 'gcc-*' make iproute2 iptables nodejs kmod 2>/dev/null \
    | grep -v '=$' || true
} >"$dir/versions.txt"
rm -rf "$tree"
mv "$work" "$tree"
touch "$dir/complete"
log "built $tree"
sed 's/^/build-guest:   /' "$dir/versions.txt" >&2
emit
