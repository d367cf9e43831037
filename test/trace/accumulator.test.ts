import { describe, expect, it } from "vitest";
import { DropAccumulator, MAX_STACKS_PER_SITE, PROTOCOL_ERROR_SAMPLES } from "../../src/trace/accumulator.js";
import { MAX_STACK_ROWS } from "../../src/api/stacks.js";
import type { SymbolizedLocation } from "../../src/trace/kallsyms.js";
import { parseProbeLine, type ProbeInterval, type ProbeRow, type ProbeStack } from "../../src/probe/output.js";

/** Symbolizes from a fixed list and counts its calls. */
class FakeSymbols {
  calls = 0;
  constructor(private readonly table: Record<string, SymbolizedLocation>) {}

  symbolize(address: string): SymbolizedLocation {
    this.calls += 1;
    return this.table[address] ?? { symbol: address, module: "unknown" };
  }
}

const reasons = {
  reasonName: (reason: number): string => (reason === -1 ? "-" : ({ 2: "NOT_SPECIFIED", 3: "NO_SOCKET" }[reason] ?? `UNKNOWN_${reason}`)),
};

const symbols = (): FakeSymbols =>
  new FakeSymbols({
    "0xa": { symbol: "udp_rcv+0x452", module: "kernel" },
    "0xb": { symbol: "veth_xmit+0x11a", module: "veth" },
    "0xc": { symbol: "neigh_invalidate+0x90", module: "kernel" },
    // A second address for the same symbol and module: it must share udp_rcv's rows.
    "0xd": { symbol: "udp_rcv+0x452", module: "kernel" },
    // A stack's frames: the probe's own handler, the tracepoint, the freeing function, then the callers outwards.
    "0xf0": { symbol: "probe_6821+0x2a", module: "droptrace_8842744b6279_4242" },
    "0xf1": { symbol: "__traceiter_kfree_skb+0x3c", module: "kernel" },
    "0xf2": { symbol: "sk_skb_reason_drop+0x61", module: "kernel" },
    "0xe1": { symbol: "ip_protocol_deliver_rcu+0x1ab", module: "kernel" },
    "0xe2": { symbol: "ip_local_deliver_finish+0x7c", module: "kernel" },
    "0xe3": { symbol: "veth_poll+0x2c1", module: "veth" },
    "0xe4": { symbol: "__netif_receive_skb_one_core+0x8d", module: "kernel" },
  });

function row(count: number, location: string, iface = "eth0", netns = 1, reason = 3): ProbeRow {
  return { kind: "row", count, location, interface: iface, netns, reason };
}

function interval(seq: number, rows: number, overflow = 0, more: Partial<ProbeInterval> = {}): ProbeInterval {
  return { kind: "interval", seq, rows, overflow, stacks: 0, stackOverflow: 0, ...more };
}

function stack(count: number, location: string, frames: string[], reason = 3): ProbeStack {
  return { kind: "stack", count, location, reason, frames };
}

describe("DropAccumulator", () => {
  it("sums a key's rows across intervals and counts overflow as uncounted", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(5, "0xa"));
    accumulator.add(row(1, "0xb", "vb"));
    accumulator.add(interval(1, 2, 0));
    accumulator.add(row(7, "0xa"));
    accumulator.add(interval(2, 1, 12));
    accumulator.add({ kind: "end", seq: 2 });

    const snapshot = accumulator.snapshot(10);
    expect(snapshot.rows).toEqual([
      { symbol: "udp_rcv+0x452", interface: "eth0", netns: 1, module: "kernel", reason: "NO_SOCKET", class: "depends", count: 12 },
      { symbol: "veth_xmit+0x11a", interface: "vb", netns: 1, module: "veth", reason: "NO_SOCKET", class: "depends", count: 1 },
    ]);
    expect(snapshot).toMatchObject({ total: 13, uncounted: 12, intervals: 2, finished: true, protocolErrors: 0 });
    expect(accumulator.keyCount).toBe(2);
  });

  it("keeps interface, netns and reason apart", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(1, "0xa", "eth0", 1, 3));
    accumulator.add(row(2, "0xa", "eth1", 1, 3));
    accumulator.add(row(4, "0xa", "eth0", 2, 3));
    accumulator.add(row(8, "0xa", "eth0", 1, 2));
    accumulator.add(row(16, "0xa", "-", 0, -1));
    expect(accumulator.snapshot(10).rows.map((r) => [r.count, r.interface, r.netns, r.reason])).toEqual([
      [16, "-", 0, "-"],
      [8, "eth0", 1, "NOT_SPECIFIED"],
      [4, "eth0", 2, "NO_SOCKET"],
      [2, "eth1", 1, "NO_SOCKET"],
      [1, "eth0", 1, "NO_SOCKET"],
    ]);
  });

  it("merges addresses that symbolize alike", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(3, "0xa"));
    accumulator.add(row(4, "0xd"));
    expect(accumulator.snapshot(10).rows).toEqual([
      { symbol: "udp_rcv+0x452", interface: "eth0", netns: 1, module: "kernel", reason: "NO_SOCKET", class: "depends", count: 7 },
    ]);
  });

  it("symbolizes each distinct address once", () => {
    const fake = symbols();
    const accumulator = new DropAccumulator(fake, reasons);
    for (let i = 0; i < 1000; i += 1) accumulator.add(row(1, ["0xa", "0xb", "0xc"][i % 3] ?? "0xa", `eth${i % 7}`));
    expect(fake.calls).toBe(3);
    expect(accumulator.total).toBe(1000);
    expect(accumulator.keyCount).toBe(21);
  });

  it("caps the rows and sums the rest into other", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(10, "0xa"));
    accumulator.add(row(7, "0xc"));
    accumulator.add(row(7, "0xb"));
    accumulator.add(row(3, "0xa", "eth1"));
    accumulator.add(row(1, "0xa", "eth2"));

    const capped = accumulator.snapshot(2);
    expect(capped.rows.map((r) => [r.symbol, r.count])).toEqual([
      ["udp_rcv+0x452", 10],
      ["neigh_invalidate+0x90", 7],
    ]);
    expect(capped).toMatchObject({ otherCount: 11, otherRows: 3, total: 28 });
    expect(capped.rows.reduce((sum, r) => sum + r.count, 0) + capped.otherCount).toBe(capped.total);

    expect(accumulator.snapshot(0)).toMatchObject({ rows: [], otherCount: 28, otherRows: 5, total: 28 });
    expect(accumulator.snapshot(5)).toMatchObject({ otherCount: 0, otherRows: 0 });
    expect(accumulator.snapshot(200).rows).toHaveLength(5);
    expect(() => accumulator.snapshot(-1)).toThrow(RangeError);
    expect(() => accumulator.snapshot(1.5)).toThrow(RangeError);
  });

  it("breaks count ties by symbol, interface, netns, module and reason, whatever the arrival order", () => {
    const tied = [
      row(5, "0xb", "eth0", 1, 3),
      row(5, "0xa", "eth1", 1, 3),
      row(5, "0xa", "eth0", 2, 3),
      row(5, "0xa", "eth0", 10, 3),
      row(5, "0xa", "eth0", 1, 3),
      row(5, "0xa", "eth0", 1, 2),
    ];
    const expected = [
      ["udp_rcv+0x452", "eth0", 1, "NOT_SPECIFIED"],
      ["udp_rcv+0x452", "eth0", 1, "NO_SOCKET"],
      ["udp_rcv+0x452", "eth0", 2, "NO_SOCKET"],
      ["udp_rcv+0x452", "eth0", 10, "NO_SOCKET"],
      ["udp_rcv+0x452", "eth1", 1, "NO_SOCKET"],
      ["veth_xmit+0x11a", "eth0", 1, "NO_SOCKET"],
    ];
    for (const order of [tied, [...tied].reverse(), [tied[3], tied[0], tied[5], tied[1], tied[4], tied[2]]]) {
      const accumulator = new DropAccumulator(symbols(), reasons);
      for (const r of order) if (r !== undefined) accumulator.add(r);
      expect(accumulator.snapshot(10).rows.map((r) => [r.symbol, r.interface, r.netns, r.reason])).toEqual(expected);
    }
  });

  it("breaks a tie on module when symbols are equal", () => {
    const accumulator = new DropAccumulator(
      new FakeSymbols({
        "0x1": { symbol: "0xdead", module: "unknown" },
        "0x2": { symbol: "0xdead", module: "bpf" },
      }),
      reasons,
    );
    accumulator.add(row(1, "0x1"));
    accumulator.add(row(1, "0x2"));
    expect(accumulator.snapshot(10).rows.map((r) => r.module)).toEqual(["bpf", "unknown"]);
  });

  it("counts gaps and mismatches in the record stream as protocol errors", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(1, "0xa"));
    accumulator.add(interval(1, 2, 0));
    accumulator.add(interval(3, 0, 0));
    accumulator.add(row(1, "0xa"));
    accumulator.add({ kind: "end", seq: 3 });
    accumulator.add(row(1, "0xb"));

    const snapshot = accumulator.snapshot(10);
    expect(snapshot.protocolErrorSamples).toEqual([
      "interval 1 announced 2 rows but 1 arrived",
      "interval 3 followed interval 1: intervals were lost or repeated",
      "end record says 3 intervals but 2 arrived",
      "1 rows arrived after the last interval record",
      "row after the probe's end record: 0xb eth0",
    ]);
    expect(snapshot.protocolErrors).toBe(5);
    // Rows are real drops even when the stream around them is inconsistent.
    expect(snapshot.total).toBe(3);
  });

  it("keeps a few protocol error messages and counts all of them", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    for (let i = 0; i < 12; i += 1) accumulator.noteProtocolError(`bad line ${i}`);
    const snapshot = accumulator.snapshot(10);
    expect(snapshot.protocolErrors).toBe(12);
    expect(snapshot.protocolErrorSamples).toHaveLength(PROTOCOL_ERROR_SAMPLES);
    expect(snapshot.protocolErrorSamples[0]).toBe("bad line 0");
  });

  it("keeps a row's stacks from the dropping function outwards, summed across intervals, and counts the stack records", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(5, "0xa"));
    accumulator.add(stack(4, "0xa", ["0xf0", "0xf1", "0xf2", "0xa", "0xe1", "0xe2"]));
    accumulator.add(stack(1, "0xa", ["0xf0", "0xf1", "0xf2", "0xa", "0xe1", "0xe3"]));
    accumulator.add(interval(1, 1, 0, { stacks: 2 }));
    accumulator.add(row(3, "0xa"));
    accumulator.add(stack(3, "0xa", ["0xf0", "0xf1", "0xf2", "0xa", "0xe1", "0xe3"]));
    accumulator.add(interval(2, 1, 0, { stacks: 1, stackOverflow: 6 }));
    accumulator.add({ kind: "end", seq: 2 });

    const snapshot = accumulator.snapshot(10);
    expect(snapshot.rows[0]?.stacks).toEqual([
      { count: 4, frames: ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0x1ab", "ip_local_deliver_finish+0x7c"] },
      { count: 4, frames: ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0x1ab", "veth_poll+0x2c1 [veth]"] },
    ]);
    expect(snapshot).toMatchObject({ total: 8, stackOverflow: 6, stackSamplesNotKept: 0, protocolErrors: 0 });
  });

  it("gives every row of a drop site and reason that site's stacks, on any interface, and none to other reasons", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(5, "0xa", "eth0"));
    accumulator.add(row(2, "0xd", "lo"));
    accumulator.add(row(1, "0xa", "eth0", 1, 2));
    // 0xd symbolizes as udp_rcv+0x452 too: the same drop site.
    accumulator.add(stack(7, "0xd", ["0xf2", "0xd", "0xe1"]));
    accumulator.add(interval(1, 3, 0, { stacks: 1 }));
    const rows = accumulator.snapshot(10).rows;
    expect(rows.map((r) => [r.interface, r.reason, r.stacks])).toEqual([
      ["eth0", "NO_SOCKET", [{ count: 7, frames: ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0x1ab"] }]],
      ["lo", "NO_SOCKET", [{ count: 7, frames: ["udp_rcv+0x452", "ip_protocol_deliver_rcu+0x1ab"] }]],
      ["eth0", "NOT_SPECIFIED", undefined],
    ]);
  });

  it("drops leading tracing frames when no frame is the drop's location, and shows a stack of nothing but those as captured", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(2, "0xa"));
    accumulator.add(stack(1, "0xa", ["0xf0", "0xf1", "0xf2", "0xe1", "0xe2"]));
    accumulator.add(stack(1, "0xa", ["0xf0", "0xf2"]));
    accumulator.add(interval(1, 1, 0, { stacks: 2 }));
    expect(accumulator.snapshot(10).rows[0]?.stacks).toEqual([
      { count: 1, frames: ["ip_protocol_deliver_rcu+0x1ab", "ip_local_deliver_finish+0x7c"] },
      { count: 1, frames: ["probe_6821+0x2a [droptrace_8842744b6279_4242]", "sk_skb_reason_drop+0x61"] },
    ]);
  });

  it("keeps at most 16 frames and the 3 most frequent stacks, equal counts in frame order", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(10, "0xa"));
    const deep = ["0xa", ...Array.from({ length: 22 }, (_, i) => `0x${(0x100 + i).toString(16)}`)];
    accumulator.add(stack(1, "0xa", deep));
    accumulator.add(stack(5, "0xa", ["0xa", "0xe3"]));
    accumulator.add(stack(2, "0xa", ["0xa", "0xe2"]));
    accumulator.add(stack(2, "0xa", ["0xa", "0xe1"]));
    accumulator.add(interval(1, 1, 0, { stacks: 4 }));
    const stacks = accumulator.snapshot(10).rows[0]?.stacks ?? [];
    expect(stacks.map((s) => [s.count, s.frames[1]])).toEqual([
      [5, "veth_poll+0x2c1 [veth]"],
      [2, "ip_local_deliver_finish+0x7c"],
      [2, "ip_protocol_deliver_rcu+0x1ab"],
    ]);
    accumulator.add(row(1, "0xa"));
    accumulator.add(stack(9, "0xa", deep));
    accumulator.add(interval(2, 1, 0, { stacks: 1 }));
    const deepest = accumulator.snapshot(10).rows[0]?.stacks?.[0];
    expect(deepest?.count).toBe(10);
    expect(deepest?.frames).toHaveLength(16);
    expect(deepest?.frames.at(-1)).toBe("0x10e");
  });

  it("keeps a bounded number of distinct stacks per drop site and counts the samples it could not keep", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(100, "0xa"));
    for (let i = 0; i < MAX_STACKS_PER_SITE + 5; i += 1) accumulator.add(stack(2, "0xa", ["0xa", `0x${(0x200 + i).toString(16)}`]));
    accumulator.add(interval(1, 1, 0, { stacks: MAX_STACKS_PER_SITE + 5 }));
    const snapshot = accumulator.snapshot(10);
    expect(snapshot.stackSamplesNotKept).toBe(10);
    expect(snapshot.rows[0]?.stacks).toHaveLength(3);
  });

  it("gives stacks to the top rows only", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    for (let i = 0; i < MAX_STACK_ROWS + 2; i += 1) {
      const location = `0x${(0x300 + i).toString(16)}`;
      accumulator.add(row(100 - i, location));
      accumulator.add(stack(1, location, [location]));
    }
    accumulator.add(interval(1, MAX_STACK_ROWS + 2, 0, { stacks: MAX_STACK_ROWS + 2 }));
    const rows = accumulator.snapshot(100).rows;
    expect(rows.filter((r) => r.stacks !== undefined)).toHaveLength(MAX_STACK_ROWS);
    expect(rows[MAX_STACK_ROWS]?.stacks).toBeUndefined();
  });

  it("counts stack records that do not match their interval's announcement, or come after the end", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(1, "0xa"));
    accumulator.add(stack(1, "0xa", ["0xa"]));
    accumulator.add(interval(1, 1, 0, { stacks: 3 }));
    accumulator.add(stack(1, "0xa", ["0xa"]));
    accumulator.add({ kind: "end", seq: 1 });
    accumulator.add(stack(1, "0xa", ["0xa"]));
    expect(accumulator.snapshot(10).protocolErrorSamples).toEqual([
      "interval 1 announced 3 stacks but 1 arrived",
      "1 stacks arrived after the last interval record",
      "stack after the probe's end record: 0xa",
    ]);
  });

  it("sums the handler's cost over intervals and keeps the busiest interval's share", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    expect(accumulator.snapshot(10).cost).toBeUndefined();
    accumulator.add(interval(1, 0, 0, { cost: { hits: 1000, probeNs: 300_000, elapsedNs: 10_000_000_000 } }));
    accumulator.add(interval(2, 0, 0, { cost: { hits: 3000, probeNs: 1_500_000, elapsedNs: 5_000_000_000 } }));
    expect(accumulator.snapshot(10).cost).toEqual({ hits: 4000, probeNs: 1_800_000, elapsedNs: 15_000_000_000, peakShareOfOneCpu: 0.0003 });
  });

  it("keeps the guard's overload record, and counts a second one", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add({ kind: "overload", sharePpm: 73_000, limitPercent: 5 });
    expect(accumulator.snapshot(10).overload).toEqual({ sharePpm: 73_000, limitPercent: 5 });
    accumulator.add({ kind: "overload", sharePpm: 80_000, limitPercent: 5 });
    expect(accumulator.snapshot(10).protocolErrorSamples).toEqual(["second overload record"]);
  });
});

describe("flows", () => {
  // Records as the probe prints them: the parser is part of what is tested.
  const feed = (acc: DropAccumulator, lines: string) => {
    for (const line of lines.trim().split("\n")) acc.add(parseProbeLine(line.trim()));
  };
  const v4 = (a: string) => (a.split(".").reduce((w, b, i) => w | (Number(b) << (8 * i)), 0) >>> 0).toString(16);

  it("sums each row's flows over intervals, lists the top 5, and accounts for the rest", () => {
    const acc = new DropAccumulator(symbols(), reasons);
    const flow = (count: number, id: number, src: string, sport: number) => `F\t${count}\t${id}\t4\t17\t${sport}\t9\t0\t${v4(src)}\t0\t${v4("10.9.1.1")}`;
    feed(
      acc,
      `
      R\t33\t0xa\teth0\t7\t3\t0\t5
      R\t2\t0xc\teth0\t7\t2\t0\t6
      ${flow(10, 5, "10.9.1.2", 4000)}
      ${flow(8, 5, "10.9.1.3", 4000)}
      ${flow(5, 5, "10.9.1.4", 4000)}
      ${flow(4, 5, "10.9.1.5", 4000)}
      ${flow(3, 5, "10.9.1.6", 4000)}
      ${flow(2, 5, "10.9.1.7", 4000)}
      F\t1\t5\t0\t0\t0\t0\t0\t0\t0\t0
      ${flow(2, 6, "10.9.1.2", 5000)}
      I\t1\t2\t0\t0\t0\t35\t1000\t1000000000\t3\t1
      `,
    );
    // The next interval gives the same rows other IDs (IDs are per interval), and a flow moves up.
    feed(
      acc,
      `
      R\t3\t0xa\teth0\t7\t3\t0\t9
      ${flow(3, 9, "10.9.1.7", 4000)}
      I\t2\t1\t0\t0\t0\t3\t100\t1000000000\t0\t4
      E\t2
      `,
    );
    const snapshot = acc.snapshot(10);
    expect(acc.protocolErrors).toBe(0);
    expect(snapshot.unstoredFlows).toBe(3);
    // The second interval's flows were sampled one in 4: the largest period is the trace's.
    expect(snapshot.flowSamplingPeriod).toBe(4);
    const [udp, neigh] = snapshot.rows;
    expect(udp).toMatchObject({ symbol: "udp_rcv+0x452", count: 36, unparsedFlows: 1, otherFlows: 3 });
    expect(udp?.flows?.map((f) => [f.source.address, f.count])).toEqual([
      ["10.9.1.2", 10],
      ["10.9.1.3", 8],
      ["10.9.1.4", 5],
      ["10.9.1.7", 5],
      ["10.9.1.5", 4],
    ]);
    expect(udp?.flows?.[0]).toEqual({ protocol: "UDP", source: { address: "10.9.1.2", port: 4000 }, destination: { address: "10.9.1.1", port: 9 }, count: 10 });
    expect(neigh).toMatchObject({ symbol: "neigh_invalidate+0x90", count: 2, unparsedFlows: 0, otherFlows: 0 });
    expect(neigh?.flows).toEqual([{ protocol: "UDP", source: { address: "10.9.1.2", port: 5000 }, destination: { address: "10.9.1.1", port: 9 }, count: 2 }]);
  });

  it("keeps two host-network sockets' drops apart by their cgroup, and counts a flow of a row ID no row has as a protocol error", () => {
    const acc = new DropAccumulator(symbols(), reasons);
    feed(
      acc,
      `
      R\t4\t0xa\t-\t0\t3\t8001\t1
      R\t6\t0xa\t-\t0\t3\t8002\t2
      F\t4\t1\t0\t0\t0\t0\t0\t0\t0\t0
      F\t6\t3\t0\t0\t0\t0\t0\t0\t0\t0
      I\t1\t2\t0\t0\t0\t10\t100\t1000000000\t0\t1
      `,
    );
    const rows = acc.snapshot(10).rows;
    expect(rows.map((r) => [r.count, r.socketCgroup, r.unparsedFlows, r.otherFlows])).toEqual([
      [6, 8002, 0, 6],
      [4, 8001, 4, 0],
    ]);
    expect(acc.protocolErrors).toBe(1);
    expect(acc.snapshot(10).protocolErrorSamples[0]).toBe("flow of row ID 3, which no row of this interval has");
  });

  it("scales sampled flows to their row's exact count: each sample stands for N drops, so their sum only estimates it", () => {
    // As the 7.2 guest printed it under a flood (test/fixtures/kernel-guest-flows/flood.tsv): two samples
    // of 4096 and 4097 for a row of 3508 drops.
    const acc = new DropAccumulator(symbols(), reasons);
    const flow = (count: number, sport: number) => `F\t${count}\t2\t4\t17\t${sport}\t9\t0\t100007f\t0\t100007f`;
    feed(acc, `R\t3508\t0xa\tlo\t7\t3\t0\t2\n${flow(4097, 43948)}\n${flow(4096, 45363)}\nI\t1\t1\t0\t0\t0\t3508\t100\t1000000000\t0\t4096`);
    const [r] = acc.snapshot(10).rows;
    expect(r?.flows?.map((f) => [f.source.port, f.count])).toEqual([
      [43948, 1754],
      [45363, 1753],
    ]);
    expect(r).toMatchObject({ count: 3508, unparsedFlows: 0, otherFlows: 1 });
  });

  it("keeps a small row's scaled flows within its count: a sample of 64 and two first drops in a row of 3", () => {
    const acc = new DropAccumulator(symbols(), reasons);
    const flow = (count: number, sport: number) => `F\t${count}\t2\t4\t17\t${sport}\t9\t0\t100007f\t0\t100007f`;
    feed(acc, `R\t3\t0xa\tlo\t7\t3\t0\t2\n${flow(64, 1001)}\n${flow(1, 1002)}\n${flow(1, 1003)}\nI\t1\t1\t0\t0\t0\t3\t100\t1000000000\t0\t64`);
    const [r] = acc.snapshot(10).rows;
    expect(r?.flows?.map((f) => [f.source.port, f.count])).toEqual([
      [1001, 1],
      [1002, 1],
      [1003, 1],
    ]);
    expect(r).toMatchObject({ count: 3, unparsedFlows: 0, otherFlows: 0 });
  });

  it("gives rows of the probe before flows no flow fields", () => {
    const acc = new DropAccumulator(symbols(), reasons);
    feed(acc, "R\t4\t0xa\teth0\t7\t3\nI\t1\t1\t0");
    const snapshot = acc.snapshot(10);
    expect(snapshot.rows[0]).not.toHaveProperty("flows");
    expect(snapshot.rows[0]).not.toHaveProperty("socketCgroup");
    expect(snapshot).not.toHaveProperty("unstoredFlows");
  });
});
