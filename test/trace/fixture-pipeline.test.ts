// The fixture's real drops, through parse -> symbolize -> name -> accumulate, must give the
// README's table exactly.
import { beforeAll, describe, expect, it } from "vitest";
import { DropAccumulator, type DropSnapshot } from "../../src/trace/accumulator.js";
import { parseKfreeSkbFormat, type DropReasons } from "../../src/trace/kernel-reasons.js";
import { parseKallsyms, type KallsymsTable } from "../../src/trace/kallsyms.js";
import { ProbeOutputReader } from "../../src/probe/output.js";
import { fixtureProbeOutput, readFixture, readFixtureKallsyms } from "./fixture.js";

const README_TABLE = [
  { count: 300, symbol: "udp_rcv+0x452", interface: "lo", netns: 0, module: "kernel", reason: "NO_SOCKET", class: "depends" },
  { count: 190, symbol: "udp_rcv+0x452", interface: "vb", netns: 0, module: "kernel", reason: "NO_SOCKET", class: "depends" },
  { count: 40, symbol: "neigh_invalidate+0x90", interface: "va", netns: 0, module: "kernel", reason: "NEIGH_FAILED", class: "fault" },
  { count: 6, symbol: "ip6_mc_input+0x18c", interface: "vb", netns: 0, module: "kernel", reason: "NOT_SPECIFIED", class: "depends" },
  { count: 5, symbol: "ip6_mc_input+0x18c", interface: "va", netns: 0, module: "kernel", reason: "NOT_SPECIFIED", class: "depends" },
  { count: 3, symbol: "__tcf_kfree_skb_list+0x62", interface: "va", netns: 0, module: "kernel", reason: "QDISC_DROP", class: "depends" },
];

let kallsyms: KallsymsTable;
let reasons: DropReasons;
let probeOutput: string;

beforeAll(() => {
  kallsyms = parseKallsyms(readFixtureKallsyms());
  reasons = parseKfreeSkbFormat(readFixture("kfree_skb.format"));
  probeOutput = fixtureProbeOutput();
});

function accumulate(chunks: readonly (string | Uint8Array)[]): DropSnapshot {
  const reader = new ProbeOutputReader();
  const accumulator = new DropAccumulator(kallsyms, reasons);
  const consume = (results: ReturnType<ProbeOutputReader["push"]>): void => {
    for (const result of results) {
      if (result.ok) accumulator.add(result.record);
      else accumulator.noteProtocolError(result.error.message);
    }
  };
  for (const chunk of chunks) consume(reader.push(chunk));
  consume(reader.end());
  return accumulator.snapshot(20);
}

describe("fixture kernel-7.2-udp-neigh end to end", () => {
  it("converts the fixture into two intervals of rows and an end record", () => {
    expect(probeOutput.split("\n").filter((line) => /^[IE]\t/.test(line))).toEqual(["I\t1\t4\t0", "I\t2\t4\t0", "E\t2"]);
  });

  it("gives the README's table, summed across intervals", () => {
    const snapshot = accumulate([probeOutput]);
    expect(snapshot.rows).toEqual(README_TABLE);
    expect(snapshot.total).toBe(544);
    expect(snapshot.otherCount).toBe(0);
    expect(snapshot.otherRows).toBe(0);
    expect(snapshot.uncounted).toBe(0);
    expect(snapshot.intervals).toBe(2);
    expect(snapshot.finished).toBe(true);
    expect(snapshot.protocolErrors).toBe(0);
  });

  it("gives the same table from kallsyms parsed as the file's bytes", () => {
    const fromBytes = parseKallsyms(Buffer.from(readFixtureKallsyms(), "utf8"));
    const reader = new ProbeOutputReader();
    const accumulator = new DropAccumulator(fromBytes, reasons);
    for (const result of [...reader.push(probeOutput), ...reader.end()]) if (result.ok) accumulator.add(result.record);
    expect(accumulator.snapshot(20).rows).toEqual(README_TABLE);
  });

  it("gives the same table whatever the stdout chunk boundaries", () => {
    const bytes = Buffer.from(probeOutput, "utf8");
    for (const size of [1, 2, 3, 7, 13, 64]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(accumulate(chunks).rows, `chunks of ${size} bytes`).toEqual(README_TABLE);
    }
    for (let split = 0; split <= probeOutput.length; split += 1) {
      const rows = accumulate([probeOutput.slice(0, split), probeOutput.slice(split)]).rows;
      expect(rows, `split at ${split}`).toEqual(README_TABLE);
    }
  });
});
