#!/bin/bash
# The whole real-kernel check, from nothing to checked results:
#   1. build (or reuse) the Debian sid guest tree          build-guest.sh
#   2. compile stap/droptrace.stp for its kernel, once as the agent will
#      (settings at load time) and once with -G settings compiled in, plus
#      the error-demonstration probes; record a compile failure on purpose
#      (a kernel release with no headers)                  compile-in-chroot.sh
#   3. boot the guest with guest-scenario.sh as init       boot-guest.sh
#   4. check the results                                   check-scenario.sh
#
# usage: run-scenario.sh OUTDIR
# OUTDIR receives everything the guest recorded plus host-side facts
# (host-facts.txt, compile-*.txt). Exit status: that of check-scenario.sh.
# Takes about 3 minutes with a warm cache, 6-7 with nothing cached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out"
out=$(realpath "$out")

eval "$("$here/build-guest.sh")"
mods=$(mktemp -d)
trap 'rm -rf "$mods"' EXIT

compile() { # label, then compile-in-chroot args after TREE OUTDIR
  local label=$1; shift
  local env
  env=$("$here/compile-in-chroot.sh" "$GUEST_TREE" "$mods" "$@" 2>"$out/compile-$label.txt") || {
    cat "$out/compile-$label.txt" >&2; return 1; }
  echo "$env" >>"$out/compile-$label.txt"
  echo "$env"
}

eval "$(compile main)"
MOD_NAME=$MODULE_NAME; main_seconds=$COMPILE_SECONDS
eval "$(compile main-again)"   # same inputs: SystemTap's cache answers
again_seconds=$COMPILE_SECONDS
eval "$(compile gset -G interval_s=5 -G interfaces=lo)"
MOD_G_NAME=$MODULE_NAME
for probe in map-overflow sized-map-overflow; do
  DROPTRACE_STAP_SCRIPT="$here/error-probes/$probe.stp" compile "$probe" >/dev/null
done
DROPTRACE_STAP_SCRIPT="$here/error-probes/overload.stp" compile overload \
  -DSTP_OVERLOAD_THRESHOLD=200000LL -DSTP_OVERLOAD_INTERVAL=1000000LL >/dev/null

# A compile failure on purpose: no headers for this release.
if DROPTRACE_KERNEL_RELEASE=0.0.0-nosuch "$here/compile-in-chroot.sh" "$GUEST_TREE" "$mods" \
  >/dev/null 2>"$out/compile-error-no-headers.txt"; then
  echo "run-scenario: compiling for a release without headers unexpectedly worked" >&2
  exit 1
fi

printf 'MOD_NAME=%s\nMOD_G_NAME=%s\n' "$MOD_NAME" "$MOD_G_NAME" >"$mods/modules.env"
{
  echo "guest_tree=$GUEST_TREE"
  echo "kernel_release=$GUEST_KERNEL_RELEASE"
  echo "stap_version=$(chroot "$GUEST_TREE" stap -V 2>&1 | head -n1)"
  echo "compile_seconds_first=$main_seconds"
  echo "compile_seconds_again=$again_seconds"
  echo "module_bytes=$(stat -c %s "$mods/$MOD_NAME.ko")"
  echo "host_kernel=$(uname -r)"
  echo "qemu=$(qemu-system-x86_64 --version | head -n1)"
  cat "$(dirname "$GUEST_TREE")/versions.txt"
} >"$out/host-facts.txt"

# The console also lands in $out/console.log.
boot_rc=0
DROPTRACE_GUEST_OUT="$out" "$here/boot-guest.sh" "$GUEST_TREE" "$here/guest-scenario.sh" "$here/guest-common.sh" \
  "$mods"/*.ko "$mods/modules.env" >/dev/null 2>"$out/boot.txt" || boot_rc=$?
cat "$out/boot.txt" >&2
sed -n 's/^BOOT_SECONDS=/boot_seconds=/p' "$out/boot.txt" >>"$out/host-facts.txt"
[[ $boot_rc == 0 ]] || echo "run-scenario: boot-guest.sh failed or the guest reported failure (status $boot_rc); checking what was recorded" >&2
"$here/check-scenario.sh" "$out"
