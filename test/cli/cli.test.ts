import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { main, type Actions } from "../../src/cli/main.js";
import type { RunSettings } from "../../src/cli/run-options.js";

function recordingActions() {
  const runs: RunSettings[] = [];
  const compiles: { kernelRelease: string; cacheDir: string }[] = [];
  const actions: Actions = {
    controller: () => Promise.resolve(0),
    agent: () => Promise.resolve(0),
    run: (settings) => {
      runs.push(settings);
      return Promise.resolve(0);
    },
    compile: (opts) => {
      compiles.push(opts);
      return Promise.resolve(0);
    },
  };
  return { actions, runs, compiles };
}

let stderr: string;
let stdout: string;
beforeEach(() => {
  stderr = "";
  stdout = "";
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("droptrace CLI", () => {
  it.each(["controller", "agent", "run", "compile"])("prints help for %s and exits 0", async (command) => {
    expect(await main([command, "--help"], recordingActions().actions)).toBe(0);
    expect(stdout).toContain(`Usage: droptrace ${command}`);
  });

  it("passes validated run settings with defaults", async () => {
    const { actions, runs } = recordingActions();
    expect(await main(["run"], actions)).toBe(0);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ durationSeconds: 60, intervalSeconds: 10, output: "table" });
  });

  it("collects repeated --interface and --reason into the filter", async () => {
    const { actions, runs } = recordingActions();
    const code = await main(
      ["run", "--duration", "30s", "--interval", "5s", "--interface", "eth0", "--interface", "cali*", "--reason", "NO_SOCKET", "--output", "json"],
      actions,
    );
    expect(code).toBe(0);
    expect(runs[0]?.spec.filter).toEqual({ interfaces: ["eth0", "cali*"], reasons: ["NO_SOCKET"] });
    expect(runs[0]).toMatchObject({ durationSeconds: 30, intervalSeconds: 5, output: "json" });
  });

  it("follows a short duration with the interval", async () => {
    const { actions, runs } = recordingActions();
    expect(await main(["run", "--duration", "7s"], actions)).toBe(0);
    expect(runs[0]?.intervalSeconds).toBe(7);
  });

  it.each([
    [["run", "--interface", "eth0;reboot"], "--interface: an interface is a Linux interface name"],
    [["run", "--interface", "$(id)"], "--interface"],
    [["run", "--duration", "4s"], "--duration: duration must be between 5s and 24h"],
    [["run", "--duration", "1.5h"], "--duration: duration must be whole hours"],
    [["run", "--duration", "10s", "--interval", "20s"], "--interval: reportInterval must not be longer than duration"],
    [["run", "--reason", "no_socket"], "--reason"],
    [["run", "--output", "yaml"], '--output must be "table" or "json"'],
  ])("refuses %j with exit 2 and says which flag", async (argv, message) => {
    const { actions, runs } = recordingActions();
    expect(await main(argv, actions)).toBe(2);
    expect(stderr).toContain(message);
    expect(runs).toHaveLength(0);
  });

  it("exits 2 on an unknown flag or command", async () => {
    expect(await main(["run", "--bogus"], recordingActions().actions)).toBe(2);
    expect(stderr).toContain("unknown option '--bogus'");
    expect(await main(["frobnicate"], recordingActions().actions)).toBe(2);
  });

  it("requires --kernel-release for compile", async () => {
    const { actions, compiles } = recordingActions();
    expect(await main(["compile"], actions)).toBe(2);
    expect(stderr).toContain("--kernel-release");
    expect(await main(["compile", "--kernel-release", "7.2.13+deb14-amd64", "--cache-dir", "/tmp/c"], actions)).toBe(0);
    expect(compiles).toEqual([{ kernelRelease: "7.2.13+deb14-amd64", cacheDir: "/tmp/c" }]);
  });
});
