#!/bin/bash
# Build (once) the local base images the Dockerfile's targets start from.
# No container registry is reachable here, so every base comes from Debian's
# archive through `debootstrap --variant=minbase` and `podman import`.
#
#   localhost/droptrace-base-node    Debian 13 (trixie) + nodejs 20.x
#                                    runtime of the `controller` target
#   localhost/droptrace-base-build   the same tree + npm + ca-certificates
#                                    the `build` stage (npm ci, tsc)
#   localhost/droptrace-base-agent   Debian sid + nodejs + SystemTap 5.6 + gcc
#                                    (16 and 14), make, kmod, elfutils: the `agent` target
#
# Why three and not one: the agent's SystemTap and compiler (several hundred MB)
# have no business in the unprivileged controller, and the controller belongs on
# Debian stable, whose nodejs gets security updates, while the agent needs sid:
# trixie's SystemTap 5.1 fails on 6.12 (see ../shared/kernel-notes.md), sid's
# 5.6 is the one proven on a current kernel (7.2), and it also builds the probe
# for trixie's own 6.12 kernels (see README.md here). bookworm's nodejs is 18,
# below package.json's engines (>=20.5). npm stays out of the runtime images.
#
# Each image is tagged :<key> and :latest. <key> hashes the suite, mirror,
# package list and RECIPE_VERSION, so an unchanged recipe reuses the image and a
# changed one builds a new one. The root file systems are kept, compressed, under
#   ${DROPTRACE_IMAGE_CACHE:-/var/cache/droptrace-images}/<name>-<key>/
# (with versions.txt and the debootstrap log), so an image removed from podman's
# store is re-imported in seconds instead of bootstrapped again. sid moves every
# day: a cached agent base stays at the day it was built until the recipe
# changes or DROPTRACE_IMAGE_REBUILD=1.
#
# stdout (only this, so callers can `eval "$(base-images.sh)"`):
#   NODE_BASE=localhost/droptrace-base-node:<key>
#   BUILD_BASE=localhost/droptrace-base-build:<key>
#   AGENT_BASE=localhost/droptrace-base-agent:<key>
# Progress and errors go to stderr; exit status is non-zero, with a message
# that says what failed, when the archive is unreachable or a build fails.
#
# Environment:
#   DROPTRACE_IMAGE_CACHE            cache root (default /var/cache/droptrace-images)
#   DROPTRACE_IMAGE_MIRROR           archive (default http://deb.debian.org/debian)
#   DROPTRACE_IMAGE_SECURITY_MIRROR  security archive (default http://deb.debian.org/debian-security)
#   DROPTRACE_IMAGE_REBUILD=1        bootstrap every base again, ignoring the cache
#   PODMAN                           podman command (default "podman")
set -euo pipefail

die() { echo "base-images: ERROR: $*" >&2; exit 1; }
log() { echo "base-images: $*" >&2; }

# Bump when the recipe changes in a way the package lists do not show.
RECIPE_VERSION=1
CACHE_ROOT=${DROPTRACE_IMAGE_CACHE:-/var/cache/droptrace-images}
MIRROR=${DROPTRACE_IMAGE_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DROPTRACE_IMAGE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
read -r -a podman <<<"${PODMAN:-podman}"

NODE_SUITE=trixie
NODE_PACKAGES=(nodejs)
BUILD_PACKAGES=(npm ca-certificates)
AGENT_SUITE=sid
# stap -p4 drives the kernel's own Kbuild: make, and gcc (with binutils) to
# compile the module against the host's headers. Debian's headers name the
# compiler their kernel was built with (CC = x86_64-linux-gnu-gcc-NN in
# .kernelvariables): gcc is 16 in sid (kernel 7.x), gcc-14 serves Debian 13's
# 6.12 kernels and gcc-12 Debian 12's 6.1 (sid carries both, 14.4 and 12.5);
# without the named one stap fails in pass 2 with a bare "no match".
# kmod for the agent's rmmod/lsmod; elfutils for eu-readelf/eu-addr2line when a
# module misbehaves. systemtap-runtime needs a sysusers implementation: the
# standalone one instead of all of systemd (apt would take the first
# alternative, systemd).
AGENT_PACKAGES=(nodejs systemtap systemtap-runtime gcc gcc-14 gcc-12 make kmod elfutils systemd-standalone-sysusers)

[[ $(id -u) == 0 ]] || die "must run as root (debootstrap and chroot need it)"
for tool in debootstrap curl sha256sum gzip tar "${podman[0]}"; do
  command -v "$tool" >/dev/null || die "'$tool' not found: apt-get install -y debootstrap curl coreutils gzip tar podman"
done

key_of() { printf '%s\n' "recipe=$RECIPE_VERSION" "mirror=$MIRROR" "security=$SECURITY_MIRROR" "$@" | sha256sum | cut -c1-16; }
node_key=$(key_of "suite=$NODE_SUITE" "${NODE_PACKAGES[@]}")
build_key=$(key_of "suite=$NODE_SUITE" "${NODE_PACKAGES[@]}" + "${BUILD_PACKAGES[@]}")
agent_key=$(key_of "suite=$AGENT_SUITE" "${AGENT_PACKAGES[@]}")
NODE_IMAGE=localhost/droptrace-base-node
BUILD_IMAGE=localhost/droptrace-base-build
AGENT_IMAGE=localhost/droptrace-base-agent

mkdir -p "$CACHE_ROOT"
# One builder at a time: two CI jobs on one machine would otherwise bootstrap
# into the same directory.
exec 9>"$CACHE_ROOT/.lock"
flock 9

check_archive() { # url
  curl -fsS -m 30 -o /dev/null "$1" ||
    die "the Debian archive is unreachable ($1 could not be fetched); no base image can be built. Set DROPTRACE_IMAGE_MIRROR to a reachable mirror, or build the bases where the archive is reachable"
}

mounted=()
cleanup_mounts() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
  mounted=()
}
trap cleanup_mounts EXIT
trap 'exit 1' INT TERM

in_tree() { # tree, command...: run in a chroot with /proc and /sys, which some maintainer scripts read
  local tree=$1 rc=0; shift
  mount -t proc proc "$tree/proc" && mounted+=("$tree/proc")
  mount -t sysfs sys "$tree/sys" && mounted+=("$tree/sys")
  chroot "$tree" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@" || rc=$?
  cleanup_mounts
  return "$rc"
}

bootstrap() { # suite, dir, log, packages...
  local suite=$1 dir=$2 logfile=$3; shift 3
  check_archive "$MIRROR/dists/$suite/Release"
  # A run killed inside a chroot may have left proc or sys mounted there.
  umount -l "$dir/proc" "$dir/sys" 2>/dev/null || true
  rm -rf --one-file-system "$dir"
  local include
  include=$(IFS=,; echo "$*")
  log "debootstrap --variant=minbase $suite (+ $include) into $dir"
  if ! debootstrap --variant=minbase --include="$include" "$suite" "$dir" "$MIRROR" >"$logfile" 2>&1; then
    tail -n 30 "$logfile" >&2
    die "debootstrap of $suite from $MIRROR failed (full log: $logfile)"
  fi
}

set_sources() { # tree, suite
  local tree=$1 suite=$2
  if [[ $suite == sid ]]; then
    echo "deb $MIRROR sid main" >"$tree/etc/apt/sources.list"
  else
    check_archive "$SECURITY_MIRROR/dists/$suite-security/Release"
    printf '%s\n' "deb $MIRROR $suite main" "deb $MIRROR $suite-updates main" \
      "deb $SECURITY_MIRROR $suite-security main" >"$tree/etc/apt/sources.list"
  fi
  # As in Debian's slim images: no recommends, no docs, man pages or translations
  # in later installs either (copyright files stay).
  cat >"$tree/etc/apt/apt.conf.d/90droptrace-slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
EOF
  cat >"$tree/etc/dpkg/dpkg.cfg.d/90droptrace-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
}

# apt refuses a Release file past its Valid-Until (sid's says a week), which a
# mirror that stopped syncing serves: say so, and accept it for this build only
# (signatures are still checked; the image's own apt configuration stays strict).
apt_update_options() { # suite
  local until
  until=$(curl -fsS -m 30 "$MIRROR/dists/$1/Release" | sed -n 's/^Valid-Until: //p')
  if [[ -n $until ]] && (($(date -d "$until" +%s) < $(date +%s))); then
    log "WARNING: $MIRROR/dists/$1/Release expired on $until (the mirror is stale): installing from it anyway"
    echo "-o Acquire::Check-Valid-Until=false"
  fi
}

apt_install() { # tree, suite, packages... (after an upgrade, so security fixes are in)
  local tree=$1 suite=$2 update_options; shift 2
  update_options=$(apt_update_options "$suite")
  in_tree "$tree" sh -c 'apt-get update -qq '"$update_options"' && apt-get -y -qq -o Dpkg::Use-Pty=0 upgrade >/dev/null && apt-get -y -qq -o Dpkg::Use-Pty=0 install "$@" >/dev/null' apt-install "$@"
}

slim() { # tree: what debootstrap installed before the dpkg excludes existed, and caches
  local tree=$1
  rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/var/cache/apt/archives/*.deb \
    "$tree"/var/cache/debconf/*-old "$tree"/var/lib/dpkg/*-old "$tree"/var/log/* "$tree"/tmp/* \
    "$tree"/usr/share/man/* "$tree"/usr/share/info/* "$tree"/usr/share/locale/* "$tree"/usr/share/lintian/*
  find "$tree/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$tree/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  find "$tree" -xdev -name '__pycache__' -type d -prune -exec rm -rf {} +
  # podman provides these at run time; the host's copies must not leak in.
  : >"$tree/etc/resolv.conf"
  : >"$tree/etc/machine-id"
  rm -f "$tree/etc/hostname"
}

versions_of() { # tree, package names or patterns...: the installed ones, name=version
  local tree=$1; shift
  chroot "$tree" dpkg-query -W -f '${db:Status-Abbrev}${Package}=${Version}\n' "$@" 2>/dev/null | sed -n 's/^ii *//p' | sort
}

pack() { # tree, cache dir: the compressed root file system, then the tree goes
  local tree=$1 dir=$2
  tar -C "$tree" --numeric-owner --xattrs -cf - . | gzip -1 >"$dir/rootfs.tar.gz.partial"
  mv "$dir/rootfs.tar.gz.partial" "$dir/rootfs.tar.gz"
}

import() { # cache dir, image, key, title, description
  local dir=$1 image=$2 key=$3 title=$4 description=$5
  local versions
  versions=$(grep -v '^#' "$dir/versions.txt" | paste -sd ' ')
  # Uncompressed, through stdin: given a compressed file, podman records the
  # compressed digest as the layer's, and `podman build` never finds its cache.
  gzip -dc "$dir/rootfs.tar.gz" | "${podman[@]}" import -q \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL org.opencontainers.image.title=\"$title\"" \
    --change "LABEL org.opencontainers.image.description=\"$description\"" \
    --change "LABEL io.droptrace.base.key=\"$key\"" \
    --change "LABEL io.droptrace.base.packages=\"$versions\"" \
    - "$image:$key" >/dev/null || die "podman import of $dir/rootfs.tar.gz as $image:$key failed"
  "${podman[@]}" tag "$image:$key" "$image:latest"
  log "imported $image:$key ($(grep -v '^#' "$dir/versions.txt" | grep -E '^(nodejs|npm|systemtap)=' | paste -sd ' '))"
}

have_image() { "${podman[@]}" image exists "$1"; }
cached() { [[ -f "$1/complete" && -f "$1/rootfs.tar.gz" ]]; }

# Bring one image into the store: already there, re-import from the cache, or
# report that it must be built (return 1).
ensure() { # image, key, dir, title, description
  local image=$1 key=$2 dir=$3
  if [[ ${DROPTRACE_IMAGE_REBUILD:-0} == 1 ]]; then return 1; fi
  if have_image "$image:$key"; then
    "${podman[@]}" tag "$image:$key" "$image:latest"
    log "cached $image:$key"
    return 0
  fi
  if cached "$dir"; then
    log "re-importing $image:$key from $dir"
    import "$dir" "$image" "$key" "$4" "$5"
    return 0
  fi
  return 1
}

node_dir="$CACHE_ROOT/node-$node_key"
build_dir="$CACHE_ROOT/build-$build_key"
agent_dir="$CACHE_ROOT/agent-$agent_key"
NODE_DESC="Debian $NODE_SUITE minbase with nodejs: droptrace controller runtime"
BUILD_DESC="Debian $NODE_SUITE minbase with nodejs and npm: droptrace build stage"
AGENT_DESC="Debian $AGENT_SUITE minbase with nodejs, SystemTap, gcc, make, kmod, elfutils: droptrace agent runtime"

started=$SECONDS

# Node and build bases share one bootstrap: build = node + npm.
if ! ensure "$NODE_IMAGE" "$node_key" "$node_dir" droptrace-base-node "$NODE_DESC" ||
  ! ensure "$BUILD_IMAGE" "$build_key" "$build_dir" droptrace-base-build "$BUILD_DESC"; then
  mkdir -p "$node_dir" "$build_dir"
  rm -f "$node_dir/complete" "$build_dir/complete"
  tree="$node_dir/tree.partial"
  bootstrap "$NODE_SUITE" "$tree" "$node_dir/debootstrap.log" "${NODE_PACKAGES[@]}"
  set_sources "$tree" "$NODE_SUITE"
  apt_install "$tree" "$NODE_SUITE" "${NODE_PACKAGES[@]}" || die "apt-get upgrade/install in the $NODE_SUITE tree failed"
  btree="$build_dir/tree.partial"
  rm -rf --one-file-system "$btree"
  cp -a "$tree" "$btree"
  apt_install "$btree" "$NODE_SUITE" "${BUILD_PACKAGES[@]}" || die "installing ${BUILD_PACKAGES[*]} in the $NODE_SUITE tree failed"
  for t in "$tree" "$btree"; do
    slim "$t"
    chroot "$t" node --version >/dev/null || die "node does not run in $t"
  done
  { echo "# $NODE_SUITE $MIRROR recipe=$RECIPE_VERSION built=$(date -u +%FT%TZ)"; versions_of "$tree" nodejs "libnode*" libc6; } >"$node_dir/versions.txt"
  { echo "# $NODE_SUITE $MIRROR recipe=$RECIPE_VERSION built=$(date -u +%FT%TZ)"; versions_of "$btree" nodejs npm libc6; } >"$build_dir/versions.txt"
  pack "$tree" "$node_dir" && rm -rf --one-file-system "$tree"
  pack "$btree" "$build_dir" && rm -rf --one-file-system "$btree"
  touch "$node_dir/complete" "$build_dir/complete"
  import "$node_dir" "$NODE_IMAGE" "$node_key" droptrace-base-node "$NODE_DESC"
  import "$build_dir" "$BUILD_IMAGE" "$build_key" droptrace-base-build "$BUILD_DESC"
fi

if ! ensure "$AGENT_IMAGE" "$agent_key" "$agent_dir" droptrace-base-agent "$AGENT_DESC"; then
  mkdir -p "$agent_dir"
  rm -f "$agent_dir/complete"
  tree="$agent_dir/tree.partial"
  # debootstrap takes the first alternative of a dependency (systemd for
  # systemtap-runtime's sysusers), so only nodejs comes with it and apt, which
  # honours the explicit choice, installs the rest.
  bootstrap "$AGENT_SUITE" "$tree" "$agent_dir/debootstrap.log" nodejs
  set_sources "$tree" "$AGENT_SUITE"
  apt_install "$tree" "$AGENT_SUITE" "${AGENT_PACKAGES[@]}" || die "installing ${AGENT_PACKAGES[*]} in the $AGENT_SUITE tree failed"
  slim "$tree"
  for cmd in "node --version" "stap --version" "staprun -V" "gcc --version" "gcc-14 --version" "gcc-12 --version" "make --version" "modprobe --version" "eu-readelf --version"; do
    # shellcheck disable=SC2086 # the command is meant to split
    chroot "$tree" $cmd >/dev/null 2>&1 || die "'$cmd' does not run in the agent tree $tree"
  done
  { echo "# $AGENT_SUITE $MIRROR recipe=$RECIPE_VERSION built=$(date -u +%FT%TZ)"
    versions_of "$tree" nodejs systemtap systemtap-runtime gcc gcc-14 gcc-12 make kmod elfutils libc6; } >"$agent_dir/versions.txt"
  # What each compiler costs the image (dpkg's installed sizes: the gcc-N package and its cc1, lto and backend packages).
  for n in 16 14 12; do
    printf 'gcc-%s installed KiB: %s\n' "$n" "$(chroot "$tree" dpkg-query -W -f '${Installed-Size}\n' "gcc-$n" "cpp-$n" "gcc-$n-x86-64-linux-gnu" "cpp-$n-x86-64-linux-gnu" "libgcc-$n-dev" 2>/dev/null | awk '{s+=$1} END {print s+0}')"
  done >>"$agent_dir/versions.txt"
  pack "$tree" "$agent_dir" && rm -rf --one-file-system "$tree"
  touch "$agent_dir/complete"
  import "$agent_dir" "$AGENT_IMAGE" "$agent_key" droptrace-base-agent "$AGENT_DESC"
fi

log "bases ready in $((SECONDS - started))s"
echo "NODE_BASE=$NODE_IMAGE:$node_key"
echo "BUILD_BASE=$BUILD_IMAGE:$build_key"
echo "AGENT_BASE=$AGENT_IMAGE:$agent_key"
