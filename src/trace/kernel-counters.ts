// The kernel's own drop counters over a trace: read from a network namespace's /proc/<pid>/net
// files when the probe is armed and at every report, and kept as the change since then. A
// counter that goes down was reset (its interface removed and made again): what it counts from
// its new start is added, never subtracted.
import { COUNTER_CHECKS, KERNEL_COUNTERS, type KernelCounterName } from "../api/kernel-counters.js";
import type { KernelCounters, ReportRow } from "../api/report.js";

/** One reading: "UdpNoPorts" or "RxDropped\teth0" → value. */
export type CounterSample = Map<string, number>;

const key = (name: KernelCounterName, iface?: string) => (iface === undefined ? name : `${name}\t${iface}`);

/** /proc/net/dev: per interface, receive drop, fifo and frame, transmit drop. */
export function parseProcNetDev(text: string): Map<string, { rxDrop: number; rxFifo: number; rxFrame: number; txDrop: number }> {
  const out = new Map<string, { rxDrop: number; rxFifo: number; rxFrame: number; txDrop: number }>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.includes("|")) continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop fifo ...
    if (fields.length < 16 || fields.some((n) => !Number.isFinite(n))) continue;
    out.set(line.slice(0, colon).trim(), { rxDrop: fields[3] ?? 0, rxFifo: fields[4] ?? 0, rxFrame: fields[5] ?? 0, txDrop: fields[11] ?? 0 });
  }
  return out;
}

/** /proc/net/snmp and /proc/net/netstat: a header line and a value line per protocol → "Udp.NoPorts" → value. */
export function parseSnmp(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i + 1 < lines.length; i += 1) {
    const head = lines[i]?.split(/\s+/) ?? [];
    const values = lines[i + 1]?.split(/\s+/) ?? [];
    const proto = head[0];
    if (proto === undefined || !proto.endsWith(":") || values[0] !== proto) continue;
    for (let j = 1; j < head.length && j < values.length; j += 1) {
      const value = Number(values[j]);
      if (head[j] !== "" && Number.isFinite(value)) out.set(`${proto.slice(0, -1)}.${head[j] ?? ""}`, value);
    }
    i += 1;
  }
  return out;
}

/** /proc/net/snmp6: "Udp6NoPorts   12" lines. */
export function parseSnmp6(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [name, value] = line.trim().split(/\s+/);
    if (name !== undefined && value !== undefined && Number.isFinite(Number(value))) out.set(name, Number(value));
  }
  return out;
}

/** /proc/net/softnet_stat: one line per CPU, hexadecimal; the second column counts backlog drops. */
export function parseSoftnetDrops(text: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const dropped = line.trim().split(/\s+/)[1];
    if (dropped !== undefined && /^[0-9a-f]+$/i.test(dropped)) sum += parseInt(dropped, 16);
  }
  return sum;
}

export type ReadText = (path: string) => Promise<string | undefined>;

/** Reads every counter of KERNEL_COUNTERS in the namespace of `netDir` (a /proc/<pid>/net). Files missing are named. */
export async function readCounters(readText: ReadText, netDir: string): Promise<{ sample: CounterSample; missing: string[] }> {
  const [dev, snmp, snmp6, netstat, softnet] = await Promise.all(
    ["dev", "snmp", "snmp6", "netstat", "softnet_stat"].map((file) => readText(`${netDir}/${file}`)),
  );
  const missing = (
    [
      ["dev", dev],
      ["snmp", snmp],
      ["netstat", netstat],
      ["softnet_stat", softnet],
    ] as const
  )
    .filter(([, text]) => text === undefined)
    .map(([file]) => `${netDir}/${file}`);
  const sample: CounterSample = new Map();
  for (const [iface, c] of parseProcNetDev(dev ?? "")) {
    sample.set(key("RxDropped", iface), c.rxDrop);
    sample.set(key("RxFifoErrors", iface), c.rxFifo);
    sample.set(key("RxFrameErrors", iface), c.rxFrame);
    sample.set(key("TxDropped", iface), c.txDrop);
  }
  if (softnet !== undefined) sample.set(key("BacklogDrops"), parseSoftnetDrops(softnet));
  const v4 = parseSnmp(snmp ?? "");
  const v6 = parseSnmp6(snmp6 ?? ""); // absent when IPv6 is off: IPv4's counts stand alone
  const ext = parseSnmp(netstat ?? "");
  const both = (name: KernelCounterName, four: string, six: string) => {
    const a = v4.get(four);
    if (a !== undefined) sample.set(key(name), a + (v6.get(six) ?? 0));
  };
  both("UdpNoPorts", "Udp.NoPorts", "Udp6NoPorts");
  both("UdpInErrors", "Udp.InErrors", "Udp6InErrors");
  both("UdpRcvbufErrors", "Udp.RcvbufErrors", "Udp6RcvbufErrors");
  both("IpInDiscards", "Ip.InDiscards", "Ip6InDiscards");
  const tcp = (name: KernelCounterName, field: string) => {
    const value = ext.get(`TcpExt.${field}`);
    if (value !== undefined) sample.set(key(name), value);
  };
  tcp("TcpListenOverflows", "ListenOverflows");
  tcp("TcpListenDrops", "ListenDrops");
  tcp("TcpBacklogDrop", "TCPBacklogDrop");
  return { sample, missing };
}

/** The change of every counter since the first sample, across resets. */
export class CounterDeltas {
  readonly #last = new Map<string, number>();
  readonly #change = new Map<string, number>();
  #started = false;

  observe(sample: CounterSample): void {
    for (const [k, value] of sample) {
      const last = this.#last.get(k);
      // A counter first seen after the start belongs to an interface made during the trace: all of it is new.
      const added = last === undefined ? (this.#started ? value : 0) : value >= last ? value - last : value;
      this.#change.set(k, (this.#change.get(k) ?? 0) + added);
      this.#last.set(k, value);
    }
    this.#started = true;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Counters that changed, largest first; an interface's counters keep what they counted after it is gone. */
  counters(): KernelCounters["counters"] {
    return [...this.#change]
      .filter(([, n]) => n > 0)
      .map(([k, count]) => {
        const [name, iface] = k.split("\t") as [KernelCounterName, string | undefined];
        return iface === undefined ? { name, count } : { name, interface: iface, count };
      })
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name, "en") || (a.interface ?? "").localeCompare(b.interface ?? "", "en"));
  }
}

const MAX_COUNTERS = 64;

/**
 * The report's kernelCounters: the counters, the drops the probe cannot see, and each check of
 * COUNTER_CHECKS against the rows. `filtered`: the trace kept only some rows, so no check is fair.
 */
export function kernelCounters(deltas: CounterDeltas, netns: number, rows: readonly ReportRow[], filtered: boolean): KernelCounters {
  const counters = deltas.counters();
  const sumOf = (visibility: "unseen" | "partly") => counters.filter((c) => KERNEL_COUNTERS[c.name].visibility === visibility).reduce((n, c) => n + c.count, 0);
  const checks = COUNTER_CHECKS.map((check): KernelCounters["checks"][number] => {
    const kernel = counters.filter((c) => c.name === check.counter).reduce((n, c) => n + c.count, 0);
    const traced = rows
      .filter((r) => check.reasons.includes(r.reason) && check.symbol.test(r.symbol) && (check.scope === "node" || r.netns === netns))
      .reduce((n, r) => n + r.count, 0);
    const what = `${check.counter} counted ${kernel}, the probe ${traced} as ${check.reasons.join("/")}`;
    if (filtered)
      return { counter: check.counter, kernel, traced, verdict: "notCompared", message: `${what}: not compared, the trace's filters keep only some rows` };
    if (kernel === traced) return { counter: check.counter, kernel, traced, verdict: "agree", message: `${what}: they agree` };
    return {
      counter: check.counter,
      kernel,
      traced,
      verdict: "differ",
      message: `${what}: drops in the moments between arming the probe and reading the counters, or a row past the map, count on one side only`,
    };
  });
  return { netns, counters: counters.slice(0, MAX_COUNTERS), unseenDrops: sumOf("unseen"), partlySeenDrops: sumOf("partly"), checks };
}

/** Where the node's counters are: its /proc (the host's, mounted into the agent). */
export interface CounterSource {
  procRoot: string;
  readText: ReadText;
  readLink: (path: string) => Promise<string | undefined>;
}

/** The counters of one trace: the first reading when the probe is armed, then one per report. */
export class CounterWatch {
  readonly #deltas = new CounterDeltas();
  #netns = 0;
  /** Why the counters are not in the report, once a reading failed. */
  problem: string | undefined;

  constructor(
    private readonly source: CounterSource,
    private readonly filtered: boolean,
  ) {}

  /** Reads the counters; the first call is the baseline. Never throws: a failure is kept in `problem`. */
  async read(): Promise<void> {
    if (this.problem !== undefined) return;
    try {
      const { procRoot } = this.source;
      if (!this.#deltas.started) {
        // pid 1 is the node's init, so its namespace is the node's own (the agent is not in it).
        const link = await this.source.readLink(`${procRoot}/1/ns/net`);
        const inode = /^net:\[(\d+)\]$/.exec(link ?? "")?.[1];
        if (inode === undefined) {
          this.problem = `kernel drop counters not read: cannot read ${procRoot}/1/ns/net (is the host's /proc mounted there?)`;
          return;
        }
        this.#netns = Number(inode);
      }
      const { sample, missing } = await readCounters(this.source.readText, `${procRoot}/1/net`);
      if (missing.length > 0) {
        this.problem = `kernel drop counters not read: ${missing.join(", ")} missing`;
        return;
      }
      this.#deltas.observe(sample);
    } catch (err) {
      this.problem = `kernel drop counters not read: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  /** The report's part, against these rows; undefined before the baseline or after a failure. */
  result(rows: readonly ReportRow[]): KernelCounters | undefined {
    if (this.problem !== undefined || !this.#deltas.started) return undefined;
    return kernelCounters(this.#deltas, this.#netns, rows, this.filtered);
  }
}
