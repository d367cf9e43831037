// What each drop reason means, in droptrace's own words: for every reason name the kernels the
// project supports define (KNOWN_DROP_REASONS), plus NO_REASON, what makes the kernel drop with
// it, the next thing to check where there is one, and whether such drops are usually part of
// normal operation. Read from the kernel's own documentation of `enum skb_drop_reason`
// (include/net/dropreason-core.h; include/net/dropreason.h on 6.1) and where that is terse, from
// the code that drops with the reason. Rows carry the class; the words are looked up here where
// rows are shown (`droptrace run`, the explanations in a DropTrace's status).
//
// Classes:
// - normal: healthy systems see these all the time, in small numbers (duplicates TCP discards,
//   queues freed when a socket or device goes away, frames meant for another host).
// - fault: something is misconfigured, overloaded or broken, and the next step says where to look.
// - depends: either, by count and context (a firewall rule dropping what it should; NO_SOCKET
//   from port scans or from a Service pointing at the wrong port); the next step says how to tell.
// - unknown: only for a reason this table does not have (a kernel newer than droptrace, or a
//   subsystem's own reasons that the tracepoint does not name). Never in the table itself.
import { z } from "zod";
import { NO_REASON, type KnownDropReason } from "./drop-reasons.js";

export const DROP_CLASSES = ["normal", "fault", "depends", "unknown"] as const;
export const DropClassSchema = z.enum(DROP_CLASSES);
export type DropClass = z.infer<typeof DropClassSchema>;

export interface DropExplanation {
  readonly class: DropClass;
  /** One sentence: what makes the kernel drop with this reason. */
  readonly meaning: string;
  /** One sentence: what to check next, where there is something to check. */
  readonly nextStep?: string;
}

/** Longest meaning or next step in the table; the status schema bounds them by it. */
export const MAX_EXPLANATION_TEXT = 300;

type Entry = DropExplanation & { readonly class: Exclude<DropClass, "unknown"> };

const CHECKSUM_STEP =
  "Check the interface's error counters (ip -s link, ethtool -S) and checksum offloads (ethtool -k); on VXLAN overlays, turning off tx checksum offload on the VXLAN device is a known fix.";
const TCP_AUTH_STEP = "Check that both ends of the session, often a BGP peering of the CNI or MetalLB, are configured with the same password or keys.";
const SLOW_READER_STEP =
  "Find out why the receiving application does not keep up (CPU throttling from the pod's limits, a blocked thread) or give it a larger receive buffer (SO_RCVBUF, net.core.rmem_max).";
const TCP_WINDOW_STEP =
  "A few come from late or reordered packets; many point at a NAT or conntrack table that maps two connections onto one, or at a misbehaving peer.";
const TC_STEP =
  "Find the filter or program (tc filter show dev <interface> ingress|egress, bpftool net); in Cilium clusters, hubble observe --verdict DROPPED names the policy.";
const TC_CONFIG_STEP = "Review the tc filters and actions on that interface (tc filter show dev <interface>, tc actions ls).";
const FQ_STEP = "Inspect the fq qdisc (tc -s qdisc show dev <interface>) and raise its limits if the traffic is legitimate, or pace the sender.";
const MALFORMED_STEP = "Look at the sender behind this interface and at the interface's error counters (ip -s link).";
const JUNK_SENDER_STEP = "Find the sender by its addresses (tcpdump -e on the interface): broken stacks, scanners and spoofed traffic send these.";
const NDISC_STEP = "Find the sender on that link (tcpdump -e icmp6): a broken IPv6 stack or a spoofing attempt.";
const VXLAN_STEP = "Check that every node's VXLAN device uses the same port and options (GBP, GPE) and that nothing else sends to the VXLAN port.";
const CAN_STEP = "Check the CAN device's configuration (ip -d link show) and the node that sends on the bus.";
const PSP_STEP = "Check that both ends agree on PSP for the connection and on its keys, and the device's PSP configuration.";
const MEMORY_STEP = "The node is short of memory: check its memory pressure (free, /proc/meminfo, vm.min_free_kbytes) and the pods that use the most.";

/**
 * Every name of KNOWN_DROP_REASONS and NO_REASON, no other: the type refuses a missing or an
 * extra entry, and test/api/drop-explanations.test.ts checks it against the CRD and the kernels.
 */
export const DROP_EXPLANATIONS: Readonly<Record<KnownDropReason | typeof NO_REASON, Entry>> = {
  [NO_REASON]: {
    class: "depends",
    meaning: "This kernel is older than 5.17 and does not say why it drops packets, so only the symbol tells where it happened.",
    nextStep: "Read what the symbol's function drops in this kernel's source, or trace a node with kernel 5.17 or later to get reasons.",
  },
  NOT_SPECIFIED: {
    class: "depends",
    meaning: "The kernel dropped the packet at a place that names no reason, so the symbol is the only clue.",
    nextStep:
      "Look at the symbol: multicast the host has not joined (ip6_mc_input) and devices going down are routine, anything else is worth reading in the kernel source.",
  },
  NO_SOCKET: {
    class: "depends",
    meaning: "A packet arrived for a port or connection no socket on this host owns: nothing listens there, or the connection has already closed.",
    nextStep:
      "Check that the process is up and listens on the port the Service's targetPort names (ss -ltnup in the pod); a trickle from port scans or late replies to closed connections is routine.",
  },
  SOCKET_CLOSE: {
    class: "normal",
    meaning: "The socket was closed while packets still waited in its queue, and they were discarded with it.",
    nextStep: "Only many of them matter: an application that closes connections before reading what its peer sent.",
  },
  SOCKET_FILTER: {
    class: "depends",
    meaning: "A filter attached to the receiving socket (a classic or eBPF socket filter, or a cgroup ingress program) refused the packet.",
    nextStep:
      "Find the program (bpftool cgroup tree, bpftool prog) and check it means to refuse this traffic: a filter discarding what it does not want is doing its job.",
  },
  SOCKET_RCVBUFF: {
    class: "fault",
    meaning: "The receiving socket's buffer was full because the application reads more slowly than packets arrive.",
    nextStep: SLOW_READER_STEP,
  },
  UNIX_DISCONNECT: {
    class: "normal",
    meaning: "Messages queued on a Unix datagram or seqpacket socket were discarded because it connected elsewhere or its peer closed.",
  },
  UNIX_SKIP_OOB: {
    class: "normal",
    meaning: "Out-of-band data on a Unix stream socket was skipped by a reader that did not ask for it.",
  },
  PKT_TOO_SMALL: {
    class: "fault",
    meaning: "The packet was shorter than its own headers say, so it was cut short or malformed.",
    nextStep: MALFORMED_STEP,
  },
  TCP_CSUM: {
    class: "fault",
    meaning: "A TCP segment failed its checksum: it was damaged on the way, or a device computed the checksum wrongly.",
    nextStep: CHECKSUM_STEP,
  },
  UDP_CSUM: {
    class: "fault",
    meaning: "A UDP datagram failed its checksum: it was damaged on the way, or a device computed the checksum wrongly.",
    nextStep: CHECKSUM_STEP,
  },
  NETFILTER_DROP: {
    class: "depends",
    meaning:
      "An iptables or nftables rule dropped or rejected the packet: a firewall, a NetworkPolicy, or kube-proxy refusing a Service without endpoints or an invalid connection state.",
    nextStep:
      "Find the rule whose counter grows (iptables-save -c or nft list ruleset on the node) and the NetworkPolicies that select the pod (kubectl get networkpolicy -A).",
  },
  OTHERHOST: {
    class: "normal",
    meaning:
      "The frame was addressed to another host and reached this one only because the interface receives everything (promiscuous mode, bridges, packet capture).",
  },
  IP_CSUM: {
    class: "fault",
    meaning: "An IP header failed its checksum: it was damaged on the way, or a device computed the checksum wrongly.",
    nextStep: CHECKSUM_STEP,
  },
  IP_INHDR: {
    class: "depends",
    meaning: "The IP header was unusable: malformed, or its time to live ran out while the packet was being forwarded.",
    nextStep: "A steady stream means a routing loop (ip route get <destination>) or a broken sender; traceroute probes cause a few.",
  },
  IP_RPFILTER: {
    class: "fault",
    meaning: "Reverse-path filtering refused the packet: the route back to its source does not leave through the interface it came in on.",
    nextStep:
      "Look for asymmetric routing (ip route get <source> from <destination> iif <interface>) and the interface's rp_filter sysctl (2 is loose); spoofed sources end here too.",
  },
  UNICAST_IN_L2_MULTICAST: {
    class: "depends",
    meaning: "An IP unicast packet arrived in a link-layer multicast or broadcast frame, which a host must not accept.",
    nextStep: "A device on this segment sends odd frames (some load balancers and failover setups do): find it by its source MAC with tcpdump -e.",
  },
  XFRM_POLICY: {
    class: "depends",
    meaning: "An IPsec (xfrm) policy required protection the packet did not have, or the packet matched a policy that blocks it.",
    nextStep: "Compare ip xfrm policy and ip xfrm state on both ends; a few while keys of encrypted pod traffic rotate are expected.",
  },
  IP_NOPROTO: {
    class: "depends",
    meaning: "The packet carried an IP protocol nothing on this host handles, such as SCTP or GRE without its module.",
    nextStep: "If that protocol should work, load its module (lsmod shows what is loaded); otherwise it is a scan or a misdirected sender.",
  },
  PROTO_MEM: {
    class: "fault",
    meaning: "The memory a protocol may use for all sockets on the host (udp_mem or tcp_mem) was used up.",
    nextStep: "Compare /proc/net/sockstat with net.ipv4.udp_mem or net.ipv4.tcp_mem, and find the sockets holding unread data (ss -m).",
  },
  TCP_AUTH_HDR: {
    class: "fault",
    meaning: "A TCP segment carried its authentication option (TCP-MD5 or TCP-AO) twice or malformed.",
    nextStep: TCP_AUTH_STEP,
  },
  TCP_MD5NOTFOUND: {
    class: "fault",
    meaning: "A connection that requires a TCP-MD5 signature received a segment without one.",
    nextStep: TCP_AUTH_STEP,
  },
  TCP_MD5UNEXPECTED: {
    class: "fault",
    meaning: "A segment carried a TCP-MD5 signature on a connection not configured for one.",
    nextStep: TCP_AUTH_STEP,
  },
  TCP_MD5FAILURE: {
    class: "fault",
    meaning: "A segment's TCP-MD5 signature did not match, so the two ends use different passwords.",
    nextStep: TCP_AUTH_STEP,
  },
  TCP_AONOTFOUND: {
    class: "fault",
    meaning: "A connection that requires TCP-AO authentication received a segment without it.",
    nextStep: TCP_AUTH_STEP,
  },
  TCP_AOUNEXPECTED: {
    class: "fault",
    meaning: "A segment carried TCP-AO authentication on a connection not configured for it.",
    nextStep: TCP_AUTH_STEP,
  },
  TCP_AOKEYNOTFOUND: {
    class: "fault",
    meaning: "A segment was signed with a TCP-AO key this host does not know.",
    nextStep: TCP_AUTH_STEP,
  },
  TCP_AOFAILURE: {
    class: "fault",
    meaning: "A segment's TCP-AO signature did not verify.",
    nextStep: TCP_AUTH_STEP,
  },
  SOCKET_BACKLOG: {
    class: "fault",
    meaning: "The socket's backlog, which holds packets while the application is busy with the socket, overflowed.",
    nextStep: SLOW_READER_STEP,
  },
  TCP_FLAGS: {
    class: "depends",
    meaning: "A TCP segment carried a combination of flags that is invalid in the connection's state.",
    nextStep: "Scanners send these on purpose; many from a real peer point at a broken middlebox or NAT.",
  },
  TCP_ABORT_ON_DATA: {
    class: "normal",
    meaning: "Data arrived for a TCP connection the application had already shut down for reading, so the kernel reset the connection.",
    nextStep: "Only many of them matter: a client or server that closes before its peer has finished sending.",
  },
  TCP_ZEROWINDOW: {
    class: "fault",
    meaning: "The receiver's TCP window was zero, so there was no room for the data: the application is not reading.",
    nextStep: SLOW_READER_STEP,
  },
  TCP_OLD_DATA: {
    class: "normal",
    meaning: "A TCP segment repeated data already received, usually a retransmission sent before the acknowledgement arrived.",
    nextStep: "Many of them mean lost acknowledgements or a sender that retransmits too early: look for packet loss on the path.",
  },
  TCP_OVERWINDOW: {
    class: "depends",
    meaning: "A TCP segment started beyond the receive window this host had advertised.",
    nextStep: "A few follow a shrinking window; many point at a peer or middlebox that ignores the window.",
  },
  TCP_OFOMERGE: {
    class: "normal",
    meaning: "An out-of-order TCP segment duplicated data already waiting in the out-of-order queue.",
  },
  TCP_RFC7323_PAWS: {
    class: "depends",
    meaning: "A TCP segment's timestamp was older than the connection's last one (PAWS), so it was taken for an old duplicate.",
    nextStep:
      "Many from one address usually mean several clients behind one NAT with different timestamp clocks: check the NAT and net.ipv4.tcp_timestamps on both ends.",
  },
  TCP_RFC7323_PAWS_ACK: {
    class: "normal",
    meaning: "An acknowledgement failed the timestamp check (PAWS) and was ignored as an old duplicate.",
  },
  TCP_RFC7323_TW_PAWS: {
    class: "depends",
    meaning: "A segment for a connection in TIME_WAIT failed the timestamp check (PAWS).",
    nextStep: "Old duplicates cause a few; many mean clients, often behind a NAT, reuse ports before TIME_WAIT ends.",
  },
  TCP_RFC7323_TSECR: {
    class: "depends",
    meaning: "A TCP segment echoed a timestamp this host never sent.",
    nextStep: "Look for a middlebox that rewrites TCP timestamps, or a NAT that mixes two connections.",
  },
  TCP_LISTEN_OVERFLOW: {
    class: "fault",
    meaning: "A listening socket's accept queue was full, so a new connection was refused: the server accepts more slowly than clients connect.",
    nextStep:
      "Raise the listen backlog (the application's listen() argument and net.core.somaxconn) or add replicas, and check that the accept loop is not stuck.",
  },
  TCP_OLD_SEQUENCE: {
    class: "normal",
    meaning: "A TCP segment lay entirely before the data already received: a duplicate.",
  },
  TCP_INVALID_SEQUENCE: {
    class: "depends",
    meaning: "A TCP segment's sequence number was outside the receive window.",
    nextStep: TCP_WINDOW_STEP,
  },
  TCP_INVALID_END_SEQUENCE: {
    class: "depends",
    meaning: "A TCP segment ended beyond the receive window.",
    nextStep: TCP_WINDOW_STEP,
  },
  TCP_INVALID_ACK_SEQUENCE: {
    class: "depends",
    meaning: "A TCP segment acknowledged data outside what this host had sent and not yet seen acknowledged.",
    nextStep: TCP_WINDOW_STEP,
  },
  TCP_RESET: {
    class: "depends",
    meaning: "A TCP reset arrived with a sequence number outside the window and was ignored.",
    nextStep: "Late resets of connections already gone cause a few; a steady stream can be reset injection.",
  },
  TCP_INVALID_SYN: {
    class: "depends",
    meaning: "A SYN arrived on a connection that is already established.",
    nextStep: "Usually the peer restarted or a NAT reused the port; many from one Service's clients point at conntrack or SNAT port reuse.",
  },
  TCP_CLOSE: {
    class: "normal",
    meaning: "A segment arrived for a TCP socket already in the CLOSE state, usually late traffic of a connection that ended.",
  },
  TCP_FASTOPEN: {
    class: "normal",
    meaning: "A TCP Fast Open connection still in its handshake could not take this segment; the sender retransmits it.",
  },
  TCP_OLD_ACK: {
    class: "normal",
    meaning: "An acknowledgement older than the last one but still within the window was ignored.",
  },
  TCP_TOO_OLD_ACK: {
    class: "depends",
    meaning: "An acknowledgement far older than anything outstanding was ignored.",
    nextStep: "A few are late duplicates; many point at a NAT that mixes connections or at an injection attempt.",
  },
  TCP_ACK_UNSENT_DATA: {
    class: "depends",
    meaning: "A segment acknowledged data this host has not sent yet.",
    nextStep: "Look for a NAT or conntrack problem that hands one connection's packets to another, or a blind injection attempt.",
  },
  TCP_OFO_QUEUE_PRUNE: {
    class: "fault",
    meaning: "Out-of-order TCP data was thrown away because the socket ran short of receive memory.",
    nextStep: "Raise the receive buffer (net.ipv4.tcp_rmem) and look for loss on the path, which is what fills the out-of-order queue.",
  },
  TCP_OFO_DROP: {
    class: "normal",
    meaning: "A segment waiting in the out-of-order queue turned out to hold data already received in order.",
  },
  IP_OUTNOROUTES: {
    class: "fault",
    meaning: "No route could be found to send the packet to its destination.",
    nextStep: "Check the node's routes for that destination (ip route get <destination>) and whether the CNI has set up the routes of the pod network.",
  },
  BPF_CGROUP_EGRESS: {
    class: "depends",
    meaning: "An eBPF program attached to the sending process's cgroup refused the outgoing packet.",
    nextStep: "Find the program and its owner (bpftool cgroup tree): a network policy agent, systemd's IPAddressDeny, or a security tool.",
  },
  IPV6DISABLED: {
    class: "depends",
    meaning: "An IPv6 packet arrived on an interface where IPv6 is turned off.",
    nextStep:
      "Harmless where IPv6 is off on purpose, as neighbours still send multicast; in a dual-stack cluster enable it (net.ipv6.conf.<interface>.disable_ipv6=0).",
  },
  NEIGH_CREATEFAIL: {
    class: "fault",
    meaning: "The kernel could not add a neighbour (ARP or NDP) entry for the next hop, usually because the neighbour table is full.",
    nextStep:
      "Raise net.ipv4.neigh.default.gc_thresh3 (and the IPv6 one) above the number of neighbours the node talks to: large clusters outgrow the default.",
  },
  NEIGH_FAILED: {
    class: "fault",
    meaning: "Address resolution (ARP or NDP) of the next hop failed: nothing answered for that address.",
    nextStep: "Check that the next hop is up (ip neigh show lists it as FAILED); traffic still sent to a deleted pod's address ends here too.",
  },
  NEIGH_QUEUEFULL: {
    class: "fault",
    meaning: "Too many packets waited for the next hop's address to be resolved, and the queue for it overflowed.",
    nextStep: "The next hop answers ARP or NDP slowly or not at all: check it, or raise unres_qlen_bytes for legitimate bursts.",
  },
  NEIGH_DEAD: {
    class: "normal",
    meaning: "The neighbour entry was being removed, typically because its interface went away, while a packet waited on it.",
    nextStep: "Routine when pods or interfaces are deleted; many on a live interface mean neighbour entries that keep flapping.",
  },
  NEIGH_HH_FILLFAIL: {
    class: "fault",
    meaning: "The kernel could not build the link-layer header for the next hop.",
    nextStep: "Look at the interface's driver and neighbour entries (ip neigh show dev <interface>): a healthy device does not do this.",
  },
  TC_EGRESS: {
    class: "depends",
    meaning: "A traffic control (tc) filter or eBPF program on the interface's egress hook dropped the packet.",
    nextStep: TC_STEP,
  },
  SECURITY_HOOK: {
    class: "depends",
    meaning: "A Linux security module (SELinux, AppArmor, Smack) refused the packet.",
    nextStep: "Read the audit log (ausearch -m avc, dmesg) for the denial and the policy that made it.",
  },
  QDISC_DROP: {
    class: "depends",
    meaning: "The interface's outgoing queueing discipline (qdisc) refused the packet, usually because its queue was full.",
    nextStep:
      "See which qdisc drops (tc -s qdisc show dev <interface>): a few under bursts are how TCP finds its rate, many mean the link or a shaper is too slow for the load.",
  },
  QDISC_BURST_DROP: {
    class: "depends",
    meaning: "The queueing discipline dropped the packet because a burst went past net.core.qdisc_max_burst.",
    nextStep: "Raise net.core.qdisc_max_burst if the bursts are legitimate, or smooth the sender.",
  },
  FQ_BAND_LIMIT: {
    class: "depends",
    meaning: "The fq queueing discipline dropped the packet because its priority band was full.",
    nextStep: FQ_STEP,
  },
  FQ_HORIZON_LIMIT: {
    class: "fault",
    meaning: "The fq queueing discipline dropped a packet whose departure time was set too far in the future.",
    nextStep: "An application or eBPF program sets delivery times (SO_TXTIME) beyond fq's horizon: fix it, or raise the qdisc's horizon.",
  },
  FQ_FLOW_LIMIT: {
    class: "depends",
    meaning: "The fq queueing discipline dropped the packet because one flow had more packets queued than its per-flow limit.",
    nextStep: FQ_STEP,
  },
  CPU_BACKLOG: {
    class: "fault",
    meaning: "A CPU's backlog of received packets was full, or a flow hit the receive flow limit, so the kernel could not keep up with incoming traffic.",
    nextStep: "Raise net.core.netdev_max_backlog and spread receive work over CPUs (RSS, RPS); look for CPUs saturated by softirq work.",
  },
  MACVLAN_BROADCAST_BACKLOG: {
    class: "fault",
    meaning: "A macvlan device's queue for broadcast and multicast frames was full.",
    nextStep: "Raise the device's bcqueuelen (ip link set <device> type macvlan bcqueuelen N) or find the source of the broadcast flood.",
  },
  IPVLAN_MULTICAST_BACKLOG: {
    class: "fault",
    meaning: "An ipvlan device's queue for multicast and broadcast frames was full.",
    nextStep: "Find the source of the multicast or broadcast burst on the parent interface.",
  },
  XDP: {
    class: "depends",
    meaning: "An XDP program on the receiving interface dropped the packet.",
    nextStep: "Find the program and its owner (ip link show <interface>, bpftool net): a DDoS filter, a load balancer or a CNI datapath dropping on purpose.",
  },
  TC_INGRESS: {
    class: "depends",
    meaning: "A traffic control (tc) filter or eBPF program on the interface's ingress hook dropped the packet.",
    nextStep: TC_STEP,
  },
  UNHANDLED_PROTO: {
    class: "normal",
    meaning: "The frame carried a protocol nothing on this host handles, such as LLDP or spanning tree frames from a switch.",
    nextStep: "Routine on physical interfaces; many of a protocol you do use mean its module is not loaded.",
  },
  SKB_CSUM: {
    class: "fault",
    meaning: "The kernel failed to compute a checksum in software that the device could not compute itself.",
    nextStep: "Check the interface's checksum offloads (ethtool -k) and its driver.",
  },
  SKB_GSO_SEG: {
    class: "fault",
    meaning: "Splitting a large (GSO) packet into segments that fit the wire failed.",
    nextStep: "Check segmentation offloads (ethtool -k) and the MTUs along the path, such as an overlay whose MTU leaves no room for its header.",
  },
  SKB_BAD_GSO: {
    class: "fault",
    meaning: "A packet's segmentation (GSO) metadata did not match its contents, so it is malformed or hostile.",
    nextStep: "Find the sender: usually the driver of a virtual machine or tap device, or crafted traffic.",
  },
  SKB_UCOPY_FAULT: {
    class: "fault",
    meaning: "The kernel could not copy the packet's data from the sending application's memory.",
    nextStep: "An application bug, such as a bad buffer given to a zero-copy send: find the process sending on that interface.",
  },
  DEV_HDR: {
    class: "fault",
    meaning: "A device driver found its own header or metadata on the packet invalid, such as a tun or virtio-net header.",
    nextStep: "Look at the program or virtual machine that writes to that device, and at its driver.",
  },
  DEV_READY: {
    class: "depends",
    meaning: "The device was not ready to send or receive: it is down, or a tun/tap queue has no reader attached.",
    nextStep: "Check the interface's state (ip link show <interface>); a few while a pod or VM starts or stops are routine.",
  },
  FULL_RING: {
    class: "fault",
    meaning: "The device's ring buffer was full because the reader on its other side (a VM, a container runtime, a program) is not keeping up.",
    nextStep: "Find the slow consumer of that device, or enlarge its ring.",
  },
  NOMEM: {
    class: "fault",
    meaning: "The kernel failed to allocate memory while handling the packet.",
    nextStep: MEMORY_STEP,
  },
  HDR_TRUNC: {
    class: "fault",
    meaning: "A protocol header could not be read because the packet ends too early: it is truncated or malformed.",
    nextStep: MALFORMED_STEP,
  },
  TAP_FILTER: {
    class: "depends",
    meaning: "An eBPF filter attached to a tun/tap device refused the packet.",
    nextStep: "Check the filter that the VM manager or container runtime attached to that device.",
  },
  TAP_TXFILTER: {
    class: "depends",
    meaning: "A tun/tap device's own address filter refused a frame not meant for the program behind it.",
    nextStep: "Routine for frames addressed to other machines; many for the device's own traffic mean a wrong MAC filter set by the VM or runtime.",
  },
  ICMP_CSUM: {
    class: "fault",
    meaning: "An ICMP message failed its checksum: it was damaged on the way, or a device computed the checksum wrongly.",
    nextStep: CHECKSUM_STEP,
  },
  INVALID_PROTO: {
    class: "depends",
    meaning: "The packet breaks its protocol's rules in a way the kernel refuses, such as an ICMP timestamp request sent to a broadcast address.",
    nextStep: JUNK_SENDER_STEP,
  },
  IP_INADDRERRORS: {
    class: "depends",
    meaning: "The packet's destination is an address this host neither accepts nor forwards (host unreachable).",
    nextStep: "Where the node should route the traffic, check that forwarding is on (net.ipv4.ip_forward=1) and the routes for that address.",
  },
  IP_INNOROUTES: {
    class: "fault",
    meaning: "No route matched the incoming packet's destination, so it could not be forwarded (network unreachable).",
    nextStep:
      "Check the node's routes for that destination (ip route get <destination> from <source> iif <interface>), such as a missing route to another node's pods.",
  },
  IP_LOCAL_SOURCE: {
    class: "depends",
    meaning: "A packet arrived from outside with one of this host's own addresses as its source.",
    nextStep: "Look for a routing loop, a duplicate address on the network, or spoofed traffic.",
  },
  IP_INVALID_SOURCE: {
    class: "depends",
    meaning: "The packet's source address can never be a sender's: multicast, broadcast, or zero outside IGMP.",
    nextStep: JUNK_SENDER_STEP,
  },
  IP_LOCALNET: {
    class: "depends",
    meaning: "A packet from or to a loopback address (127.0.0.0/8) arrived on an interface that does not accept those.",
    nextStep: "If a NodePort or hostPort on localhost should work, check net.ipv4.conf.<interface>.route_localnet; otherwise it is bogus traffic.",
  },
  IP_INVALID_DEST: {
    class: "depends",
    meaning: "The packet's destination address is invalid, such as 0.0.0.0.",
    nextStep: JUNK_SENDER_STEP,
  },
  PKT_TOO_BIG: {
    class: "fault",
    meaning: "The packet is larger than the outgoing interface's MTU and may not be fragmented.",
    nextStep:
      "Check MTUs along the path: a pod interface's MTU must leave room for the overlay's header (50 bytes for VXLAN), and ICMP 'fragmentation needed' must not be blocked.",
  },
  DUP_FRAG: {
    class: "depends",
    meaning: "A fragment arrived that duplicates or overlaps one already received for the same datagram.",
    nextStep: "A few are retransmissions; many point at a path that duplicates packets, or at crafted overlapping fragments.",
  },
  FRAG_REASM_TIMEOUT: {
    class: "fault",
    meaning: "The fragments of a datagram did not all arrive in time, so the ones received were discarded.",
    nextStep: "A fragment is lost on the way, often to a firewall or load balancer that drops fragments: avoid fragmentation with consistent MTUs.",
  },
  FRAG_TOO_FAR: {
    class: "depends",
    meaning: "Too many other fragments from the same source arrived while this datagram waited to be completed (ipfrag_max_dist).",
    nextStep: "The path reorders heavily: raise net.ipv4.ipfrag_max_dist, or avoid fragmentation.",
  },
  TCP_MINTTL: {
    class: "depends",
    meaning: "A segment arrived with a TTL or hop limit below the socket's minimum (IP_MINTTL, as BGP's TTL security uses).",
    nextStep: "Expected for spoofed traffic; for a real peer, check that it is directly connected, or lower the minimum.",
  },
  IPV6_BAD_EXTHDR: {
    class: "depends",
    meaning: "An IPv6 extension header was malformed or not acceptable.",
    nextStep: JUNK_SENDER_STEP,
  },
  IPV6_TOO_MANY_EXTHDRS: {
    class: "depends",
    meaning: "An IPv6 packet carried more extension headers than the kernel accepts.",
    nextStep: JUNK_SENDER_STEP,
  },
  IPV6_NDISC_FRAG: {
    class: "depends",
    meaning: "A neighbour discovery message arrived fragmented, which the kernel refuses.",
    nextStep: NDISC_STEP,
  },
  IPV6_NDISC_HOP_LIMIT: {
    class: "depends",
    meaning: "A neighbour discovery message arrived with a hop limit other than 255, so it came from beyond the link.",
    nextStep: NDISC_STEP,
  },
  IPV6_NDISC_BAD_CODE: {
    class: "depends",
    meaning: "A neighbour discovery message carried an ICMPv6 code that is not valid for it.",
    nextStep: NDISC_STEP,
  },
  IPV6_NDISC_BAD_OPTIONS: {
    class: "depends",
    meaning: "A neighbour discovery message carried malformed options.",
    nextStep: NDISC_STEP,
  },
  IPV6_NDISC_NS_OTHERHOST: {
    class: "normal",
    meaning: "A neighbour solicitation asked for another host's address and was ignored.",
  },
  QUEUE_PURGE: {
    class: "normal",
    meaning: "A queue of packets was freed all at once, typically because its socket or device was being torn down.",
    nextStep: "Routine when connections, pods or devices go away; many on a steady system mean something restarts over and over.",
  },
  TC_COOKIE_ERROR: {
    class: "fault",
    meaning: "Handling the cookie of a tc action failed.",
    nextStep: TC_CONFIG_STEP,
  },
  PACKET_SOCK_ERROR: {
    class: "depends",
    meaning: "A packet socket (as tcpdump or a DHCP client opens) matched the packet but could not take its copy, usually because its buffer was full.",
    nextStep: "Only the capturing program misses these, not the traffic itself: give it a larger buffer or a narrower filter.",
  },
  TC_CHAIN_NOTFOUND: {
    class: "fault",
    meaning: "A tc filter sent the packet to a chain that does not exist.",
    nextStep: TC_CONFIG_STEP,
  },
  TC_RECLASSIFY_LOOP: {
    class: "fault",
    meaning: "Traffic control reclassified the packet more times than allowed, a loop in its filters.",
    nextStep: TC_CONFIG_STEP,
  },
  VXLAN_INVALID_HDR: {
    class: "fault",
    meaning: "A VXLAN packet's header was invalid, with reserved bits set or its network identifier flag missing.",
    nextStep: VXLAN_STEP,
  },
  VXLAN_VNI_NOT_FOUND: {
    class: "fault",
    meaning: "A VXLAN packet carried a network identifier (VNI) that no VXLAN device on this host uses.",
    nextStep: "Check that every node's overlay uses the same VNI (the CNI's configuration) and that the VXLAN device exists on this node.",
  },
  MAC_INVALID_SOURCE: {
    class: "depends",
    meaning: "The frame's source MAC address is invalid: multicast or all zeros.",
    nextStep: JUNK_SENDER_STEP,
  },
  VXLAN_ENTRY_EXISTS: {
    class: "fault",
    meaning: "A VXLAN device would have learned a MAC address that a static forwarding entry pins elsewhere.",
    nextStep: "The same MAC appears behind two tunnel endpoints: look for a duplicate MAC or a stale static entry (bridge fdb show dev <device>).",
  },
  NO_TX_TARGET: {
    class: "fault",
    meaning: "The device had nowhere to send the packet, such as a bond without an active link or a tunnel without a remote.",
    nextStep: "Check the device's lower links or remotes (ip -d link show <device>, bridge fdb show dev <device>).",
  },
  IP_TUNNEL_ECN: {
    class: "depends",
    meaning: "On leaving a tunnel, the congestion (ECN) marks of the outer and inner packet conflicted in a way that requires dropping it.",
    nextStep: "Look for a device on the tunnel's path that sets ECN marks the inner traffic did not negotiate.",
  },
  TUNNEL_TXINFO: {
    class: "fault",
    meaning: "A packet reached a tunnel device in external (metadata) mode without the tunnel metadata it needs.",
    nextStep:
      "The eBPF program or flow rule sending to that device (a CNI datapath, Open vSwitch) did not set the tunnel's destination: check its configuration.",
  },
  LOCAL_MAC: {
    class: "depends",
    meaning: "A frame arrived whose source MAC address is this interface's own, so it looped back.",
    nextStep: "Look for a layer-2 loop or a duplicate MAC address on the segment.",
  },
  ARP_PVLAN_DISABLE: {
    class: "depends",
    meaning: "A packet that is not IP would have been routed back out of the interface it arrived on, which only private-VLAN proxy ARP allows.",
    nextStep: "Expected unless the network relies on private-VLAN proxy ARP (net.ipv4.conf.<interface>.proxy_arp_pvlan).",
  },
  MAC_IEEE_MAC_CONTROL: {
    class: "normal",
    meaning: "A bridge refused to forward a frame sent to the IEEE MAC Control address (Ethernet pause frames), which never crosses a bridge.",
  },
  BRIDGE_INGRESS_STP_STATE: {
    class: "normal",
    meaning: "The bridge port the frame arrived on is not forwarding in its spanning tree state (blocking, listening or learning).",
    nextStep: "Routine while the spanning tree settles or on a port it blocks to break a loop; check bridge link show if the port should forward.",
  },
  CAN_RX_INVALID_FRAME: {
    class: "fault",
    meaning: "A received CAN frame was not well-formed, or the device cannot receive CAN frames.",
    nextStep: CAN_STEP,
  },
  CANFD_RX_INVALID_FRAME: {
    class: "fault",
    meaning: "A received CAN FD frame was not well-formed, or the device cannot receive CAN FD frames.",
    nextStep: CAN_STEP,
  },
  CANXL_RX_INVALID_FRAME: {
    class: "fault",
    meaning: "A received CAN XL frame was not well-formed, or the device cannot receive CAN XL frames.",
    nextStep: CAN_STEP,
  },
  PFMEMALLOC: {
    class: "fault",
    meaning:
      "A packet received into the kernel's emergency memory reserve reached a socket not allowed to use that reserve, which happens under severe memory pressure.",
    nextStep: MEMORY_STEP,
  },
  PSP_INPUT: {
    class: "fault",
    meaning: "A received packet failed the checks of PSP, the encryption of TCP connections: not encrypted when it must be, or not decryptable.",
    nextStep: PSP_STEP,
  },
  PSP_OUTPUT: {
    class: "fault",
    meaning: "A packet to be sent failed the checks of PSP, the encryption of TCP connections.",
    nextStep: PSP_STEP,
  },
  RECURSION_LIMIT: {
    class: "fault",
    meaning: "The packet went through virtual devices nested too deep, usually a tunnel whose route leads back into itself.",
    nextStep: "The route to the tunnel's remote must not point back into the tunnel: check it with ip route get <remote>.",
  },
};

/** What a row whose reason the table does not have is explained with. */
const UNKNOWN_EXPLANATION: DropExplanation = {
  class: "unknown",
  meaning:
    "droptrace has no explanation for this reason: the kernel is newer than this droptrace, or the reason is a subsystem's own (Open vSwitch, Wi-Fi) that the tracepoint does not name.",
  nextStep: "Look the name up in include/net/dropreason-core.h (or the subsystem's dropreason header) of the node's kernel source.",
};

const EXPLANATIONS: ReadonlyMap<string, DropExplanation> = new Map(Object.entries(DROP_EXPLANATIONS));

/** The explanation of a reason name as rows carry it: the table's entry, or UNKNOWN_EXPLANATION. */
export function explainDrop(reason: string): DropExplanation {
  return EXPLANATIONS.get(reason) ?? UNKNOWN_EXPLANATION;
}

export function dropClass(reason: string): DropClass {
  return explainDrop(reason).class;
}

/** A row worth acting on: one whose reason is not usually part of normal operation. */
export function isActionable(row: { readonly class: DropClass }): boolean {
  return row.class !== "normal";
}

/** Distinct reasons explained under a list of rows, at most this many. */
export const MAX_EXPLAINED_REASONS = 5;

export interface ReasonExplanation extends DropExplanation {
  readonly reason: string;
}

/**
 * The explanations of the distinct reasons among `rows` (largest first), in the order they first
 * appear, at most `max`; `mustInclude` (the row a person should act on first) is always there,
 * in place of the last one if it would not be.
 */
export function explanationsFor(rows: readonly { readonly reason: string }[], max = MAX_EXPLAINED_REASONS, mustInclude?: string): ReasonExplanation[] {
  const reasons: string[] = [];
  for (const row of rows) {
    if (reasons.length >= max) break;
    if (!reasons.includes(row.reason)) reasons.push(row.reason);
  }
  if (mustInclude !== undefined && max > 0 && !reasons.includes(mustInclude)) {
    if (reasons.length >= max) reasons.pop();
    reasons.push(mustInclude);
  }
  return reasons.map((reason) => ({ reason, ...explainDrop(reason) }));
}
