#!/bin/bash
# Boot the guest tree under QEMU (software emulation, TCG: KVM guests hang on
# these machines) with GUEST_SCRIPT as init, and return when it powers off.
#
# usage: boot-guest.sh TREE GUEST_SCRIPT [FILE...]
#
# - the root filesystem is a fresh ext4 image made with `mkfs.ext4 -d` from a
#   hard-linked copy of TREE (fast, and TREE itself is never written) with
#   GUEST_SCRIPT as /droptrace/guest.sh and each FILE copied into /droptrace/;
# - the kernel runs GUEST_SCRIPT as init (PATH then lacks /usr/sbin: the
#   script must set it) and the script must end with
#   `echo o > /proc/sysrq-trigger`; before that it should print
#   "droptrace-guest: exit <status>" so this script can return its status;
# - the kernel booted is DROPTRACE_GUEST_KERNEL (a release whose vmlinuz and initrd are in the
#   tree's /boot), by default the newest; the image leaves out what only compiling needs (other
#   kernels' modules, /usr/src's headers, the kbuild scripts, SystemTap's compile cache), so it
#   stays small and quick to build however many kernels the tree holds;
# - the serial console goes to stdout (and to OUT/console.log);
# - DROPTRACE_GUEST_NIC_LOOP=1 adds two NICs wired to each other through QEMU (socket
#   netdevs over UDP on 127.0.0.1): a virtio-net (MAC 52:54:00:00:00:0a) and an emulated
#   Intel e1000 (MAC 52:54:00:00:00:0b), so a guest can make drops in a NIC (the e1000
#   discards frames longer than its MTU allows before the kernel sees them, and counts them);
# - QEMU runs under `timeout`, so a hung guest ends after
#   DROPTRACE_GUEST_TIMEOUT seconds (default 900) with exit status 124;
# - if DROPTRACE_GUEST_OUT is set, the guest's /droptrace/out directory is
#   copied there from the image after power-off (debugfs rdump), so results
#   do not have to travel through the console.
#
# Exit status: the guest's reported status, 124 on timeout, 1 if the guest
# stopped without reporting one.
set -euo pipefail

die() { echo "boot-guest: ERROR: $*" >&2; exit 1; }
log() { echo "boot-guest: $*" >&2; }

[[ $# -ge 2 ]] || die "usage: $0 TREE GUEST_SCRIPT [FILE...]"
[[ $(id -u) == 0 ]] || die "must run as root"
tree=$(realpath -e "$1") || die "no such tree: $1"
guest_script=$(realpath -e "$2") || die "no such guest script: $2"
shift 2
for tool in qemu-system-x86_64 mkfs.ext4 debugfs timeout; do
  command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null \
    || die "'$tool' not found: apt-get install -y qemu-system-x86 e2fsprogs"
done
PATH=$PATH:/usr/sbin:/sbin

timeout_s=${DROPTRACE_GUEST_TIMEOUT:-900}
out=${DROPTRACE_GUEST_OUT:-}
if [[ -n ${DROPTRACE_GUEST_KERNEL:-} ]]; then
  kernel="$tree/boot/vmlinuz-$DROPTRACE_GUEST_KERNEL"
  [[ -f $kernel ]] || die "no kernel $DROPTRACE_GUEST_KERNEL in $tree/boot (there: $(ls "$tree"/boot | sed -n 's/^vmlinuz-//p' | tr '\n' ' '))"
else
  kernel=$(ls "$tree"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1)
  [[ -n $kernel ]] || die "no kernel in $tree/boot"
fi
release=${kernel##*/vmlinuz-}
initrd="$tree/boot/initrd.img-$release"
[[ -f $initrd ]] || die "no initrd for $release in $tree/boot"

# Scratch space next to the tree: hard links need the same filesystem.
work=$(mktemp -d "$(dirname "$tree")/boot.XXXXXX")
qemu_pid=
cleanup() {
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [[ ${DROPTRACE_GUEST_KEEP:-0} == 1 ]]; then
    log "kept $work (DROPTRACE_GUEST_KEEP=1)"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s.%N)
# -x: skip anything another user of the tree has mounted inside it.
cp -a -l -x "$tree" "$work/root"
# New directory (cp -al makes directories, only files are links): writing here
# never touches the tree.
rm -rf "$work/root/droptrace"
# Unlinking in the copy leaves the tree's own files alone (they are hard links).
for dir in "$work/root/lib/modules/"*; do [[ ${dir##*/} == "$release" ]] || rm -rf "$dir"; done
rm -rf "$work/root/usr/src/"* "$work/root/usr/lib/linux-kbuild-"* "$work/root/root/.systemtap"
mkdir -p "$work/root/droptrace/out"
cp "$guest_script" "$work/root/droptrace/guest.sh"
chmod 0755 "$work/root/droptrace/guest.sh"
for f in "$@"; do
  cp "$f" "$work/root/droptrace/"
done
truncate -s 3G "$work/root.img"
mkfs.ext4 -q -F -d "$work/root" "$work/root.img"
t1=$(date +%s.%N)
log "image ready in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s; booting $release (timeout ${timeout_s}s)"

nics=(-nic none)
if [[ ${DROPTRACE_GUEST_NIC_LOOP:-0} == 1 ]]; then
  # Two ports no other guest of this run uses: from this script's PID.
  port_a=$((20000 + ($$ % 20000) * 2)) port_b=$((20001 + ($$ % 20000) * 2))
  nics=(-netdev "socket,id=nica,udp=127.0.0.1:$port_b,localaddr=127.0.0.1:$port_a" -device virtio-net-pci,netdev=nica,mac=52:54:00:00:00:0a
    -netdev "socket,id=nicb,udp=127.0.0.1:$port_a,localaddr=127.0.0.1:$port_b" -device e1000,netdev=nicb,mac=52:54:00:00:00:0b)
fi
console="$work/console.log"
# tsc=reliable: no clocksource watchdog. Under emulation on a loaded host the TSC looks unstable
# to it, and switching clocksources patches kernel text while the other vCPU runs it: a 7.2 guest
# died of that once (int3 in sched_clock_cpu from clocksource_watchdog_work), mid-case.
set +e
timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel tcg -m 2048 -smp 2 \
  -nographic -no-reboot "${nics[@]}" \
  -kernel "$kernel" -initrd "$initrd" \
  -drive "file=$work/root.img,format=raw,if=virtio" \
  -append "console=ttyS0 root=/dev/vda rw init=/droptrace/guest.sh panic=-1 quiet tsc=reliable" \
  </dev/null 2>&1 | tee "$console"
rc=${PIPESTATUS[0]}
set -e
t2=$(date +%s.%N)
boot_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", b-a}')

if [[ -n $out ]]; then
  mkdir -p "$out"
  cp "$console" "$out/console.log"
  debugfs -R "rdump /droptrace/out $out" "$work/root.img" >/dev/null 2>&1 \
    || log "WARNING: could not copy /droptrace/out from the image"
  # rdump puts the directory itself inside $out.
  if [[ -d $out/out ]]; then cp -a "$out/out/." "$out/" && rm -rf "$out/out"; fi
fi

if [[ $rc == 124 || $rc == 137 ]]; then
  echo "boot-guest: ERROR: guest did not power off within ${timeout_s}s (QEMU killed)" >&2
  exit 124
fi
[[ $rc == 0 ]] || die "qemu-system-x86_64 exited with status $rc after ${boot_s}s"
status=$(tr -d '\r' <"$console" | sed -n 's/^droptrace-guest: exit \([0-9]\+\)$/\1/p' | tail -n1)
log "guest powered off after ${boot_s}s (boot to power-off); reported status: ${status:-none}"
echo "BOOT_SECONDS=$boot_s" >&2
[[ -n $status ]] || exit 1
exit "$status"
