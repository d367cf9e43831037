#!/bin/bash
# The real-kernel suite's host side (npm run test:kernel calls it through kernel.test.ts):
#   1. build (or reuse) the Debian sid guest tree with its three kernels: build-guest.sh;
#   2. stage the built project (dist, stap, production node_modules);
#   3. for each kernel, compile the probe with `droptrace compile --stacks` (both modules: without
#      and with the stacks handler) in a chroot of the guest tree, twice: cold (empty module
#      cache) and warm (cache hit), timing both; every
#      kernel's module goes into one module cache, as on a build host serving many nodes;
#   4. for each kernel, boot the guest on it with guest-droptrace-cases.sh as init, the staged
#      project and the module cache as tarballs; the guest runs `droptrace run` as a user would:
#      every case on the newest kernel ("full"), the scenarios, filters and a cache holding
#      only the other kernels' modules on the others ("matrix"); on every kernel, `droptrace agent`
#      against the test API server (bundled here from guest-apiserver.ts) naming pods' drops;
#   5. leave each kernel's results and timings in OUTDIR/<release>/ for the assertions.
# usage: run-droptrace-cases.sh OUTDIR
# Environment: DROPTRACE_KERNELS="<release> ..." runs only those of the tree's kernels;
# DROPTRACE_CASES=matrix runs the matrix cases even on the newest of them (quicker, while developing a case).
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
[[ -n ${GUEST_TREE:-} && -n ${GUEST_KERNEL_RELEASES:-} ]] || die "build-guest.sh did not name a tree and its kernel releases"
t_tree=$(now)
read -r -a kernels <<<"${DROPTRACE_KERNELS:-$GUEST_KERNEL_RELEASES}"
for r in "${kernels[@]}"; do
  [[ " $GUEST_KERNEL_RELEASES " == *" $r "* ]] || die "kernel $r is not in the guest tree (it has: $GUEST_KERNEL_RELEASES)"
done
full=${kernels[-1]}
log "guest tree $GUEST_TREE ($(secs "$t_all" "$t_tree")s); kernels: ${kernels[*]}; every case on $full"
printf '%s\n' "${kernels[@]}" >"$out/kernels.txt"

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
# build host would run it, with the one SystemTap (the agent image's) and the compiler each
# kernel's headers name (their CC: gcc-12 for 6.1, gcc-14 for 6.12, gcc-16 for 7.2).
bind() { mkdir -p "$2"; mount --bind "$1" "$2"; mounted+=("$2"); }
if ! mountpoint -q "$GUEST_TREE/proc"; then mount -t proc proc "$GUEST_TREE/proc"; mounted+=("$GUEST_TREE/proc"); fi
bind "$stage" "$GUEST_TREE/opt/droptrace"
bind "$cache" "$GUEST_TREE/var/cache/droptrace"
compile() {
  chroot "$GUEST_TREE" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    node /opt/droptrace/dist/src/cli/main.js compile --kernel-release "$1" --stacks --cache-dir /var/cache/droptrace
}
for r in "${kernels[@]}"; do
  mkdir -p "$out/$r"
  t0=$(now); compile "$r" >"$out/$r/compile-cold.txt" 2>&1 || { cat "$out/$r/compile-cold.txt" >&2; die "droptrace compile failed in the chroot for $r"; }; t1=$(now)
  compile "$r" >"$out/$r/compile-warm.txt" 2>&1 || { cat "$out/$r/compile-warm.txt" >&2; die "second droptrace compile failed for $r"; }; t2=$(now)
  printf 'compile_cold_seconds=%s\ncompile_warm_seconds=%s\n' "$(secs "$t0" "$t1")" "$(secs "$t1" "$t2")" >"$out/$r/host-timings.txt"
  log "compiled for $r: cold $(secs "$t0" "$t1")s, warm $(secs "$t1" "$t2")s: $(cat "$out/$r/compile-cold.txt")"
done
for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}"; done
mounted=()

tar -C "$stage" -czf "$work/droptrace.tgz" .
tar -C "$cache" -czf "$work/module-cache.tgz" .
# The "pods" case's Kubernetes API: the test API server and its starter (guest-apiserver.ts) as one
# ES module for the guest's node, beside the CRDs it serves.
apiserver="$work/test-apiserver"
mkdir -p "$apiserver"
cp -a "$repo/crds" "$apiserver/crds"
"$repo/node_modules/.bin/esbuild" "$here/guest-apiserver.ts" --bundle --platform=node --format=esm --target=node20 --log-level=warning \
  --outfile="$apiserver/guest-apiserver.mjs" \
  "--banner:js=import { createRequire as __guestCreateRequire } from 'node:module'; const require = __guestCreateRequire(import.meta.url);" \
  || die "esbuild could not bundle guest-apiserver.ts"
tar -C "$apiserver" -czf "$work/guest-apiserver.tgz" .
failed=()
for r in "${kernels[@]}"; do
  cases=matrix
  [[ $r == "$full" ]] && cases=${DROPTRACE_CASES:-full}
  echo "CASES=$cases" >"$work/cases.env"
  log "booting $r ($cases cases)"
  t3=$(now)
  set +e
  DROPTRACE_GUEST_NIC_LOOP=1 DROPTRACE_GUEST_KERNEL=$r DROPTRACE_GUEST_OUT="$out/$r/guest" "$here/boot-guest.sh" "$GUEST_TREE" "$here/guest-droptrace-cases.sh" \
    "$here/guest-common.sh" "$work/droptrace.tgz" "$work/module-cache.tgz" "$work/guest-apiserver.tgz" "$work/cases.env" >"$out/$r/console.txt" 2>"$out/$r/boot.txt"
  rc=$?
  set -e
  t4=$(now)
  {
    echo "tree_seconds=$(secs "$t_all" "$t_tree")"
    echo "guest_seconds=$(secs "$t3" "$t4")"
    echo "kernel_release=$r"
    echo "cases=$cases"
  } >>"$out/$r/host-timings.txt"
  if [[ $rc != 0 ]]; then
    tail -n 40 "$out/$r/console.txt" >&2
    log "the guest on $r failed (status $rc); console in $out/$r/console.txt"
    failed+=("$r")
  fi
done
echo "total_seconds=$(secs "$t_all" "$(now)")" >"$out/host-timings.txt"
cat "$out/host-timings.txt" "$out"/*/host-timings.txt >&2
[[ ${#failed[@]} == 0 ]] || die "the guest run failed on: ${failed[*]}"
