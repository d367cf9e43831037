import { describe, expect, it } from "vitest";
import {
  MAX_PROBE_LINE_LENGTH,
  MAX_PROBE_STACK_FRAMES,
  ProbeLineSplitter,
  ProbeOutputReader,
  ProbeProtocolError,
  normalizeHexAddress,
  parseProbeLine,
} from "../../src/probe/output.js";

describe("parseProbeLine", () => {
  it("reads a row", () => {
    expect(parseProbeLine("R\t300\t0xffffffffac2fa632\tlo\t4026531840\t3")).toEqual({
      kind: "row",
      count: 300,
      location: "0xffffffffac2fa632",
      interface: "lo",
      netns: 4026531840,
      reason: 3,
    });
  });

  it("reads a row from a device-less skb on a kernel without drop reasons", () => {
    expect(parseProbeLine("R\t1\t0xffffffffc0535c2a\t-\t0\t-1")).toEqual({
      kind: "row",
      count: 1,
      location: "0xffffffffc0535c2a",
      interface: "-",
      netns: 0,
      reason: -1,
    });
  });

  it("keeps 64-bit addresses exact and spells each address one way", () => {
    const row = parseProbeLine("R\t1\t0xFFFFFFFFAC2FA633\teth0\t1\t2");
    expect(row).toMatchObject({ location: "0xffffffffac2fa633" });
    expect(row.kind === "row" && BigInt(row.location)).toBe(0xffffffffac2fa633n);
    expect(parseProbeLine("R\t1\t0x00000000000000Ff\teth0\t1\t2")).toMatchObject({ location: "0xff" });
    expect(normalizeHexAddress("0x0000")).toBe("0x0");
    expect(normalizeHexAddress("0x00aB")).toBe("0xab");
  });

  it("reads interval and end records", () => {
    expect(parseProbeLine("I\t7\t1200\t35\t12\t3\t48210\t15893420\t10000212338")).toEqual({
      kind: "interval",
      seq: 7,
      rows: 1200,
      overflow: 35,
      stacks: 12,
      stackOverflow: 3,
      cost: { hits: 48210, probeNs: 15893420, elapsedNs: 10000212338 },
    });
    expect(parseProbeLine("E\t7")).toEqual({ kind: "end", seq: 7 });
    expect(parseProbeLine("E\t0")).toEqual({ kind: "end", seq: 0 });
    // The armed record: every probe live, drops from now on are seen.
    expect(parseProbeLine("A")).toEqual({ kind: "armed" });
    expect(() => parseProbeLine("A\t1")).toThrow(ProbeProtocolError);
  });

  it("reads the interval record of the probe before stacks and cost (the real captures') as one without either", () => {
    expect(parseProbeLine("I\t7\t1200\t35")).toEqual({ kind: "interval", seq: 7, rows: 1200, overflow: 35, stacks: 0, stackOverflow: 0 });
  });

  it("reads a stack, its frames innermost first and spelled one way", () => {
    expect(
      parseProbeLine("S\t57\t0xffffffff81b2c3d2\t2\t0xffffffffc0a1b2c3,0xFFFFFFFF81A01234,0xffffffff81b2c3d2,0xffffffff81b2f000,0x00ffff81b30010"),
    ).toEqual({
      kind: "stack",
      count: 57,
      location: "0xffffffff81b2c3d2",
      reason: 2,
      frames: ["0xffffffffc0a1b2c3", "0xffffffff81a01234", "0xffffffff81b2c3d2", "0xffffffff81b2f000", "0xffff81b30010"],
    });
    expect(parseProbeLine("S\t1\t0x1\t-1\t0x1")).toMatchObject({ reason: -1, frames: ["0x1"] });
  });

  it("reads the 25-frame stack a real kernel gave (7.2, backtrace() with MAXBACKTRACE=24), up to 26 frames, and refuses 27", () => {
    const real =
      "S\t49\t0xffffffffa98fa632\t3\t0xffffffffc078ca03,0xffffffffc078ca64,0xffffffffc0795f77,0xffffffffc079e343,0xffffffffa9820779,0xffffffffa9798836,0xffffffffa98fa632,0xffffffffa98a39da,0xffffffffa98a3b75,0xffffffffa97c3155,0xffffffffa97c3448,0xffffffffa97c3bae,0xffffffffa97c40cc,0xffffffffa8b91809,0xffffffffa8b9119b,0xffffffffa8b91bb2,0xffffffffa97c05eb,0xffffffffa98a8ef7,0xffffffffa98aaba3,0xffffffffa98ac0e9,0xffffffffa98f3c25,0xffffffffa98f86f8,0xffffffffa9782c99,0xffffffffa9023054,0xffffffffa90233bf";
    expect(parseProbeLine(real)).toMatchObject({ kind: "stack", count: 49 });
    const frames = (n: number) => Array.from({ length: n }, (_, i) => `0xffffffff81a0${(0x1000 + i).toString(16)}`).join(",");
    expect(parseProbeLine(`S\t1\t0x1\t2\t${frames(MAX_PROBE_STACK_FRAMES)}`)).toMatchObject({ kind: "stack" });
    expect(() => parseProbeLine(`S\t1\t0x1\t2\t${frames(MAX_PROBE_STACK_FRAMES + 1)}`)).toThrow(/frames must be 1 to 26 comma-separated addresses/);
  });

  it("reads the guard's overload record", () => {
    expect(parseProbeLine("O\t73000\t5")).toEqual({ kind: "overload", sharePpm: 73000, limitPercent: 5 });
    expect(parseProbeLine("O\t500001\t50")).toMatchObject({ limitPercent: 50 });
  });

  it("accepts 15-character interface names and refuses 16", () => {
    expect(parseProbeLine("R\t1\t0x1\tveth0123456789a\t0\t2")).toMatchObject({ interface: "veth0123456789a" });
    expect(() => parseProbeLine("R\t1\t0x1\tveth0123456789ab\t0\t2")).toThrow(/interface must be a Linux interface name/);
  });

  it.each([
    ["", /does not start with a record tag/],
    ["hello world", /does not start with a record tag/],
    ["WARNING: probe overhead exceeded", /does not start with a record tag/],
    ["r\t1\t0x1\tlo\t0\t2", /does not start with a record tag/],
    ["R\t1\t0x1\tlo\t0", /expected 8 tab-separated fields .* got 5/],
    ["R\t1\t0x1\tlo\t0\t2\t", /expected 8 tab-separated fields .* got 7/],
    ["R 1 0x1 lo 0 2", /does not start with a record tag/],
    ["R\t-1\t0x1\tlo\t0\t2", /count must be a decimal integer/],
    ["R\t1.5\t0x1\tlo\t0\t2", /count must be a decimal integer/],
    ["R\t1\tffffffffac2fa632\tlo\t0\t2", /location must be 0x followed by 1 to 16 hex digits/],
    ["R\t1\t0x1ffffffffac2fa632\tlo\t0\t2", /location must be 0x followed by 1 to 16 hex digits/],
    ["R\t1\t0x1\t\t0\t2", /interface must be a Linux interface name/],
    ["R\t1\t0x1\tl o\t0\t2", /interface must be a Linux interface name/],
    ["R\t1\t0x1\tlo\t4294967296\t2", /netns must fit in 32 bits/],
    ["R\t1\t0x1\tlo\t0\t-2", /reason must be -1 \(kernel without drop reasons\) or a decimal reason number/],
    ["R\t1\t0x1\tlo\t0\tNO_SOCKET", /reason must be -1/],
    ["R\t1\t0x1\tlo\t0\t2\r", /reason must be -1/],
    ["I\t0\t4\t0", /seq must be a positive decimal integer/],
    ["I\t1\t4", /expected 11 tab-separated fields .* got 3/],
    ["I\t1\t4\tx", /overflow must be a decimal integer/],
    ["I\t1\t4\t0\t0\t0\t10", /expected 11 tab-separated fields .* got 7/],
    ["I\t1\t4\t0\t0\t0\t10\t2000\t1000000000\t", /expected 11 tab-separated fields .* got 10/],
    ["I\t1\t4\t0\t0\t0\t10\t2000\t1000000000\t0\t0", /flowSamplingPeriod must be a positive decimal integer/],
    ["I\t1\t4\t0\t0\t0\t-10\t2000\t1000000000", /cost\.hits must be a decimal integer/],
    ["I\t1\t4\t0\t0\t0\t10\t2.5\t1000000000", /cost\.probeNs must be a decimal integer/],
    ["I\t1\t4\t0\t0\t0\t10\t2000\t1234567890123456", /cost\.elapsedNs must be a decimal integer of at most 15 digits/],
    ["I\t1\t4\t0\tx\t0\t10\t2000\t1000000000", /stacks must be a decimal integer/],
    ["S\t57\t0x1\t2", /expected 5 tab-separated fields/],
    ["S\t57\t0x1\t2\t", /frames must be 1 to 26 comma-separated addresses/],
    ["S\t57\t0x1\t2\t0x1,", /frames must be 1 to 26/],
    ["S\t57\t0x1\t2\t0x1, 0x2", /frames must be 1 to 26/],
    ["S\t57\t0x1\t2\tffffffff81a01234", /frames must be 1 to 26/],
    ["S\t57\t0x1\t2\t0x1ffffffff81a01234", /frames must be 1 to 26/],
    ["S\tmany\t0x1\t2\t0x1", /count must be a decimal integer/],
    ["S\t57\t0x1\tNO_SOCKET\t0x1", /reason must be -1/],
    ["O\t73000", /expected 3 tab-separated fields/],
    ["O\t73000\t0", /limitPercent must be at least 1/],
    ["O\t73000\t51", /limitPercent must be at most 50/],
    ["O\t7.3%\t5", /sharePpm must be a decimal integer/],
    ["E", /expected 2 tab-separated fields/],
    ["E\t\t", /expected 2 tab-separated fields/],
  ])("refuses %j", (line, problem) => {
    let thrown: unknown;
    try {
      parseProbeLine(line);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProbeProtocolError);
    const error = thrown as ProbeProtocolError;
    expect(error.line).toBe(line);
    expect(error.message).toContain(`malformed line ${JSON.stringify(line)}`);
    expect(error.message).toMatch(problem);
  });

  it("lists every bad field of a row", () => {
    expect(() => parseProbeLine("R\tx\t0x1\tlo\ty\t2")).toThrow(/count must be a decimal integer.*; netns must be a decimal integer/);
  });

  it("quotes an overlong line cut short", () => {
    const line = `R\t${"9".repeat(MAX_PROBE_LINE_LENGTH)}`;
    expect(() => parseProbeLine(line)).toThrow(`longer than ${MAX_PROBE_LINE_LENGTH} characters`);
    expect(() => parseProbeLine(line)).toThrow(`…(${line.length} characters)`);
  });
});

describe("ProbeLineSplitter", () => {
  const text = "R\t5\t0xffffffffac38171c\tvb\t0\t2\nR\t300\t0xffffffffac2fa632\tlo\t0\t3\nI\t1\t2\t0\nE\t1\n";
  const lines = ["R\t5\t0xffffffffac38171c\tvb\t0\t2", "R\t300\t0xffffffffac2fa632\tlo\t0\t3", "I\t1\t2\t0", "E\t1"];

  it("gives the same lines wherever two chunks meet", () => {
    for (let split = 0; split <= text.length; split += 1) {
      const splitter = new ProbeLineSplitter();
      const got = [...splitter.push(text.slice(0, split)), ...splitter.push(text.slice(split)), ...splitter.end()];
      expect(got, `split at ${split}`).toEqual(lines);
    }
  });

  it("gives the same lines from one-byte chunks", () => {
    const splitter = new ProbeLineSplitter();
    const got: string[] = [];
    for (const byte of Buffer.from(text)) got.push(...splitter.push(Uint8Array.of(byte)));
    got.push(...splitter.end());
    expect(got).toEqual(lines);
  });

  it("joins a UTF-8 character split between chunks", () => {
    const bytes = Buffer.from("R\t1\t0x1\twlän0\t0\t2\n", "utf8");
    const umlaut = bytes.indexOf(0xc3);
    const splitter = new ProbeLineSplitter();
    expect(splitter.push(bytes.subarray(0, umlaut + 1))).toEqual([]);
    expect(splitter.push(bytes.subarray(umlaut + 1))).toEqual(["R\t1\t0x1\twlän0\t0\t2"]);
  });

  it("hands out a last line without a newline at the end only", () => {
    const splitter = new ProbeLineSplitter();
    expect(splitter.push("I\t1\t0\t0\nE\t")).toEqual(["I\t1\t0\t0"]);
    expect(splitter.push("1")).toEqual([]);
    expect(splitter.end()).toEqual(["E\t1"]);
    expect(splitter.end()).toEqual([]);
  });

  it("keeps empty lines, so the parser reports them", () => {
    expect(new ProbeLineSplitter().push("E\t1\n\n")).toEqual(["E\t1", ""]);
  });

  it("cuts a line that never ends instead of holding it", () => {
    const splitter = new ProbeLineSplitter(10);
    expect(splitter.push("x".repeat(25))).toEqual(["x".repeat(10), "x".repeat(10)]);
    expect(splitter.push("y\nE\t1\n")).toEqual(["xxxxxy", "E\t1"]);
  });
});

describe("ProbeOutputReader", () => {
  it("gives records and protocol errors in stdout order", () => {
    const reader = new ProbeOutputReader();
    const results = [...reader.push("R\t2\t0x10\tlo\t0\t3\nsemantic error: oops\nI\t1\t1\t0\n"), ...reader.end()];
    expect(results.map((result) => (result.ok ? result.record.kind : result.error.line))).toEqual(["row", "semantic error: oops", "interval"]);
    const failed = results[1];
    expect(failed?.ok === false && failed.error).toBeInstanceOf(ProbeProtocolError);
  });

  it("reports a line cut off by the end of the stream", () => {
    const reader = new ProbeOutputReader();
    expect(reader.push("I\t1\t0\t0\nR\t2\t0x1")).toHaveLength(1);
    const [last] = reader.end();
    expect(last?.ok).toBe(false);
    expect(last?.ok === false && last.error.message).toMatch(/expected 8 tab-separated fields .* got 3/);
  });
});

describe("flows: R rows with a socket cgroup and a row ID, F flows of those rows", () => {
  it("reads the row of the probe with flows, and the 6-field row of the probe before it as one without either", () => {
    expect(parseProbeLine("R\t30\t0xffffffffac2fa632\teth0\t4026532252\t3\t8912\t17")).toEqual({
      kind: "row",
      count: 30,
      location: "0xffffffffac2fa632",
      interface: "eth0",
      netns: 4026532252,
      reason: 3,
      socketCgroup: 8912,
      rowId: 17,
    });
    expect(parseProbeLine("R\t30\t0xffffffffac2fa632\teth0\t4026532252\t3")).not.toHaveProperty("rowId");
    expect(() => parseProbeLine("R\t30\t0xffffffffac2fa632\teth0\t4026532252\t3\t8912")).toThrow(/expected 8 tab-separated fields/);
    expect(() => parseProbeLine("R\t30\t0xffffffffac2fa632\teth0\t4026532252\t3\t8912\t8388608")).toThrow(/rowId must fit in 23 bits/);
  });

  it("reads an IPv4 UDP flow: address words as little-endian reads of the header bytes, ports as numbers", () => {
    // 10.9.1.2 -> 10.9.1.1: header bytes 0a 09 01 02 / 0a 09 01 01, read little-endian.
    expect(parseProbeLine("F\t30\t17\t4\t17\t40000\t9\t0\t201090a\t0\t101090a")).toEqual({
      kind: "flow",
      count: 30,
      rowId: 17,
      parsed: { protocol: 17, source: "10.9.1.2", destination: "10.9.1.1", sourcePort: 40000, destinationPort: 9 },
    });
  });

  it("reads an IPv6 flow in RFC 5952's form, and no ports for ICMPv6", () => {
    // fd00::1 and ff02::1234: bytes fd 00 00.. 01 and ff 02 00.. 12 34.
    expect(parseProbeLine("F\t1\t2\t6\t58\t0\t0\tfd\t100000000000000\t2ff\t3412000000000000")).toEqual({
      kind: "flow",
      count: 1,
      rowId: 2,
      parsed: { protocol: 58, source: "fd00::1", destination: "ff02::1234" },
    });
  });

  it("reads a row's drops without a readable network header (family 0)", () => {
    expect(parseProbeLine("F\t5\t3\t0\t0\t0\t0\t0\t0\t0\t0")).toEqual({ kind: "flow", count: 5, rowId: 3 });
  });

  it("refuses a flow whose family, port or address word is not one", () => {
    expect(() => parseProbeLine("F\t5\t3\t5\t17\t1\t2\t0\t1\t0\t1")).toThrow(/family must be 4, 6 or 0/);
    expect(() => parseProbeLine("F\t5\t3\t4\t17\t65536\t2\t0\t1\t0\t1")).toThrow(/sourcePort must fit in 16 bits/);
    expect(() => parseProbeLine("F\t5\t3\t4\t17\t1\t2\t0\t1\t0\t12345678901234567")).toThrow(/destination1 must be 1 to 16 hex digits/);
    expect(() => parseProbeLine("F\t5\t3\t4\t17\t1\t2\t0\t1\t0")).toThrow(/expected 11 tab-separated fields/);
  });

  it("reads the interval record with flows not stored and their sampling period, and the 9-field one of the probe before flows", () => {
    expect(parseProbeLine("I\t7\t1200\t35\t12\t3\t48210\t15893420\t10000212338\t44\t16")).toMatchObject({ seq: 7, flowOverflow: 44, flowSamplingPeriod: 16 });
    expect(parseProbeLine("I\t7\t1200\t35\t12\t3\t48210\t15893420\t10000212338")).not.toHaveProperty("flowOverflow");
  });
});
