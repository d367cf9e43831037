# Sourced by the guest scripts (guest-scenario.sh, guest-droptrace-cases.sh) inside the QEMU
# guest, which run as init: the file systems they need, and the test network every
# real-kernel scenario sends its drops through.

# mount_guest_filesystems: proc, sys, tmpfs on /tmp and /run (with /run/netns for `ip netns`),
# tracefs and debugfs for the tracepoint's format file, securityfs for the lockdown state.
mount_guest_filesystems() {
  mount -t proc proc /proc
  mount -t sysfs sys /sys
  mount -t tmpfs tmpfs /tmp
  mount -t tmpfs tmpfs /run
  mkdir -p /run/netns
  mount -t tracefs none /sys/kernel/tracing 2>/dev/null
  mount -t debugfs none /sys/kernel/debug 2>/dev/null
  # securityfs: the lockdown file the agent's preflight reads.
  mount -t securityfs none /sys/kernel/security 2>/dev/null
}

# The network:
#   lo;
#   netns a <-> netns b over the veth pair va/vb (10.9.0.1 / 10.9.0.2), with an iptables
#   (nft backend) rule in b dropping UDP to port 7777;
#   netns c and netns d, each with an interface named eth0 (as every pod has), reached from
#   the root netns over hc (10.9.1.1 -> 10.9.1.2) and hd (10.9.2.1 -> 10.9.2.2).
# setup_test_network returns non-zero when the iptables rule could not be added: the
# NETFILTER_DROP scenario would then silently not exist.
setup_test_network() {
  ip link set lo up
  for ns in a b c d; do ip netns add $ns; ip -n $ns link set lo up; done
  ip link add va type veth peer name vb
  ip link set va netns a
  ip link set vb netns b
  ip -n a addr add 10.9.0.1/24 dev va
  ip -n b addr add 10.9.0.2/24 dev vb
  ip -n a link set va up
  ip -n b link set vb up
  ip link add hc type veth peer name eth0 netns c
  ip link add hd type veth peer name eth0 netns d
  ip addr add 10.9.1.1/24 dev hc
  ip addr add 10.9.2.1/24 dev hd
  ip link set hc up
  ip link set hd up
  ip -n c addr add 10.9.1.2/24 dev eth0
  ip -n d addr add 10.9.2.2/24 dev eth0
  ip -n c link set eth0 up
  ip -n d link set eth0 up
  ip netns exec b iptables -A INPUT -p udp --dport 7777 -j DROP
}
