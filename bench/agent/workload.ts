// The benchmarks' probe workload: drop keys as a real node would produce them, built from the
// fixture kernel's own networking functions, interface names as container runtimes make them,
// a few dozen namespaces and common drop reasons. Deterministic, so every run sees the same data.
import type { DropReasons } from "../../src/trace/kernel-reasons.js";

/** A seeded linear congruential generator: numbers in [0, 1). */
export function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

export function pick<T>(items: readonly T[], next: () => number): T {
  const item = items[Math.floor(next() * items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

/** One probe row's key, as the probe prints it: location, interface, netns inode, reason number. */
export type DropKey = [location: string, iface: string, netns: number, reason: number];

/** `count` distinct keys: the fixture's four drop sites and call sites inside networking functions. */
export function dropKeys(kallsymsText: string, reasons: DropReasons, count: number, next: () => number): DropKey[] {
  const networking = kallsymsText
    .split("\n")
    .filter((line) => / [tT] (ip_|ip6_|tcp_|udp_|neigh_|nf_|sk_|skb_|__dev_|dev_|br_|veth_)\w+(\t\[\w+\])?$/.test(line));
  const locations = ["0xffffffffac2fa632", "0xffffffffac1d1200", "0xffffffffac38171c", "0xffffffffac244fa2"];
  for (let i = 0; i < 150; i += 1) {
    const [address] = pick(networking, next).split(" ");
    locations.push(`0x${(BigInt(`0x${address ?? "0"}`) + BigInt(16 + Math.floor(next() * 400))).toString(16)}`);
  }
  // Short names, and 13 to 15 characters ones as container runtimes make (the long-string path).
  const interfaces = ["lo", "eth0", "eth1", "-", "cni0", "flannel.1"];
  for (let i = 0; i < 40; i += 1)
    interfaces.push(
      `veth${Math.floor(next() * 2 ** 32)
        .toString(16)
        .padStart(8, "0")}`,
    );
  for (let i = 0; i < 20; i += 1)
    interfaces.push(
      `lxc${Math.floor(next() * 2 ** 44)
        .toString(16)
        .padStart(11, "0")}`,
    );
  const namespaces = Array.from({ length: 24 }, (_, i) => 4026531840 + i * 97);
  const reasonNumbers = reasons.resolveReasonNames([
    "NOT_SPECIFIED",
    "NO_SOCKET",
    "NETFILTER_DROP",
    "NEIGH_FAILED",
    "QDISC_DROP",
    "TCP_INVALID_SEQUENCE",
    "OTHERHOST",
    "IP_NOPROTO",
    "PKT_TOO_SMALL",
    "SOCKET_RCVBUFF",
    "TC_EGRESS",
    "CPU_BACKLOG",
  ]);
  const keys = new Map<string, DropKey>();
  while (keys.size < count) {
    const key: DropKey = [pick(locations, next), pick(interfaces, next), pick(namespaces, next), pick(reasonNumbers, next)];
    keys.set(key.join("\t"), key);
  }
  return [...keys.values()];
}
