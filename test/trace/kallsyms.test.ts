import { beforeAll, describe, expect, it } from "vitest";
import { KallsymsFormatError, parseKallsyms, type KallsymsTable } from "../../src/trace/kallsyms.js";
import { readFixtureKallsyms } from "./fixture.js";

// The agent parses the file's text; the parser works on bytes, so a Buffer, or any view into
// bytes, must give the same table.
describe.each([
  ["as text", (text: string) => text],
  ["as a Buffer", (text: string) => Buffer.from(text, "utf8")],
  ["as a Uint8Array view at an offset", (text: string) => new Uint8Array(Buffer.from(`junk\n${text}`, "utf8")).subarray(5)],
])("kallsyms of the fixture's kernel, %s", (_how, input: (text: string) => string | Uint8Array) => {
  let table: KallsymsTable;

  beforeAll(() => {
    table = parseKallsyms(input(readFixtureKallsyms()));
  });

  it("keeps the kernel's and the modules' code symbols", () => {
    expect(table.addressesHidden).toBe(false);
    // 68756 T + 83424 t + 906 W lines, less the aliases that share an address with another.
    expect(table.symbolCount).toBe(152788);
    expect(table.moduleNames[0]).toBe("kernel");
    expect(table.moduleNames).toEqual(expect.arrayContaining(["veth", "ext4", "libata", "bpf"]));
  });

  it.each([
    ["0xffffffffac2fa632", "udp_rcv+0x452"],
    ["0xffffffffac1d1200", "neigh_invalidate+0x90"],
    ["0xffffffffac38171c", "ip6_mc_input+0x18c"],
    ["0xffffffffac244fa2", "__tcf_kfree_skb_list+0x62"],
    ["0xffffffffac2fa1e0", "udp_rcv+0x0"],
    ["0xffffffffac2fa1df", "__pfx_udp_rcv+0xf"],
  ])("names %s %s in the kernel", (address, symbol) => {
    expect(table.symbolize(address)).toEqual({ symbol, module: "kernel" });
  });

  it("names module addresses after their module, though module lines are not sorted", () => {
    // veth_xmit is at ...c0535b10; its __pfx_ comes 61 lines later in the file at ...c0535b00.
    expect(table.symbolize("0xffffffffc0535c2a")).toEqual({ symbol: "veth_xmit+0x11a", module: "veth" });
    expect(table.symbolize("0xffffffffc0535ecf")).toEqual({ symbol: "veth_xmit+0x3bf", module: "veth" });
    expect(table.symbolize("0xffffffffc0535b05")).toEqual({ symbol: "__pfx_veth_xmit+0x5", module: "veth" });
    expect(table.symbolize("0xffffffffc0535ee0")).toEqual({ symbol: "veth_enable_xdp+0x0", module: "veth" });
    expect(table.symbolize("0xffffffffc00685dd")).toEqual({
      symbol: "bpf_prog_772db7720b2728e9_sd_fw_ingress+0x1",
      module: "bpf",
    });
  });

  it("takes bigint addresses as well as hex strings", () => {
    expect(table.symbolize(0xffffffffac2fa632n)).toEqual(table.symbolize("0xffffffffac2fa632"));
    expect(table.symbolize(0xffffffffc0535c2an)).toEqual({ symbol: "veth_xmit+0x11a", module: "veth" });
  });

  it("picks the first of several code symbols at one address, ahead of data symbols there", () => {
    // _stext, _text, __pi__text share srso_alias_untrain_ret's address; B __init_begin shares _sinittext's.
    expect(table.symbolize("0xffffffffab200004")).toEqual({ symbol: "srso_alias_untrain_ret+0x4", module: "kernel" });
    expect(table.symbolize("0xffffffffadbb9000")).toEqual({ symbol: "_sinittext+0x0", module: "kernel" });
  });

  it("gives the raw address and module unknown outside code", () => {
    // Below the first symbol, in rodata, and far above every module.
    expect(table.symbolize("0x10")).toEqual({ symbol: "0x10", module: "unknown" });
    expect(table.symbolize("0xffffffffab1fffff")).toEqual({ symbol: "0xffffffffab1fffff", module: "unknown" });
    expect(table.symbolize("0xffffffffac600010")).toEqual({ symbol: "0xffffffffac600010", module: "unknown" });
  });

  it("keeps code names and addresses, not the text: well under the file's size", () => {
    // 9.3 MiB of text; 4.4 MiB of table, which held 13 MiB when it kept the text and an index into it.
    const textBytes = Buffer.byteLength(readFixtureKallsyms());
    expect(table.byteLength).toBeLessThan(textBytes * 0.5);
    expect(table.byteLength).toBeGreaterThan(152788 * 12);
  });
});

describe("parseKallsyms", () => {
  const small = [
    "ffffffff81000000 T _text",
    "ffffffff81000100 T first_function",
    "ffffffff81000200 t second_function",
    "ffffffff81000300 W weak_function",
    "ffffffff81000400 T _etext",
    "ffffffff82000000 D some_data",
    "ffffffff83000000 A absolute_value",
    "ffffffffc0002000 t mod_b_function\t[mod_b]",
    "ffffffffc0001000 t mod_a_late\t[mod_a]",
    "ffffffffc0000000 t mod_a_early\t[mod_a]",
    "ffffffffc0003000 d mod_a_data\t[mod_a]",
    "",
  ].join("\n");

  it("finds the nearest code symbol at or below an address", () => {
    const table = parseKallsyms(small);
    expect(table.symbolCount).toBe(8);
    expect(table.moduleNames).toEqual(["kernel", "mod_b", "mod_a"]);
    expect(table.symbolize("0xffffffff810001ff")).toEqual({ symbol: "first_function+0xff", module: "kernel" });
    expect(table.symbolize("0xffffffff81000300")).toEqual({ symbol: "weak_function+0x0", module: "kernel" });
    expect(table.symbolize("0xffffffffc0000010")).toEqual({ symbol: "mod_a_early+0x10", module: "mod_a" });
    expect(table.symbolize("0xffffffffc0001fff")).toEqual({ symbol: "mod_a_late+0xfff", module: "mod_a" });
    expect(table.symbolize("0xffffffffc0002004")).toEqual({ symbol: "mod_b_function+0x4", module: "mod_b" });
  });

  it("ends code at the first of several data symbols in a row, and not below the first code symbol", () => {
    const table = parseKallsyms(
      [
        "ffffffff80000000 D below_all_code",
        "ffffffff81000000 T only_function",
        "ffffffff81000100 D data_a",
        "ffffffff81000200 D data_b",
        "ffffffff81000300 B bss_c",
        "ffffffff81000400 T after_data",
        "ffffffff81000500 b bss_d",
        "",
      ].join("\n"),
    );
    expect(table.symbolize("0xffffffff80000010").module).toBe("unknown");
    expect(table.symbolize("0xffffffff810000ff")).toEqual({ symbol: "only_function+0xff", module: "kernel" });
    for (const inData of ["0xffffffff81000100", "0xffffffff81000250", "0xffffffff810003ff"]) expect(table.symbolize(inData).module).toBe("unknown");
    expect(table.symbolize("0xffffffff81000410")).toEqual({ symbol: "after_data+0x10", module: "kernel" });
    expect(table.symbolize("0xffffffff81000510").module).toBe("unknown");
  });

  it("names the padding before a function after the function, as the kernel does, wherever it sits", () => {
    const table = parseKallsyms(
      [
        "ffffffff81000000 T __pfx_first",
        "ffffffff81000010 T first",
        "ffffffff81000100 t __pfx_orphan",
        "ffffffff81000110 t not_orphan",
        "ffffffff81000200 T __pfx_",
        "ffffffff81000210 T __pfx___pfx_x",
        "ffffffff81000220 T __pfx_x",
        "ffffffff81000230 T x",
        "ffffffffc0000000 t __pfx_in_module\t[m]",
        "ffffffffc0000010 t in_module\t[m]",
        "ffffffffc0001000 t __pfx_other_module\t[m]",
        "ffffffffc0001010 t other_module\t[n]",
        "",
      ].join("\n"),
    );
    const names = (addresses: string[]) => addresses.map((a) => table.symbolize(a).symbol);
    expect(names(["0xffffffff81000001", "0xffffffff81000011"])).toEqual(["__pfx_first+0x1", "first+0x1"]);
    expect(names(["0xffffffff81000101", "0xffffffff81000201"])).toEqual(["__pfx_orphan+0x1", "__pfx_+0x1"]);
    expect(names(["0xffffffff81000211", "0xffffffff81000221", "0xffffffff81000231"])).toEqual(["__pfx___pfx_x+0x1", "__pfx_x+0x1", "x+0x1"]);
    expect(table.symbolize("0xffffffffc0000001")).toEqual({ symbol: "__pfx_in_module+0x1", module: "m" });
    expect(table.symbolize("0xffffffffc0001001")).toEqual({ symbol: "__pfx_other_module+0x1", module: "m" });
  });

  it("keeps names that are not ASCII as they were written", () => {
    const table = parseKallsyms(Buffer.from("ffffffff81000000 T caf\u00e9_function\nffffffffc0000000 t f\t[m\u00f6d]\n", "utf8"));
    expect(table.symbolize("0xffffffff81000001")).toEqual({ symbol: "caf\u00e9_function+0x1", module: "kernel" });
    expect(table.symbolize("0xffffffffc0000002")).toEqual({ symbol: "f+0x2", module: "m\u00f6d" });
  });

  it("treats data symbols as the end of the code before them and ignores absolute ones", () => {
    const table = parseKallsyms(small);
    expect(table.symbolize("0xffffffff82000010").module).toBe("unknown");
    // The absolute symbol at ...83000000 is no boundary: the data symbol still covers it.
    expect(table.symbolize("0xffffffff83000010")).toEqual({ symbol: "0xffffffff83000010", module: "unknown" });
    expect(table.symbolize("0xffffffffc0003008").module).toBe("unknown");
  });

  it("carries offsets across the 32-bit boundary of a 64-bit address", () => {
    const table = parseKallsyms("00000000fffffff0 T straddles\n0000000100000010 T next\n");
    expect(table.symbolize("0x100000000")).toEqual({ symbol: "straddles+0x10", module: "kernel" });
    expect(table.symbolize(0x10000000fn)).toEqual({ symbol: "straddles+0x1f", module: "kernel" });
  });

  it("reads 32-bit kernels' 8-digit addresses", () => {
    const table = parseKallsyms("c1000000 T _text\nc1000100 T start_kernel\n");
    expect(table.symbolize("0xc1000123")).toEqual({ symbol: "start_kernel+0x23", module: "kernel" });
  });

  it("detects addresses hidden by kptr_restrict", () => {
    const hidden = parseKallsyms("0000000000000000 T _text\n0000000000000000 T udp_rcv\n0000000000000000 t veth_xmit\t[veth]\n");
    expect(hidden.addressesHidden).toBe(true);
    expect(hidden.symbolize("0xffffffffac2fa632")).toEqual({ symbol: "0xffffffffac2fa632", module: "unknown" });
    expect(hidden.symbolize("0x0")).toEqual({ symbol: "0x0", module: "unknown" });
  });

  it("decides from code symbols: per-CPU and absolute symbols at 0 first, as x86_64 lists them to root, are not hidden", () => {
    const table = parseKallsyms(
      "0000000000000000 A fixed_percpu_data\n0000000000000000 A __per_cpu_start\n0000000000001000 A cpu_debug_store\n" + "ffffffff86400000 T startup_64\n",
    );
    expect(table.addressesHidden).toBe(false);
    expect(table.symbolize("0xffffffff86400010")).toEqual({ symbol: "startup_64+0x10", module: "kernel" });
  });

  it("takes a file whose only non-zero addresses are not code for a hidden one", () => {
    // Absolute symbols are offsets, not addresses: a reader shown 0 for every code symbol sees nothing.
    const table = parseKallsyms("0000000000001000 A cpu_debug_store\n0000000000000000 T _text\n0000000000000000 t veth_xmit\t[veth]\n");
    expect(table.addressesHidden).toBe(true);
  });

  it("does not take a table with some zero addresses for a hidden one", () => {
    const table = parseKallsyms("0000000000000000 D fixed_percpu_data\nffffffff81000000 T _text\n");
    expect(table.addressesHidden).toBe(false);
    expect(table.symbolize("0xffffffff81000001").symbol).toBe("_text+0x1");
  });

  it.each([
    ["", /kallsyms is empty/],
    ["ffffffff81000000 T _text\nnot a line\n", /line 2 is not .*"not a line"/],
    ["ffffffff8100000g T _text\n", /line 1 is not/],
    ["ffffffff81000000T _text\n", /line 1 is not/],
    ["ffffffff81000000 T\n", /line 1 is not/],
    ["1ffffffff81000000 T too_long\n", /line 1 is not/],
  ])("refuses %j", (text, problem) => {
    expect(() => parseKallsyms(text)).toThrow(KallsymsFormatError);
    expect(() => parseKallsyms(text)).toThrow(problem);
  });

  it("refuses addresses that are not 64-bit hex", () => {
    const table = parseKallsyms("ffffffff81000000 T _text\n");
    expect(() => table.symbolize("ffffffff81000000")).toThrow(RangeError);
    expect(() => table.symbolize(1n << 64n)).toThrow(RangeError);
  });
});
