// The project's own probe and `droptrace run` on a real Linux kernel with real SystemTap, in a
// QEMU guest, counting drops made on purpose (see guest-droptrace-cases.sh for what is sent).
// The kernel's own traffic may add rows and counts, never remove them: counts are "at least".
// Every drop is accounted for: in a row, or in uncountedDrops when SystemTap skipped a probe hit
// (it does, rarely, on a host this loaded); so a row holds at least what was sent less those.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { DropTraceReportStatusSchema, type DropTraceReportStatus, type ReportRow } from "../../src/api/report.js";

const here = import.meta.dirname;
const out = process.env["DROPTRACE_KERNEL_OUT"] ?? mkdtempSync(path.join(tmpdir(), "droptrace-kernel-"));
const guest = (file: string) => path.join(out, "guest", file);
const text = (file: string) => readFileSync(guest(file), "utf8");
const report = (name: string): DropTraceReportStatus => DropTraceReportStatusSchema.parse(JSON.parse(text(`${name}.json`)));

let netns: Record<string, number>;
const ns = (name: string): number => {
  const inum = netns[name];
  if (inum === undefined) throw new Error(`no inode recorded for netns ${name}`);
  return inum;
};
let release: string;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the real-kernel suite needs root (debootstrap, chroot, mount, QEMU)");
  const run = await execa(path.join(here, "run-droptrace-cases.sh"), [out], { reject: false, stdout: "inherit", stderr: "inherit" });
  if (run.exitCode !== 0) {
    throw new Error(
      `the real-kernel run failed (exit ${run.exitCode}); everything it left is in ${out}. ` +
        "If the Debian archive was unreachable, no guest could be built: this suite cannot pass without one.",
    );
  }
  netns = Object.fromEntries(
    text("netns-inums.txt")
      .trim()
      .split("\n")
      .map((line) => {
        const [name, inum] = line.split(" ");
        return [name ?? "", Number(inum)];
      }),
  );
  release = text("uname-r.txt").trim();
});

/** At least `sent`, less the drops this report says it could not attribute to a row. */
function atLeast(status: DropTraceReportStatus, sent: number): number {
  return sent - status.uncountedDrops;
}

function row(status: DropTraceReportStatus, match: Partial<ReportRow>): ReportRow {
  const found = status.rows.filter((r) => Object.entries(match).every(([k, v]) => r[k as keyof ReportRow] === v));
  expect(found, `one row ${JSON.stringify(match)} in ${JSON.stringify(status.rows, null, 1)}`).toHaveLength(1);
  return found[0] as ReportRow;
}

describe("case 1: every scenario counted, named and placed", () => {
  it("traced to the end and loaded the module compiled on the host", () => {
    const status = report("scenarios");
    expect(text("scenarios.rc").trim()).toBe("0");
    expect(status.phase).toBe("Completed");
    expect(status.kernelRelease).toBe(release);
    expect(status.probe).toMatchObject({ cacheHit: true, compileSeconds: 0 });
    // Skipped probe hits are counted, not lost, and rare: at most 1% of the drops.
    expect(status.uncountedDrops).toBeLessThanOrEqual(Math.ceil(status.totalDrops / 100));
  });

  it("counts UDP to a closed port on lo as NO_SOCKET in the core kernel", () => {
    const status = report("scenarios");
    const r = row(status, { interface: "lo", reason: "NO_SOCKET", netns: ns("root") });
    expect(r.count).toBeGreaterThanOrEqual(atLeast(status, 300));
    expect(r.module).toBe("kernel");
    expect(r.symbol).toMatch(/^udp_rcv\+0x[0-9a-f]+$/);
  });

  it("counts the firewall drop on the veth at nft_do_chain in the nf_tables module", () => {
    const status = report("scenarios");
    const r = row(status, { interface: "vb", reason: "NETFILTER_DROP" });
    expect(r.count).toBeGreaterThanOrEqual(atLeast(status, 120));
    expect(r.module).toBe("nf_tables");
    expect(r.symbol).toMatch(/^nft_do_chain\+0x[0-9a-f]+$/);
    expect(r.netns).toBe(ns("b"));
  });

  it("counts the datagrams to a closed port behind the veth as NO_SOCKET in netns b", () => {
    const status = report("scenarios");
    const r = row(status, { interface: "vb", reason: "NO_SOCKET" });
    expect(r.count).toBeGreaterThanOrEqual(atLeast(status, 70));
    expect(r.netns).toBe(ns("b"));
  });

  it("counts failed neighbour resolution on the near end as NEIGH_FAILED", () => {
    const status = report("scenarios");
    const r = row(status, { interface: "va", reason: "NEIGH_FAILED" });
    expect(r.count).toBeGreaterThanOrEqual(atLeast(status, 40));
    expect(r.netns).toBe(ns("a"));
    expect(r.symbol).toMatch(/^neigh_invalidate\+0x[0-9a-f]+$/);
    expect(r.class).toBe("fault");
  });

  it("keeps eth0 in two namespaces as two rows", () => {
    const status = report("scenarios");
    expect(row(status, { interface: "eth0", reason: "NO_SOCKET", netns: ns("c") }).count).toBeGreaterThanOrEqual(atLeast(status, 30));
    expect(row(status, { interface: "eth0", reason: "NO_SOCKET", netns: ns("d") }).count).toBeGreaterThanOrEqual(atLeast(status, 20));
    expect(ns("c")).not.toBe(ns("d"));
  });

  it("names every symbol and reason: no bare addresses, no unknown numbers, no unexplained reasons", () => {
    for (const r of report("scenarios").rows) {
      expect(r.symbol, JSON.stringify(r)).not.toMatch(/^0x/);
      expect(r.reason, JSON.stringify(r)).not.toMatch(/^UNKNOWN_/);
      // Every reason this kernel drops with has an explanation.
      expect(r.class, JSON.stringify(r)).not.toBe("unknown");
    }
  });

  it("sums rows to the total", () => {
    const status = report("scenarios");
    expect(status.rows.reduce((sum, r) => sum + r.count, 0) + status.otherDrops).toBe(status.totalDrops);
  });

  it("leaves no module of the project's loaded once it stops", () => {
    expect(text("scenarios.modules-after")).toBe("");
  });
});

describe("case 2: agents killed mid-trace, then started again", () => {
  const moduleOf = (file: string) => text(file).split(" ")[0] ?? "";

  it("killing only the agent leaves its loader (stapio) running and the module loaded", () => {
    expect(text("killed.modules-after-kill")).toMatch(/^droptrace_[0-9a-f]+_\d+ /);
    expect(text("killed.orphans")).toMatch(/stapio/);
  });

  it("the next run stops that orphan and removes its module before loading its own", () => {
    const running = text("orphan-cleared.modules-running").trim().split("\n");
    expect(running).toHaveLength(1);
    expect(running[0]?.split(" ")[0]).not.toBe(moduleOf("killed.modules-after-kill"));
    expect(text("group-killed.orphans")).not.toContain(moduleOf("killed.modules-after-kill"));
  });

  it("killing the whole process group, as a container runtime does, leaves the module with nothing attached", () => {
    expect(text("group-killed.modules-after-kill")).toMatch(/^droptrace_[0-9a-f]+_\d+ /);
    expect(text("group-killed.orphans")).toBe("");
  });

  it("the run after that removes the leftover, says so, and counts correctly", () => {
    const status = report("restarted");
    expect(text("restarted.rc").trim()).toBe("0");
    expect(status.phase).toBe("Completed");
    expect(status.message).toContain(`removed module ${moduleOf("group-killed.modules-after-kill")}`);
    expect(row(status, { interface: "lo", reason: "NO_SOCKET", netns: ns("root") }).count).toBeGreaterThanOrEqual(atLeast(status, 50));
    expect(text("restarted.modules-after")).toBe("");
  });
});

describe("case 3: filters keep exactly what they name", () => {
  it("only lo and vb*, only NO_SOCKET", () => {
    const status = report("filtered");
    expect(status.phase).toBe("Completed");
    for (const r of status.rows) {
      expect(r.interface === "lo" || r.interface.startsWith("vb"), JSON.stringify(r)).toBe(true);
      expect(r.reason).toBe("NO_SOCKET");
    }
    expect(row(status, { interface: "lo" }).count).toBeGreaterThanOrEqual(atLeast(status, 30));
    expect(row(status, { interface: "vb" }).count).toBeGreaterThanOrEqual(atLeast(status, 20));
  });
});

describe("case 4: no compiled module and no compiler", () => {
  it("exits 3 and says to compile for this kernel release", () => {
    expect(text("nocache.rc").trim()).toBe("3");
    expect(text("nocache.err")).toContain(`droptrace compile --kernel-release ${release}`);
    expect(report("nocache")).toMatchObject({ phase: "Failed", reason: "SystemTapMissing" });
  });
});

describe("timings", () => {
  it("prints them", () => {
    const host = new Map(
      readFileSync(path.join(out, "host-timings.txt"), "utf8")
        .trim()
        .split("\n")
        .map((l) => l.split("=") as [string, string]),
    );
    const started = Number(text("scenarios.started"));
    const firstRow = Number(
      text("scenarios.err")
        .split("\n")
        .find((l) => l.includes("tracing:"))
        ?.split(" ")[0],
    );
    const lines = [
      `guest tree (build or cache):   ${host.get("tree_seconds")} s`,
      `cold compile (droptrace cache empty): ${host.get("compile_cold_seconds")} s`,
      `warm compile (cache hit):      ${host.get("compile_warm_seconds")} s`,
      `agent start to first row (guest, emulated): ${(firstRow - started).toFixed(1)} s`,
      `guest boot to power-off:       ${host.get("guest_seconds")} s`,
      `whole run:                     ${host.get("total_seconds")} s`,
    ];
    console.log(`\nreal-kernel timings (${release}):\n  ${lines.join("\n  ")}`);
    expect(existsSync(guest("scenarios.json"))).toBe(true);
  });
});
