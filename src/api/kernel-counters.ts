// The kernel's own drop counters that a report carries beside the traced rows: which ones, where
// the agent reads them, and whether a drop they count can reach the kfree_skb tracepoint at all.
// `unseen`: counted before the kernel made an skb (in the NIC or its driver), so the probe cannot
// see it; `partly`: the column mixes such drops with drops freed through kfree_skb; `seen`: every
// drop counted here is freed through kfree_skb, so it is in the rows too.
// Only comparisons listed in COUNTER_CHECKS are made row by row; the rest are shown as counted.

export type CounterVisibility = "unseen" | "partly" | "seen";

export interface CounterInfo {
  /** Where it is read, relative to the node's /proc/<pid>/net (or /proc/net on one machine). */
  source: string;
  perInterface: boolean;
  visibility: CounterVisibility;
  about: string;
}

export const KERNEL_COUNTERS = {
  RxDropped: {
    source: "dev: receive drop column (rx_dropped + rx_missed_errors)",
    perInterface: true,
    visibility: "partly",
    about: "received packets the device or the core dropped; frames the NIC missed never became an skb, the core's own drops did",
  },
  RxFifoErrors: {
    source: "dev: receive fifo column (rx_fifo_errors)",
    perInterface: true,
    visibility: "unseen",
    about: "receive FIFO overruns in the NIC: the frame was lost before the kernel had an skb for it",
  },
  RxFrameErrors: {
    source: "dev: receive frame column (rx_length_errors + rx_over_errors + rx_crc_errors + rx_frame_errors)",
    perInterface: true,
    visibility: "unseen",
    about: "frames the NIC refused as malformed or too long (bad CRC or alignment, longer than its MTU allows): dropped before the kernel had an skb for them",
  },
  TxDropped: {
    source: "dev: transmit drop column (tx_dropped)",
    perInterface: true,
    visibility: "partly",
    about: "packets the device or its queue dropped on transmit; drivers count some without freeing through kfree_skb",
  },
  BacklogDrops: {
    source: "softnet_stat: second column, summed over CPUs (every namespace)",
    perInterface: false,
    visibility: "seen",
    about: "packets dropped because a CPU's input backlog was full (net.core.netdev_max_backlog); traced as CPU_BACKLOG",
  },
  UdpNoPorts: {
    source: "snmp Udp NoPorts + snmp6 Udp6NoPorts",
    perInterface: false,
    visibility: "seen",
    about: "UDP datagrams to a port nothing listens on; traced as NO_SOCKET in the UDP receive path",
  },
  UdpInErrors: {
    source: "snmp Udp InErrors + snmp6 Udp6InErrors",
    perInterface: false,
    visibility: "seen",
    about: "UDP datagrams dropped on receive for a bad checksum, a full buffer or lack of memory",
  },
  UdpRcvbufErrors: {
    source: "snmp Udp RcvbufErrors + snmp6 Udp6RcvbufErrors",
    perInterface: false,
    visibility: "seen",
    about: "UDP datagrams dropped because the socket's receive buffer was full; traced as SOCKET_RCVBUFF",
  },
  IpInDiscards: {
    source: "snmp Ip InDiscards + snmp6 Ip6InDiscards",
    perInterface: false,
    visibility: "seen",
    about: "IP packets discarded on receive without an error in them (lack of memory, mostly)",
  },
  TcpListenOverflows: {
    source: "netstat TcpExt ListenOverflows",
    perInterface: false,
    visibility: "seen",
    about: "connection requests dropped because a listener's accept queue was full",
  },
  TcpListenDrops: {
    source: "netstat TcpExt ListenDrops",
    perInterface: false,
    visibility: "seen",
    about: "connection requests a listener dropped for any cause, overflows included",
  },
  TcpBacklogDrop: {
    source: "netstat TcpExt TCPBacklogDrop",
    perInterface: false,
    visibility: "seen",
    about: "TCP segments dropped because a socket's backlog was full while its owner held it",
  },
} as const satisfies Record<string, CounterInfo>;

export type KernelCounterName = keyof typeof KERNEL_COUNTERS;
export const KERNEL_COUNTER_NAMES = Object.keys(KERNEL_COUNTERS) as KernelCounterName[];

/**
 * A counter whose every drop is also a traced row that can be picked out: rows of these reasons,
 * at a symbol that matches, in the namespace the counter belongs to. From the kernel's source
 * (__udp4_lib_rcv and __udp6_lib_rcv count NoPorts, then free the skb as NO_SOCKET); the
 * real-kernel suite asserts the UdpNoPorts check agrees on 6.1, 6.12 and 7.2.
 */
export interface CounterCheck {
  counter: KernelCounterName;
  reasons: readonly string[];
  symbol: RegExp;
  /** "netns": only rows of the namespace the counters were read in; "node": rows of every namespace. */
  scope: "netns" | "node";
}

export const COUNTER_CHECKS: readonly CounterCheck[] = [{ counter: "UdpNoPorts", reasons: ["NO_SOCKET"], symbol: /udp/i, scope: "netns" }];
