// Debian 12's 6.1 and Debian 13's 6.12, as the project's own probe saw them (shared fixtures,
// one boot each): the agent must accept what these kernels publish and turn their drops into
// the rows their READMEs give. Each kernel file the agent reads is read whole here, as the
// agent reads it, so a check that looks at part of a file and concludes about all of it fails.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { KNOWN_DROP_REASONS } from "../../src/api/drop-reasons.js";
import { DropAccumulator } from "../../src/trace/accumulator.js";
import { parseKfreeSkbFormat } from "../../src/trace/kernel-reasons.js";
import { parseKallsyms } from "../../src/trace/kallsyms.js";
import { lockdownMode, preflight, type HostView } from "../../src/trace/preflight.js";
import { parseProcModules } from "../../src/probe/loaded-modules.js";
import { ProbeOutputReader } from "../../src/probe/output.js";
import { readFixture, readFixtureKallsymsBytes, type KernelFixture } from "./fixture.js";

interface Kernel {
  fixture: KernelFixture;
  release: string;
  /** The README's table. */
  rows: { count: number; symbol: string; interface: string; netns: number; module: string; reason: string }[];
  noSocket: number;
  reasonCount: number;
  fields: string[];
}

const KERNELS: Kernel[] = [
  {
    fixture: "kernel-6.1-udp",
    release: "6.1.0-57-amd64",
    rows: [{ count: 100, symbol: "__udp4_lib_rcv+0x9a2", interface: "lo", netns: 4026531840, module: "kernel", reason: "NO_SOCKET" }],
    noSocket: 2,
    reasonCount: 66,
    fields: ["skbaddr", "location", "protocol", "reason"],
  },
  {
    fixture: "kernel-6.12-udp",
    release: "6.12.118+deb13-amd64",
    rows: [{ count: 100, symbol: "__udp4_lib_rcv+0x235", interface: "lo", netns: 4026531840, module: "kernel", reason: "NO_SOCKET" }],
    noSocket: 3,
    reasonCount: 103,
    fields: ["skbaddr", "location", "rx_sk", "protocol", "reason"],
  },
];

/** A ready node running the fixture's kernel: its kallsyms and tracepoint format, read whole. */
function nodeOf(kernel: Kernel, kallsyms: Uint8Array = readFixtureKallsymsBytes(kernel.fixture)): HostView {
  const files: Record<string, string> = {
    "/proc/modules": "veth 40960 0 - Live 0xffffffffc0533000\n",
    "/proc/sys/kernel/modules_disabled": "0\n",
    "/sys/kernel/security/lockdown": "[none] integrity confidentiality\n",
    "/sys/kernel/tracing/events/skb/kfree_skb/format": readFixture("kfree_skb.format", kernel.fixture),
    "/etc/os-release": "ID=debian\n",
  };
  return {
    uid: () => 0,
    kernelRelease: () => kernel.release,
    readText: (file) => Promise.resolve(files[file]),
    readBytes: (file) => Promise.resolve(file === "/proc/kallsyms" ? kallsyms : undefined),
    exists: (file) => Promise.resolve(file === `/lib/modules/${kernel.release}/build` || file in files),
    readLink: () => Promise.resolve(undefined),
    commandOutput: (command) => Promise.resolve(command === "staprun" || command === "stap" ? "Systemtap (version 5.6/0.196)" : undefined),
  };
}

/** What an unprivileged reader gets from the same file: every address 0, names and modules kept. */
function zeroed(bytes: Uint8Array): Buffer {
  return Buffer.from(
    Buffer.from(bytes)
      .toString("latin1")
      .replace(/^[0-9a-f]{16} /gm, "0000000000000000 "),
    "latin1",
  );
}

describe.each(KERNELS)("$release ($fixture)", (kernel) => {
  it("lists per-CPU symbols at address 0 first, even as root: the case a one-line check misread", () => {
    const firstLine = readFixtureKallsymsBytes(kernel.fixture).subarray(0, 40).toString("latin1").split("\n")[0];
    expect(firstLine).toBe("0000000000000000 A fixed_percpu_data");
  });

  it("passes preflight", async () => {
    const result = await preflight(nodeOf(kernel), { needCompile: false, cacheDir: "/var/cache/droptrace" });
    expect(result.ok ? [] : result.problems).toEqual([]);
    expect(result.ok && result.facts.kallsyms.addressesHidden).toBe(false);
  });

  it("is still refused, with today's message, when every address reads 0", async () => {
    const result = await preflight(nodeOf(kernel, zeroed(readFixtureKallsymsBytes(kernel.fixture))), {
      needCompile: false,
      cacheDir: "/var/cache/droptrace",
    });
    expect(result.ok ? [] : result.problems).toEqual([
      {
        reason: "KallsymsHidden",
        message: "/proc/kallsyms shows every address as 0: run as root (CAP_SYSLOG) or set the sysctl kernel.kptr_restrict to 0 or 1",
      },
    ]);
  });

  it("names this kernel's reasons from its whole format, with its own numbers", () => {
    const format = readFixture("kfree_skb.format", kernel.fixture);
    const fields = [...format.matchAll(/^\tfield:[^;]*?(\w+);/gm)].map((m) => m[1]).filter((f) => !f?.startsWith("common_"));
    expect(fields).toEqual(kernel.fields);
    const reasons = parseKfreeSkbFormat(format);
    expect(reasons.available).toBe(true);
    expect(reasons.names).toHaveLength(kernel.reasonCount);
    expect(reasons.reasonName(kernel.noSocket)).toBe("NO_SOCKET");
    expect(reasons.resolveReasonNames(["NO_SOCKET", "NETFILTER_DROP"])[0]).toBe(kernel.noSocket);
    // The table is read to its last entry, not stopped at the first.
    expect(reasons.names.at(-1)).toBe("MAX");
  });

  it("turns the probe's output into the README's rows", async () => {
    const result = await preflight(nodeOf(kernel), { needCompile: false, cacheDir: "/var/cache/droptrace" });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const accumulator = new DropAccumulator(result.facts.kallsyms, parseKfreeSkbFormat(result.facts.tracepointFormat));
    const reader = new ProbeOutputReader();
    for (const r of [...reader.push(readFixture("probe-output.tsv", kernel.fixture)), ...reader.end()]) {
      if (!r.ok) throw r.error;
      accumulator.add(r.record);
    }
    const snapshot = accumulator.snapshot(20);
    expect(snapshot.rows).toEqual(kernel.rows);
    expect(snapshot).toMatchObject({ total: 100, otherCount: 0, uncounted: 0, finished: true, protocolErrors: 0 });
  });

  it("names only reasons a DropTrace may filter on (the CRD's enum)", () => {
    const names = parseKfreeSkbFormat(readFixture("kfree_skb.format", kernel.fixture)).names.filter((n) => n !== "MAX");
    expect(names.filter((n) => !(KNOWN_DROP_REASONS as readonly string[]).includes(n))).toEqual([]);
  });

  it("symbolizes the same from the file's text as from its bytes", () => {
    const bytes = readFixtureKallsymsBytes(kernel.fixture);
    const [, , location] = readFixture("probe-output.tsv", kernel.fixture).split("\t");
    expect(location).toMatch(/^0xffffffff/);
    expect(parseKallsyms(bytes.toString("utf8")).symbolize(location ?? "")).toEqual(parseKallsyms(bytes).symbolize(location ?? ""));
  });
});

describe.each([
  ["6.1", "6.1.0-57-amd64"],
  ["6.12", "6.12.118+deb13-amd64"],
])("%s's /proc/modules (captured with the probe loaded)", (family) => {
  const text = readFileSync(path.join(import.meta.dirname, "..", "fixtures", `kernel-${family}`, "proc-modules.txt"), "utf8");

  it("is read whole: the probe's module and every other module, not only the first line", () => {
    const names = parseProcModules(text);
    expect(names.size).toBe(text.trim().split("\n").length);
    expect([...names].filter((n) => /^droptrace_[0-9a-f]+_\d+$/.test(n))).toHaveLength(1);
    expect(names.has("nf_tables")).toBe(true);
  });
});

describe("the lockdown file", () => {
  it.each([
    ["[none] integrity confidentiality\n", "none"],
    ["none [integrity] confidentiality\n", "integrity"],
    ["none integrity [confidentiality]\n", "confidentiality"],
  ])("%j is read for the selected mode, wherever it stands", (text, mode) => {
    expect(lockdownMode(text)).toBe(mode);
  });
});
