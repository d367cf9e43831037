// What SystemTap's messages mean for a user. staprun and the module write errors to
// stderr; each known text maps to a reason code and advice. The texts are SystemTap's
// own (see test/fixtures/kernel-guest for the ones captured on a real kernel).
import { REASON } from "../api/conditions.js";

export type ProbeFailureReason = "ModuleRejected" | "ModuleInUse" | typeof REASON.probeOverload | "ProbeError" | "ProbeExited" | "ProbeKilled";

/**
 * SystemTap's own overload stop (its STP_OVERLOAD check, in the code translate.cxx generates
 * around every handler): `ERROR: probe overhead (1504130 cycles) exceeded threshold (200000 cycles)
 * in last 1000000 cycles` from SystemTap 5 (test/fixtures/kernel-guest/dt_overload.err, on 5.6),
 * `ERROR: probe overhead exceeded threshold` from older ones.
 */
const SYSTEMTAP_OVERLOAD = /probe overhead(?: \((\d+) cycles\))? exceeded threshold(?: \((\d+) cycles\) in last (\d+) cycles)?/;

export interface ProbeFailure {
  reason: ProbeFailureReason;
  message: string;
}

const RULES: { pattern: RegExp; reason: ProbeFailureReason; advice: string }[] = [
  {
    pattern: /Required key not available|Key was rejected|module verification failed|Lockdown/i,
    reason: "ModuleRejected",
    advice: "the kernel refuses unsigned modules (Secure Boot or lockdown): sign the module with an enrolled key, or trace on nodes without Secure Boot",
  },
  {
    pattern: /(?:Couldn't insert module|Error inserting module|init_module).*(?:Operation not permitted|Permission denied)/i,
    reason: "ModuleRejected",
    advice: "the kernel did not let the module load: run as root with CAP_SYS_MODULE, and check sysctl kernel.modules_disabled",
  },
  {
    pattern: /(?:Couldn't insert module|Error inserting module).*File exists|already loaded/i,
    reason: "ModuleInUse",
    advice: "a module of the same name is loaded: remove it with `staprun -d NAME` or `rmmod NAME`",
  },
  {
    pattern: SYSTEMTAP_OVERLOAD,
    reason: REASON.probeOverload,
    advice: "SystemTap stopped the probe because it used too much CPU on this node: filter by interface or reason, or trace when the node is less busy",
  },
  {
    pattern: /^ERROR:|^semantic error|MAXACTION|MAXMAPENTRIES/m,
    reason: "ProbeError",
    advice: "the probe stopped on an error",
  },
];

const TAIL_LINES = 10;

export function tail(text: string, lines = TAIL_LINES): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Why a probe run failed, from its stderr; `fallback` when no known text is there. */
export function classifyProbeFailure(stderr: string, fallback: ProbeFailure): ProbeFailure {
  const rule = RULES.find((r) => r.pattern.test(stderr));
  if (rule === undefined) return stderr.trim() === "" ? fallback : { ...fallback, message: `${fallback.message}; SystemTap said:\n${tail(stderr)}` };
  return { reason: rule.reason, message: `${rule.advice}. SystemTap said:\n${tail(stderr)}` };
}

/** "WARNING: Number of errors: 0, skipped probes: 12": drops the probe never saw. */
export function skippedProbes(stderr: string): number {
  const match = /skipped probes: (\d+)/.exec(stderr);
  return match ? Number.parseInt(match[1] ?? "0", 10) : 0;
}

/** What SystemTap's overload stop measured, from its stderr: cycles in its handlers of the last `interval` cycles on one CPU; undefined when it did not stop for that, {} when it did without saying the numbers. */
export function systemTapOverload(stderr: string): { cycles?: number; threshold?: number; interval?: number } | undefined {
  const match = SYSTEMTAP_OVERLOAD.exec(stderr);
  if (match === null) return undefined;
  const [, cycles, threshold, interval] = match;
  if (cycles === undefined || threshold === undefined || interval === undefined) return {};
  return { cycles: Number(cycles), threshold: Number(threshold), interval: Number(interval) };
}
