import { describe, expect, it } from "vitest";
import { NO_REASON } from "../../src/api/drop-reasons.js";
import { DropReasonFormatError, UnknownDropReasonError, parseKfreeSkbFormat } from "../../src/trace/kernel-reasons.js";
import { readFixture } from "./fixture.js";

// kfree_skb before Linux 5.17: no reason field.
const FORMAT_WITHOUT_REASONS = `name: kfree_skb
ID: 1338
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:void * skbaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:void * location;\toffset:16;\tsize:8;\tsigned:0;
\tfield:unsigned short protocol;\toffset:24;\tsize:2;\tsigned:0;

print fmt: "skbaddr=%p protocol=%u location=%p", REC->skbaddr, REC->protocol, REC->location
`;

function formatWithTable(table: string): string {
  return `name: kfree_skb
ID: 1
format:
\tfield:void * location;\toffset:16;\tsize:8;\tsigned:0;
\tfield:enum skb_drop_reason reason;\toffset:36;\tsize:4;\tsigned:0;

print fmt: "location=%pS reason: %s", REC->location, __print_symbolic(REC->reason, ${table})
`;
}

describe("drop reasons of the fixture's kernel", () => {
  const reasons = parseKfreeSkbFormat(readFixture("kfree_skb.format"));

  it("reads the whole __print_symbolic table", () => {
    expect(reasons.available).toBe(true);
    expect(reasons.names).toHaveLength(125);
    expect(reasons.names.slice(0, 3)).toEqual(["NOT_SPECIFIED", "NO_SOCKET", "SOCKET_CLOSE"]);
    expect(reasons.names.at(-1)).toBe("MAX");
  });

  it.each([
    [2, "NOT_SPECIFIED"],
    [3, "NO_SOCKET"],
    [58, "NEIGH_FAILED"],
    [64, "QDISC_DROP"],
    [125, "RECURSION_LIMIT"],
    [1, "UNKNOWN_1"],
    [4096, "UNKNOWN_4096"],
    [-1, NO_REASON],
  ])("names %i %s", (number, name) => {
    expect(reasons.reasonName(number)).toBe(name);
  });

  it("resolves filter names to this kernel's numbers, once each", () => {
    expect(reasons.resolveReasonNames(["QDISC_DROP", "NO_SOCKET", "QDISC_DROP"])).toEqual([64, 3]);
    expect(reasons.resolveReasonNames([])).toEqual([]);
  });

  it("refuses names this kernel does not know, listing the ones it knows", () => {
    let thrown: unknown;
    try {
      reasons.resolveReasonNames(["NO_SOCKET", "NO_SOKET", "no_socket", "NO_SOKET"]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnknownDropReasonError);
    const error = thrown as UnknownDropReasonError;
    expect(error.unknown).toEqual(["NO_SOKET", "no_socket"]);
    expect(error.known).toEqual(reasons.names);
    expect(error.message).toMatch(/^drop reasons NO_SOKET, no_socket not known to this kernel; it knows: NOT_SPECIFIED, NO_SOCKET, SOCKET_CLOSE, /);
    expect(error.message).toContain("NEIGH_FAILED, NEIGH_QUEUEFULL");
  });
});

describe("parseKfreeSkbFormat", () => {
  it("uses each kernel's own numbers", () => {
    // Linux 5.17 numbered from 1 and had a few names only.
    const reasons = parseKfreeSkbFormat(formatWithTable('{ 1, "NOT_SPECIFIED" }, { 2, "NO_SOCKET" }, { 3, "PKT_TOO_SMALL" }, { 0x4, "TCP_CSUM" }'));
    expect(reasons.reasonName(2)).toBe("NO_SOCKET");
    expect(reasons.reasonName(3)).toBe("PKT_TOO_SMALL");
    expect(reasons.reasonName(4)).toBe("TCP_CSUM");
    expect(reasons.resolveReasonNames(["NO_SOCKET"])).toEqual([2]);
    expect(() => reasons.resolveReasonNames(["NEIGH_FAILED"])).toThrow(
      "drop reason NEIGH_FAILED not known to this kernel; it knows: NOT_SPECIFIED, NO_SOCKET, PKT_TOO_SMALL, TCP_CSUM",
    );
  });

  it("gives 'no reasons' for a kernel without a reason field", () => {
    const reasons = parseKfreeSkbFormat(FORMAT_WITHOUT_REASONS);
    expect(reasons.available).toBe(false);
    expect(reasons.names).toEqual([]);
    expect(reasons.reasonName(-1)).toBe("-");
    expect(reasons.reasonName(3)).toBe("UNKNOWN_3");
    expect(reasons.resolveReasonNames([])).toEqual([]);
    expect(() => reasons.resolveReasonNames(["NO_SOCKET"])).toThrow(/drop reason filter NO_SOCKET cannot apply: this kernel has no drop reasons/);
  });

  it.each([
    ["a file that is not a format", "name: kfree_skb\n", /not a tracepoint format file/],
    [
      "a reason field without a table",
      FORMAT_WITHOUT_REASONS.replace("\n\nprint", "\n\tfield:int reason;\toffset:28;\tsize:4;\tsigned:0;\n\nprint"),
      /has a reason field but its print fmt has no __print_symbolic\(REC->reason/,
    ],
    [
      "enum names the kernel left unresolved",
      formatWithTable('{ SKB_DROP_REASON_NOT_SPECIFIED, "NOT_SPECIFIED" }'),
      /reason table entry 1 is not \{ <number>, "<NAME>" \}: " \{ SKB_DROP_REASON_NOT_SPECIFIED/,
    ],
    ["a table cut short", formatWithTable('{ 2, "NOT_SPECIFIED" }, { 3, "NO_SOCKET" ').replace(")\n", "\n"), /reason table entry 2 is not/],
    ["a lower-case name", formatWithTable('{ 2, "not_specified" }'), /must be an upper-case C identifier/],
    ["a number listed twice", formatWithTable('{ 2, "A" }, { 2, "B" }'), /number 2 is listed twice/],
    ["a name listed twice", formatWithTable('{ 2, "A" }, { 3, "A" }'), /reason A is listed twice/],
  ])("refuses %s", (_what, text, problem) => {
    expect(() => parseKfreeSkbFormat(text)).toThrow(DropReasonFormatError);
    expect(() => parseKfreeSkbFormat(text)).toThrow(problem);
  });
});
