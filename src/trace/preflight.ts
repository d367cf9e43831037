// Can this machine trace? Each check that fails says what is wrong and what to do about it,
// with a reason code the controller can count across nodes ("HeadersMissing" on 12 nodes).
// The checks read the host through HostView, so every message is tested without a kernel.
import { KallsymsFormatError, parseKallsyms, type KallsymsTable } from "./kallsyms.js";

export type PreflightReason =
  | "NotRoot"
  | "ModulesUnsupported"
  | "ModulesDisabled"
  | "KernelLockdown"
  | "TracepointMissing"
  | "KallsymsUnreadable"
  | "KallsymsHidden"
  | "StaprunMissing"
  | "SystemTapMissing"
  | "CompilerMissing"
  | "HeadersMissing";

export interface PreflightProblem {
  reason: PreflightReason;
  message: string;
}

export interface HostView {
  uid(): number;
  kernelRelease(): string;
  /** The file's text, or undefined when it is missing or unreadable. */
  readText(path: string): Promise<string | undefined>;
  /** The file's bytes, or undefined when it is missing or unreadable: for /proc/kallsyms, 9 MB that need never be a string. */
  readBytes(path: string): Promise<Uint8Array | undefined>;
  /** True when the path exists; a dangling symlink does not. */
  exists(path: string): Promise<boolean>;
  /** Where a symlink points, or undefined when the path is not a symlink. */
  readLink(path: string): Promise<string | undefined>;
  /** The command's stdout when it runs and exits 0, else undefined. */
  commandOutput(command: string, args: readonly string[]): Promise<string | undefined>;
}

export interface PreflightPaths {
  modulesDir: string;
  tracingDirs: readonly string[];
  kallsyms: string;
  osRelease: string;
}

const DEFAULT_PATHS: PreflightPaths = {
  modulesDir: "/lib/modules",
  tracingDirs: ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"],
  kallsyms: "/proc/kallsyms",
  osRelease: "/etc/os-release",
};

export interface PreflightFacts {
  kernelRelease: string;
  /** The kfree_skb tracepoint's format file, for reason names. */
  tracepointFormat: string;
  /** /proc/kallsyms, parsed: the table rows are symbolized with. */
  kallsyms: KallsymsTable;
  /** `stap --version`'s version, when stap was needed and found. */
  systemtapVersion?: string;
}

export type PreflightResult = { ok: true; facts: PreflightFacts } | { ok: false; kernelRelease: string; problems: PreflightProblem[] };

export interface PreflightOptions {
  /** True when no compiled module for this kernel is in the cache, so stap and headers are needed. */
  needCompile: boolean;
  /** The cache directory, named in the advice to precompile. */
  cacheDir: string;
  /** The trace wants the module with the stacks handler: the advice to precompile says so. */
  stacks?: boolean;
  paths?: PreflightPaths;
}

const TRACEPOINT = "events/skb/kfree_skb/format";

export async function preflight(host: HostView, options: PreflightOptions): Promise<PreflightResult> {
  const paths = options.paths ?? DEFAULT_PATHS;
  const release = host.kernelRelease();
  const problems: PreflightProblem[] = [];

  if (host.uid() !== 0) {
    problems.push({
      reason: "NotRoot",
      message: "loading a kernel module needs root: run droptrace with sudo (in a cluster the agent pod is privileged)",
    });
  }
  problems.push(...(await moduleLoadingProblems(host)));

  let tracepointFormat: string | undefined;
  for (const dir of paths.tracingDirs) {
    tracepointFormat ??= await host.readText(`${dir}/${TRACEPOINT}`);
  }
  if (tracepointFormat === undefined) {
    problems.push({
      reason: "TracepointMissing",
      message:
        `cannot read the skb:kfree_skb tracepoint (${paths.tracingDirs.map((d) => `${d}/${TRACEPOINT}`).join(" or ")}): ` +
        "mount tracefs with `mount -t tracefs nodev /sys/kernel/tracing` (in a pod, mount the host's /sys/kernel/tracing)",
    });
  }

  const kallsyms = await readKallsyms(host, paths.kallsyms);
  if ("problem" in kallsyms) problems.push(kallsyms.problem);

  if ((await host.commandOutput("staprun", ["-V"])) === undefined) {
    problems.push({
      reason: "StaprunMissing",
      message: `staprun (SystemTap's module loader) is not installed: ${await installAdvice(host, paths, "systemtap-runtime")}`,
    });
  }

  let systemtapVersion: string | undefined;
  if (options.needCompile) {
    const compiling = await compileProblems(host, paths, release, options.cacheDir, options.stacks === true);
    problems.push(...compiling.problems);
    systemtapVersion = compiling.systemtapVersion;
  }

  if (problems.length > 0 || tracepointFormat === undefined || !("table" in kallsyms)) {
    return { ok: false, kernelRelease: release, problems };
  }
  return {
    ok: true,
    facts: { kernelRelease: release, tracepointFormat, kallsyms: kallsyms.table, ...(systemtapVersion === undefined ? {} : { systemtapVersion }) },
  };
}

/**
 * The symbol table, or why there is none. Whether the kernel hides addresses is decided by the
 * parser from every code symbol (KallsymsTable.addressesHidden), the one place that decides it.
 */
async function readKallsyms(host: HostView, file: string): Promise<{ table: KallsymsTable } | { problem: PreflightProblem }> {
  const bytes = await host.readBytes(file);
  if (bytes === undefined || bytes.length === 0) {
    return { problem: { reason: "KallsymsUnreadable", message: `cannot read ${file}: mount /proc, and run as root` } };
  }
  let table: KallsymsTable;
  try {
    table = parseKallsyms(bytes);
  } catch (err) {
    if (!(err instanceof KallsymsFormatError)) throw err;
    return { problem: { reason: "KallsymsUnreadable", message: `cannot read ${file}: ${err.message}` } };
  }
  if (table.addressesHidden) {
    return {
      problem: {
        reason: "KallsymsHidden",
        message: `${file} shows every address as 0: run as root (CAP_SYSLOG) or set the sysctl kernel.kptr_restrict to 0 or 1`,
      },
    };
  }
  return { table };
}

async function moduleLoadingProblems(host: HostView): Promise<PreflightProblem[]> {
  if ((await host.readText("/proc/modules")) === undefined) {
    return [
      {
        reason: "ModulesUnsupported",
        message:
          "this kernel cannot load modules (no /proc/modules: built without CONFIG_MODULES), and SystemTap's probe is a module: trace on a node with a distribution kernel",
      },
    ];
  }
  const problems: PreflightProblem[] = [];
  if ((await host.readText("/proc/sys/kernel/modules_disabled"))?.trim() === "1") {
    problems.push({
      reason: "ModulesDisabled",
      message: "module loading is switched off until the next boot (sysctl kernel.modules_disabled=1): reboot the node without that setting",
    });
  }
  const lockdown = lockdownMode((await host.readText("/sys/kernel/security/lockdown")) ?? "");
  if (lockdown !== undefined && lockdown !== "none") {
    problems.push({
      reason: "KernelLockdown",
      message:
        `kernel lockdown is "${lockdown}" (Secure Boot usually turns it on), so the kernel refuses unsigned modules: ` +
        "enroll a Machine Owner Key and sign the probe module with it, or trace on nodes without Secure Boot",
    });
  }
  return problems;
}

async function compileProblems(
  host: HostView,
  paths: PreflightPaths,
  release: string,
  cacheDir: string,
  stacks: boolean,
): Promise<{ problems: PreflightProblem[]; systemtapVersion?: string }> {
  const problems: PreflightProblem[] = [];
  const precompile = `or compile the probe for this kernel elsewhere: \`droptrace compile --kernel-release ${release}${stacks ? " --stacks" : ""} --cache-dir DIR\`, then copy DIR's contents to ${cacheDir}`;

  const versionText = await host.commandOutput("stap", ["--version"]);
  const systemtapVersion = versionText === undefined ? undefined : /version ([0-9][^\s/),]*)/.exec(versionText)?.[1];
  if (versionText === undefined) {
    problems.push({
      reason: "SystemTapMissing",
      message: `no probe module for kernel ${release} in ${cacheDir}, and stap is not installed to compile one: ${await installAdvice(host, paths, "systemtap")}, ${precompile}`,
    });
  }

  const build = `${paths.modulesDir}/${release}/build`;
  if (!(await host.exists(build))) {
    const target = await host.readLink(build);
    const why = target === undefined ? `no kernel headers at ${build}` : `${build} points to ${target}, which is not there (mount /usr/src too)`;
    problems.push({
      reason: "HeadersMissing",
      message: `no probe module for kernel ${release} in ${cacheDir}, and ${why}: ${await headersAdvice(host, paths, release)}, ${precompile}`,
    });
  } else {
    // Debian's headers name the exact compiler their kernel was built with; without it stap
    // stops in pass 2 with a bare "semantic error: no match" that names nothing.
    const compiler = headersCompiler((await host.readText(`${build}/.kernelvariables`)) ?? "");
    if (compiler !== undefined && (await host.commandOutput(compiler, ["--version"])) === undefined) {
      problems.push({
        reason: "CompilerMissing",
        message: `no probe module for kernel ${release} in ${cacheDir}, and its headers name the compiler ${compiler}, which is not installed: ${await installAdvice(host, paths, compiler)} (the agent image carries gcc-12, gcc-14 and gcc-16), ${precompile}`,
      });
    }
  }
  return systemtapVersion === undefined ? { problems } : { problems, systemtapVersion };
}

/** The compiler Debian's kernel headers name in .kernelvariables (`CC = ... gcc-12`), if they name one. */
export function headersCompiler(kernelVariables: string): string | undefined {
  return /^CC\s*=.*?\b((?:[\w-]+-)?gcc-\d+)\s*$/m.exec(kernelVariables)?.[1];
}

/** The selected mode of /sys/kernel/security/lockdown ("[none] integrity confidentiality"): the bracketed one. */
export function lockdownMode(text: string): string | undefined {
  return /\[(\w+)\]/.exec(text)?.[1];
}

type Family = "debian" | "rhel" | "suse";

async function distroFamily(host: HostView, paths: PreflightPaths): Promise<Family | undefined> {
  const text = await host.readText(paths.osRelease);
  if (text === undefined) return undefined;
  const ids = [...text.matchAll(/^(?:ID|ID_LIKE)="?([^"\n]*)"?$/gm)].flatMap((m) => (m[1] ?? "").split(/\s+/));
  if (ids.some((id) => id === "debian" || id === "ubuntu")) return "debian";
  if (ids.some((id) => ["rhel", "fedora", "centos", "rocky", "almalinux", "amzn"].includes(id))) return "rhel";
  if (ids.some((id) => id.startsWith("suse") || id.startsWith("opensuse") || id === "sles")) return "suse";
  return undefined;
}

async function headersAdvice(host: HostView, paths: PreflightPaths, release: string): Promise<string> {
  const byFamily: Record<Family, string> = {
    debian: `\`apt-get install linux-headers-${release}\` (Debian, Ubuntu)`,
    rhel: `\`dnf install kernel-devel-${release}\` (RHEL, Fedora, Amazon Linux)`,
    suse: "`zypper install kernel-default-devel` matching the running kernel (SUSE)",
  };
  const family = await distroFamily(host, paths);
  if (family !== undefined) return `install the headers on the node: ${byFamily[family]}`;
  return `install the headers on the node: ${Object.values(byFamily).join("; ")}`;
}

async function installAdvice(host: HostView, paths: PreflightPaths, packageName: string): Promise<string> {
  const family = await distroFamily(host, paths);
  if (family === "debian") return `\`apt-get install ${packageName}\``;
  if (family === "rhel") return `\`dnf install ${packageName}\``;
  if (family === "suse") return "`zypper install systemtap`";
  return "install SystemTap (the agent image carries it)";
}
