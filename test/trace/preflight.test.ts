import { existsSync } from "node:fs";
import { release } from "node:os";
import { describe, expect, it } from "vitest";
import { preflight, type HostView, type PreflightReason } from "../../src/trace/preflight.js";
import { realHost } from "../../src/trace/host.js";

const RELEASE = "7.2.13+deb14-amd64";
const FORMAT = 'name: kfree_skb\nprint fmt: "x", __print_symbolic(REC->reason, { 2, "NOT_SPECIFIED" })\n';
const KALLSYMS = "ffffffffab200000 T _stext\nffffffffac2fa1e0 T udp_rcv\n";

interface FakeHost {
  uid?: number;
  files?: Record<string, string>;
  dirs?: string[];
  links?: Record<string, string>;
  commands?: Record<string, string>;
}

/** A healthy Debian node with headers and SystemTap; each test breaks one thing. */
function host(overrides: FakeHost = {}): HostView {
  const all: Record<string, string> = {
    "/proc/modules": "veth 40960 0 - Live 0xffffffffc0533000\n",
    "/proc/sys/kernel/modules_disabled": "0\n",
    "/sys/kernel/security/lockdown": "[none] integrity confidentiality\n",
    "/sys/kernel/tracing/events/skb/kfree_skb/format": FORMAT,
    "/proc/kallsyms": KALLSYMS,
    "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 13"\nID=debian\n',
    ...overrides.files,
  };
  const files = Object.fromEntries(Object.entries(all).filter(([, text]) => text !== "<missing>"));
  const dirs = overrides.dirs ?? [`/lib/modules/${RELEASE}/build`];
  const commands: Record<string, string> = {
    "staprun -V": "Systemtap module loader/runner (version 5.6/0.193, Debian version 5.6-1)",
    "stap --version": "Systemtap translator/driver (version 5.6/0.193, Debian version 5.6-1)",
    ...overrides.commands,
  };
  return {
    uid: () => overrides.uid ?? 0,
    kernelRelease: () => RELEASE,
    readText: (path) => Promise.resolve(files[path]),
    readBytes: (path) => Promise.resolve(files[path] === undefined ? undefined : Buffer.from(files[path], "utf8")),
    exists: (path) => Promise.resolve(dirs.includes(path) || path in files),
    readLink: (path) => Promise.resolve(overrides.links?.[path]),
    commandOutput: (command, args) => {
      const out = commands[[command, ...args].join(" ")];
      return Promise.resolve(out === "<missing>" ? undefined : out);
    },
  };
}

async function problems(h: HostView, needCompile = true) {
  const result = await preflight(h, { needCompile, cacheDir: "/var/cache/droptrace" });
  return result.ok ? [] : result.problems;
}

async function reasons(h: HostView, needCompile = true): Promise<PreflightReason[]> {
  return (await problems(h, needCompile)).map((p) => p.reason);
}

describe("preflight", () => {
  it("passes on a ready node and hands over what it read", async () => {
    const result = await preflight(host(), { needCompile: true, cacheDir: "/c" });
    expect(result).toMatchObject({ ok: true, facts: { kernelRelease: RELEASE, tracepointFormat: FORMAT, systemtapVersion: "5.6" } });
    expect(result.ok && result.facts.kallsyms.symbolize("0xffffffffac2fa1e4")).toEqual({ symbol: "udp_rcv+0x4", module: "kernel" });
  });

  it("refuses a non-root user and says to use sudo", async () => {
    const [p] = await problems(host({ uid: 1000 }));
    expect(p?.reason).toBe("NotRoot");
    expect(p?.message).toContain("sudo");
  });

  it("names the Debian headers package for this release, and the precompile route", async () => {
    const [p] = await problems(host({ dirs: [] }));
    expect(p?.reason).toBe("HeadersMissing");
    expect(p?.message).toContain(`apt-get install linux-headers-${RELEASE}`);
    expect(p?.message).toContain(`droptrace compile --kernel-release ${RELEASE}`);
    expect(p?.message).not.toContain("dnf");
  });

  it.each([
    ['ID="rhel"\nID_LIKE="fedora"\n', `dnf install kernel-devel-${RELEASE}`],
    ['ID="opensuse-leap"\nID_LIKE="suse opensuse"\n', "zypper install kernel-default-devel"],
    ["ID=ubuntu\nID_LIKE=debian\n", `apt-get install linux-headers-${RELEASE}`],
  ])("names the package for %j", async (osRelease, advice) => {
    const [p] = await problems(host({ dirs: [], files: { "/etc/os-release": osRelease } }));
    expect(p?.message).toContain(advice);
  });

  it("lists every distribution's package when it cannot tell which this is", async () => {
    const [p] = await problems(host({ dirs: [], files: { "/etc/os-release": "<missing>" } }));
    expect(p?.message).toContain("apt-get install");
    expect(p?.message).toContain("dnf install");
    expect(p?.message).toContain("zypper install");
  });

  it("explains a build link into an unmounted /usr/src", async () => {
    const [p] = await problems(host({ dirs: [], links: { [`/lib/modules/${RELEASE}/build`]: `/usr/src/linux-headers-${RELEASE}` } }));
    expect(p?.reason).toBe("HeadersMissing");
    expect(p?.message).toContain("mount /usr/src too");
  });

  it("needs neither headers nor stap when a compiled module is cached", async () => {
    expect(await reasons(host({ dirs: [], commands: { "stap --version": "<missing>" } }), false)).toEqual([]);
  });

  it("needs stap only to compile", async () => {
    expect(await reasons(host({ commands: { "stap --version": "<missing>" } }))).toEqual(["SystemTapMissing"]);
  });

  it("always needs staprun", async () => {
    expect(await reasons(host({ commands: { "staprun -V": "<missing>" } }), false)).toEqual(["StaprunMissing"]);
  });

  it("sees a kernel without module support, like this project's CI host", async () => {
    const [p] = await problems(host({ files: { "/proc/modules": "<missing>" } }));
    expect(p?.reason).toBe("ModulesUnsupported");
  });

  it("sees module loading switched off", async () => {
    expect(await reasons(host({ files: { "/proc/sys/kernel/modules_disabled": "1\n" } }))).toEqual(["ModulesDisabled"]);
  });

  it("sees lockdown and mentions Secure Boot", async () => {
    const [p] = await problems(host({ files: { "/sys/kernel/security/lockdown": "none [integrity] confidentiality\n" } }));
    expect(p?.reason).toBe("KernelLockdown");
    expect(p?.message).toContain('"integrity"');
    expect(p?.message).toContain("Secure Boot");
  });

  it("finds the tracepoint under debugfs when tracefs is not mounted on its own", async () => {
    const h = host({
      files: {
        "/sys/kernel/tracing/events/skb/kfree_skb/format": "<missing>",
        "/sys/kernel/debug/tracing/events/skb/kfree_skb/format": FORMAT,
      },
    });
    expect(await reasons(h)).toEqual([]);
  });

  it("says how to mount tracefs when the tracepoint is nowhere", async () => {
    const [p] = await problems(host({ files: { "/sys/kernel/tracing/events/skb/kfree_skb/format": "<missing>" } }));
    expect(p?.reason).toBe("TracepointMissing");
    expect(p?.message).toContain("mount -t tracefs");
  });

  it("sees kallsyms hidden by kptr_restrict", async () => {
    const [p] = await problems(host({ files: { "/proc/kallsyms": "0000000000000000 T _stext\n" } }));
    expect(p?.reason).toBe("KallsymsHidden");
    expect(p?.message).toContain("kptr_restrict");
  });

  it("is not fooled by per-CPU symbols at address 0 on the first lines (x86_64 lists them so, even to root)", async () => {
    const kallsyms = `0000000000000000 A fixed_percpu_data\n0000000000000000 A __per_cpu_start\n${KALLSYMS}`;
    expect(await reasons(host({ files: { "/proc/kallsyms": kallsyms } }))).toEqual([]);
  });

  it("says what is wrong with a kallsyms it cannot parse", async () => {
    const [p] = await problems(host({ files: { "/proc/kallsyms": "not kallsyms\n" } }));
    expect(p?.reason).toBe("KallsymsUnreadable");
    expect(p?.message).toMatch(/^cannot read \/proc\/kallsyms: .*line 1/);
  });

  it("names the compiler Debian's headers ask for when it is not installed, and the fix", async () => {
    const kernelVariables = "CCACHE = ccache\nCC = $(if $(DEBIAN_KERNEL_USE_CCACHE),$(CCACHE)) $(CROSS_COMPILE)gcc-12\n";
    const files = { [`/lib/modules/${RELEASE}/build/.kernelvariables`]: kernelVariables };
    const [p] = await problems(host({ files }));
    expect(p?.reason).toBe("CompilerMissing");
    expect(p?.message).toContain(`kernel ${RELEASE}`);
    expect(p?.message).toContain("its headers name the compiler gcc-12, which is not installed: `apt-get install gcc-12`");
    expect(await reasons(host({ files, commands: { "gcc-12 --version": "gcc-12 (Debian 12.5.0-11) 12.5.0" } }))).toEqual([]);
    // A cached module needs no compiler.
    expect(await reasons(host({ files }), false)).toEqual([]);
  });

  it("reports every problem, not just the first", async () => {
    expect(await reasons(host({ uid: 1000, dirs: [], commands: { "stap --version": "<missing>" } }))).toEqual([
      "NotRoot",
      "SystemTapMissing",
      "HeadersMissing",
    ]);
  });
});

describe("preflight on this machine", () => {
  it("agrees with what this host's /proc says about module loading and root", async () => {
    // The project's CI hosts run a kernel without CONFIG_MODULES: this is what a user sees there.
    const result = await preflight(realHost, { needCompile: true, cacheDir: "/nonexistent" });
    const found = result.ok ? [] : result.problems.map((p) => p.reason);
    expect(found.includes("ModulesUnsupported")).toBe(!existsSync("/proc/modules"));
    expect(found.includes("NotRoot")).toBe(process.getuid?.() !== 0);
    expect(found.includes("HeadersMissing")).toBe(!existsSync(`/lib/modules/${release()}/build`));
  });
});
