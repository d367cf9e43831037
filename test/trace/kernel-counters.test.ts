// The kernel's own drop counters: parsed from real /proc/net files, kept as changes across
// resets, compared with the traced rows, and carried into the report by a real session.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KERNEL_COUNTER_NAMES, KERNEL_COUNTERS } from "../../src/api/kernel-counters.js";
import type { ReportRow } from "../../src/api/report.js";
import { DropTraceReportStatusSchema } from "../../src/api/report.js";
import {
  CounterDeltas,
  CounterWatch,
  kernelCounters,
  parseProcNetDev,
  parseSnmp,
  parseSnmp6,
  parseSoftnetDrops,
  readCounters,
  type CounterSample,
} from "../../src/trace/kernel-counters.js";
import { reportStatus } from "../../src/trace/report-status.js";
import { runTrace } from "../../src/trace/session.js";
import { loadProbeScript } from "../../src/probe/script.js";
import { capturedProcNet, fixtureIntervals, NETNS, StandIns } from "./stand-ins.js";

const read = (at: string) => Promise.resolve(capturedProcNet(at.split("/").pop() ?? ""));

describe("parsing /proc/net (captured on this project's CI host, Linux 6.18)", () => {
  it("reads every interface's drop columns from dev", () => {
    const dev = parseProcNetDev(capturedProcNet("dev") ?? "");
    expect([...dev.keys()]).toContain("lo");
    expect(dev.get("lo")).toEqual({ rxDrop: 0, rxFifo: 0, rxFrame: 0, txDrop: 0 });
    // Columns by position: receive drop is the 4th, fifo the 5th, frame the 6th, transmit drop the 12th.
    const line = "  eth0: 100 10 1 7 3 4 0 0 200 20 2 5 0 0 0 0";
    expect(parseProcNetDev(`h|\nh|\n${line}\n`).get("eth0")).toEqual({ rxDrop: 7, rxFifo: 3, rxFrame: 4, txDrop: 5 });
  });

  it("pairs snmp's and netstat's header and value lines", () => {
    const snmp = parseSnmp(capturedProcNet("snmp") ?? "");
    expect(snmp.get("Udp.NoPorts")).toBeTypeOf("number");
    expect(snmp.get("Ip.InDiscards")).toBeTypeOf("number");
    expect(parseSnmp("Udp: InDatagrams NoPorts\nUdp: 5 12\nTcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4\n")).toEqual(
      new Map([
        ["Udp.InDatagrams", 5],
        ["Udp.NoPorts", 12],
        ["TcpExt.ListenOverflows", 3],
        ["TcpExt.ListenDrops", 4],
      ]),
    );
    expect(parseSnmp(capturedProcNet("netstat") ?? "").get("TcpExt.ListenOverflows")).toBeTypeOf("number");
  });

  it("reads snmp6's name-value lines and sums softnet_stat's hexadecimal drop column over CPUs", () => {
    expect(parseSnmp6(capturedProcNet("snmp6") ?? "").get("Udp6NoPorts")).toBeTypeOf("number");
    expect(parseSoftnetDrops("00094f61 0000000a 00000003\n000a7b22 00000010 0000000d\n")).toBe(26);
  });

  it("reads every counter of the catalogue from a real set of files", async () => {
    const { sample, missing } = await readCounters(read, "/proc/1/net");
    expect(missing).toEqual([]);
    const names = new Set([...sample.keys()].map((k) => k.split("\t")[0]));
    expect([...names].sort()).toEqual([...KERNEL_COUNTER_NAMES].sort());
    for (const name of KERNEL_COUNTER_NAMES) expect(sample.has(`${name}\tlo`) || sample.has(name), name).toBe(true);
  });

  it("names the files it could not read", async () => {
    const { missing } = await readCounters((p) => Promise.resolve(p.endsWith("/netstat") ? undefined : capturedProcNet(p.split("/").pop() ?? "")), "/x/net");
    expect(missing).toEqual(["/x/net/netstat"]);
  });
});

const sample = (entries: Record<string, number>): CounterSample => new Map(Object.entries(entries));

describe("counter changes", () => {
  it("counts from the first reading, and an interface reset (removed and made again) adds what it counted since", () => {
    const deltas = new CounterDeltas();
    deltas.observe(sample({ "RxDropped\tveth1": 100, UdpNoPorts: 40 }));
    deltas.observe(sample({ "RxDropped\tveth1": 130, UdpNoPorts: 45 }));
    // veth1 gone and back: its counter starts again from 0 and is now 4.
    deltas.observe(sample({ "RxDropped\tveth1": 4, UdpNoPorts: 45 }));
    deltas.observe(sample({ "RxDropped\tveth1": 10, UdpNoPorts: 50 }));
    expect(deltas.counters()).toEqual([
      { name: "RxDropped", interface: "veth1", count: 40 },
      { name: "UdpNoPorts", count: 10 },
    ]);
  });

  it("counts all of an interface made during the trace, keeps one removed, and leaves out what did not change", () => {
    const deltas = new CounterDeltas();
    deltas.observe(sample({ "RxDropped\teth0": 5, "TxDropped\tgone0": 1, UdpNoPorts: 3 }));
    deltas.observe(sample({ "RxDropped\teth0": 5, "TxDropped\tgone0": 9, "RxFifoErrors\tnew0": 6, UdpNoPorts: 3 }));
    deltas.observe(sample({ "RxDropped\teth0": 5, "RxFifoErrors\tnew0": 6, UdpNoPorts: 3 }));
    expect(deltas.counters()).toEqual([
      { name: "TxDropped", interface: "gone0", count: 8 },
      { name: "RxFifoErrors", interface: "new0", count: 6 },
    ]);
  });
});

const row = (symbol: string, reason: string, count: number, netns = 1000): ReportRow => ({
  symbol,
  interface: "lo",
  netns,
  module: "kernel",
  reason,
  class: "depends",
  count,
});

describe("what the probe cannot see, and the checks against the rows", () => {
  const deltasOf = (entries: Record<string, number>) => {
    const deltas = new CounterDeltas();
    deltas.observe(sample(Object.fromEntries(Object.keys(entries).map((k) => [k, 0]))));
    deltas.observe(sample(entries));
    return deltas;
  };

  it("sums drops the probe cannot see and drops of mixed columns, by the catalogue", () => {
    const got = kernelCounters(deltasOf({ "RxFifoErrors\teth0": 7, "RxDropped\teth0": 3, BacklogDrops: 2 }), 1000, [], false);
    expect(KERNEL_COUNTERS.RxFifoErrors.visibility).toBe("unseen");
    expect(got.unseenDrops).toBe(7);
    expect(got.partlySeenDrops).toBe(3);
  });

  it("agrees when UDP's NoPorts equals the NO_SOCKET rows in UDP of the node's namespace, and only those", () => {
    const rows = [row("udp_rcv+0x452", "NO_SOCKET", 100), row("__udp4_lib_rcv+0x1", "NO_SOCKET", 50, 2000), row("tcp_v4_rcv+0x9", "NO_SOCKET", 9)];
    const agree = kernelCounters(deltasOf({ UdpNoPorts: 100 }), 1000, rows, false).checks;
    expect(agree).toEqual([expect.objectContaining({ counter: "UdpNoPorts", kernel: 100, traced: 100, verdict: "agree" })]);
    const differ = kernelCounters(deltasOf({ UdpNoPorts: 104 }), 1000, rows, false).checks[0];
    expect(differ).toMatchObject({ kernel: 104, traced: 100, verdict: "differ" });
    expect(differ?.message).toContain("UdpNoPorts counted 104, the probe 100 as NO_SOCKET");
    expect(kernelCounters(deltasOf({ UdpNoPorts: 104 }), 1000, rows, true).checks[0]?.verdict).toBe("notCompared");
  });

  it("says why when the node's /proc is not there, and reports nothing rather than zeros", async () => {
    const watch = new CounterWatch({ procRoot: "/host/proc", readText: () => Promise.resolve(undefined), readLink: () => Promise.resolve(undefined) }, false);
    await watch.read();
    expect(watch.problem).toBe("kernel drop counters not read: cannot read /host/proc/1/ns/net (is the host's /proc mounted there?)");
    expect(watch.result([])).toBeUndefined();
  });
});

describe("a trace's report carries the counters' change from the moment the probe was armed", () => {
  let standIns: StandIns;
  beforeEach(async () => {
    standIns = await StandIns.create();
  });
  afterEach(async () => {
    await standIns.dispose();
  });

  it("reads the node's counters when armed and at the end, and checks them against the rows", async () => {
    // The fixture's drops: 300 NO_SOCKET at udp_rcv on lo in the node's namespace, 190 in another.
    const { first, second, last } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
    // The first reading (when armed) sees the counters before the drops, every later one after them.
    let snmpReads = 0;
    const procNet = (file: string) => {
      const text = capturedProcNet(file);
      const after = snmpReads > 1;
      if (file === "snmp") {
        snmpReads += 1;
        return text?.replace(/^(Udp: \d+) \d+/m, `$1 ${String(after ? 1_300 : 1_000)}`);
      }
      if (file === "dev") return text?.replace(/^( +lo: +\d+ +\d+ +\d+ +\d+) +\d+/m, `$1 ${String(after ? 61 : 50)}`);
      return text;
    };
    const host = standIns.host({ procNet });
    const state = await runTrace(standIns.request({ durationSeconds: 1 }), standIns.deps({ host, procRoot: "/host/proc", script: loadProbeScript() }));
    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.notes).toEqual([]);
    const status = DropTraceReportStatusSchema.parse(reportStatus(state));
    expect(status.kernelCounters).toMatchObject({
      netns: NETNS.root,
      counters: [
        { name: "UdpNoPorts", count: 300 },
        { name: "RxFifoErrors", interface: "lo", count: 11 },
      ],
      unseenDrops: 11,
      partlySeenDrops: 0,
      checks: [{ counter: "UdpNoPorts", kernel: 300, traced: 300, verdict: "agree" }],
    });
  });

  it("without the node's /proc, the report says why and the rows are whole", async () => {
    const { first, second, last } = fixtureIntervals();
    await standIns.staprun({ steps: [{ out: first }, { out: second }], onSigint: [{ out: last }, { exit: 0 }] });
    const host = standIns.host({ procNet: () => undefined });
    const state = await runTrace(standIns.request({ durationSeconds: 1 }), standIns.deps({ host, procRoot: "/host/proc", script: loadProbeScript() }));
    expect(state.outcome).toEqual({ phase: "Completed" });
    expect(state.snapshot.total).toBe(551);
    const status = reportStatus(state);
    expect(status.kernelCounters).toBeUndefined();
    expect(status.message).toContain(
      "kernel drop counters not read: /host/proc/1/net/dev, /host/proc/1/net/snmp, /host/proc/1/net/netstat, /host/proc/1/net/softnet_stat missing",
    );
  });
});
