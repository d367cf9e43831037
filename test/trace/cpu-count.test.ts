import { cpus } from "node:os";
import { describe, expect, it } from "vitest";
import { onlineCpus, parseOnlineCpus } from "../../src/trace/cpu-count.js";

// The head of a 4-CPU machine's /proc/stat (a 6.12 kernel): the summary line, then one line per online CPU.
const STAT = [
  "cpu  4705 150 1120 16250 520 0 40 0 0 0",
  "cpu0 1180 40 280 4060 130 0 20 0 0 0",
  "cpu1 1175 35 281 4064 129 0 8 0 0 0",
  "cpu2 1170 38 279 4063 131 0 6 0 0 0",
  "cpu3 1180 37 280 4063 130 0 6 0 0 0",
  "intr 114250 9 0 0 0 0",
  "ctxt 230144",
  "btime 1764716640",
  "",
].join("\n");

describe("the node's online CPUs", () => {
  it("counts the per-CPU lines of /proc/stat, not its summary line", () => {
    expect(parseOnlineCpus(STAT)).toBe(4);
    expect(parseOnlineCpus("")).toBeUndefined();
  });

  it("reads the stat file under the host's /proc, which a container's CPU limit does not shrink", async () => {
    const read: string[] = [];
    const count = await onlineCpus((p) => {
      read.push(p);
      return Promise.resolve(STAT);
    }, "/host/proc");
    expect(count).toBe(4);
    expect(read).toEqual(["/host/proc/stat"]);
  });

  it("falls back on Node's count of the machine's CPUs when the file cannot be read", async () => {
    expect(await onlineCpus(() => Promise.resolve(undefined), "/proc")).toBe(Math.max(1, cpus().length));
  });
});
