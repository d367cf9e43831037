#!/bin/bash
# The real-kernel suite's host side (npm run test:kernel calls it through kernel.test.ts):
#   1. build (or reuse) the Debian sid guest tree: build-guest.sh;
#   2. stage the built project (dist, stap, production node_modules);
#   3. compile the probe with `droptrace compile` in a chroot of the guest tree, twice:
#      cold (empty module cache) and warm (cache hit), timing both;
#   4. boot the guest with guest-droptrace-cases.sh as init, the staged project and the
#      module cache as tarballs; the guest runs `droptrace run` as a user would;
#   5. leave the guest's results and timings in OUTDIR for the assertions.
# usage: run-droptrace-cases.sh OUTDIR
set -euo pipefail

die() { echo "run-droptrace-cases: ERROR: $*" >&2; exit 1; }
log() { echo "run-droptrace-cases: $*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }

[[ $# -eq 1 ]] || die "usage: $0 OUTDIR"
[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot, mount)"
out=$(mkdir -p "$1" && realpath -e "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[[ -f $repo/dist/src/cli/main.js ]] || die "$repo/dist is missing: run npm run build first"

t_all=$(now)
eval "$("$here/build-guest.sh")"
[[ -n ${GUEST_TREE:-} && -n ${GUEST_KERNEL_RELEASE:-} ]] || die "build-guest.sh did not name a tree and a kernel release"
t_tree=$(now)
log "guest tree $GUEST_TREE, kernel $GUEST_KERNEL_RELEASE"

work=$(mktemp -d "$(dirname "$GUEST_TREE")/cases.XXXXXX")
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || log "WARNING: could not unmount ${mounted[i]}"
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The project as the agent image would carry it: the build, the probe, production dependencies.
stage="$work/droptrace"
mkdir -p "$stage"
cp -a "$repo/package.json" "$repo/package-lock.json" "$repo/dist" "$repo/stap" "$stage/"
(cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
cache="$work/module-cache"
mkdir -p "$cache"

# Compile in a chroot of the guest's tree: compiling inside the emulated guest takes more
# than 20 minutes. The tree's own node runs droptrace, so this is `droptrace compile` as a
# build host would run it.
bind() { mkdir -p "$2"; mount --bind "$1" "$2"; mounted+=("$2"); }
if ! mountpoint -q "$GUEST_TREE/proc"; then mount -t proc proc "$GUEST_TREE/proc"; mounted+=("$GUEST_TREE/proc"); fi
bind "$stage" "$GUEST_TREE/opt/droptrace"
bind "$cache" "$GUEST_TREE/var/cache/droptrace"
compile() {
  chroot "$GUEST_TREE" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    node /opt/droptrace/dist/src/cli/main.js compile --kernel-release "$GUEST_KERNEL_RELEASE" --cache-dir /var/cache/droptrace
}
t0=$(now); compile >"$out/compile-cold.txt" 2>&1 || { cat "$out/compile-cold.txt" >&2; die "droptrace compile failed in the chroot"; }; t1=$(now)
compile >"$out/compile-warm.txt" 2>&1 || { cat "$out/compile-warm.txt" >&2; die "second droptrace compile failed"; }; t2=$(now)
for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}"; done
mounted=()
log "compiled: cold $(secs "$t0" "$t1")s, warm $(secs "$t1" "$t2")s: $(cat "$out/compile-cold.txt")"

tar -C "$stage" -czf "$work/droptrace.tgz" .
tar -C "$cache" -czf "$work/module-cache.tgz" .
t3=$(now)
set +e
DROPTRACE_GUEST_OUT="$out/guest" "$here/boot-guest.sh" "$GUEST_TREE" "$here/guest-droptrace-cases.sh" \
  "$here/guest-common.sh" "$work/droptrace.tgz" "$work/module-cache.tgz" >"$out/console.txt" 2>"$out/boot.txt"
rc=$?
set -e
t4=$(now)
{
  echo "tree_seconds=$(secs "$t_all" "$t_tree")"
  echo "compile_cold_seconds=$(secs "$t0" "$t1")"
  echo "compile_warm_seconds=$(secs "$t1" "$t2")"
  echo "guest_seconds=$(secs "$t3" "$t4")"
  echo "total_seconds=$(secs "$t_all" "$t4")"
  echo "kernel_release=$GUEST_KERNEL_RELEASE"
} >"$out/host-timings.txt"
cat "$out/host-timings.txt" >&2
[[ $rc == 0 ]] || { tail -n 40 "$out/console.txt" >&2; die "the guest run failed (status $rc); console in $out/console.txt"; }
