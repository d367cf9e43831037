import { describe, expect, it } from "vitest";
import { DropAccumulator, PROTOCOL_ERROR_SAMPLES } from "../../src/trace/accumulator.js";
import type { SymbolizedLocation } from "../../src/trace/kallsyms.js";
import type { ProbeRow } from "../../src/probe/output.js";

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
  });

function row(count: number, location: string, iface = "eth0", netns = 1, reason = 3): ProbeRow {
  return { kind: "row", count, location, interface: iface, netns, reason };
}

describe("DropAccumulator", () => {
  it("sums a key's rows across intervals and counts overflow as uncounted", () => {
    const accumulator = new DropAccumulator(symbols(), reasons);
    accumulator.add(row(5, "0xa"));
    accumulator.add(row(1, "0xb", "vb"));
    accumulator.add({ kind: "interval", seq: 1, rows: 2, overflow: 0 });
    accumulator.add(row(7, "0xa"));
    accumulator.add({ kind: "interval", seq: 2, rows: 1, overflow: 12 });
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
    accumulator.add({ kind: "interval", seq: 1, rows: 2, overflow: 0 });
    accumulator.add({ kind: "interval", seq: 3, rows: 0, overflow: 0 });
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
});
