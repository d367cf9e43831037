// The real probe output of fixtures/kernel-7.2-udp-neigh (shared/ beside the repository).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { NO_INTERFACE } from "../../src/probe/output.js";

const repoRoot = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** The real kernels the shared fixtures were captured on, each from one boot. */
export type KernelFixture = "kernel-7.2-udp-neigh" | "kernel-6.12-udp" | "kernel-6.1-udp";

function fixturePath(name: string, fixture: KernelFixture = "kernel-7.2-udp-neigh"): string {
  const fixtureDir = path.resolve(repoRoot, "../shared/fixtures", fixture);
  // A missing fixture must fail the suite: skipping would make these tests pass without testing.
  if (!existsSync(fixtureDir)) {
    throw new Error(
      `fixture directory ${fixtureDir} is missing: clone the shared fixtures so that shared/ sits beside ` +
        `the repository (${path.dirname(repoRoot)}/shared)`,
    );
  }
  const file = path.join(fixtureDir, name);
  if (!existsSync(file)) throw new Error(`fixture file ${file} is missing`);
  return file;
}

export function readFixture(name: string, fixture?: KernelFixture): string {
  return readFileSync(fixturePath(name, fixture), "utf8");
}

/** The fixture's /proc/kallsyms as the kernel gave it: bytes, as the agent reads it. */
export function readFixtureKallsymsBytes(fixture?: KernelFixture): Buffer {
  return gunzipSync(readFileSync(fixturePath("kallsyms.txt.gz", fixture)));
}

export function readFixtureKallsyms(fixture?: KernelFixture): string {
  return readFixtureKallsymsBytes(fixture).toString("utf8");
}

/**
 * stap-output.tsv in droptrace's probe protocol. The fixture's older probe printed
 * `count, symname, loc, interface, module, reason` with no interval markers and no netns, so:
 * netns is 0 (unknown), a device-less "unknown" interface becomes "-", and an interval ends
 * where a (location, interface, reason) key comes back, since one interval prints each key once.
 */
export function fixtureProbeOutput(): string {
  const lines: string[] = [];
  let seq = 0;
  let keysThisInterval = new Set<string>();
  const endInterval = (): void => {
    seq += 1;
    lines.push(`I\t${seq}\t${keysThisInterval.size}\t0`);
    keysThisInterval = new Set();
  };
  for (const tsvLine of readFixture("stap-output.tsv").split("\n")) {
    if (tsvLine === "") continue;
    const [count, , location, device, , reason] = tsvLine.split("\t");
    if (count === undefined || location === undefined || device === undefined || reason === undefined) {
      throw new Error(`stap-output.tsv line has fewer than 6 fields: ${JSON.stringify(tsvLine)}`);
    }
    const iface = device === "unknown" ? NO_INTERFACE : device;
    const key = `${location}\t${iface}\t${reason}`;
    if (keysThisInterval.has(key)) endInterval();
    keysThisInterval.add(key);
    lines.push(`R\t${count}\t${location}\t${iface}\t0\t${reason}`);
  }
  endInterval();
  lines.push(`E\t${seq}`);
  return `${lines.join("\n")}\n`;
}
