// The built binary as a user runs it: a real process, real exit codes.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";

const bin = path.resolve(import.meta.dirname, "../../dist/src/cli/main.js");

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` first (npm test does)`);
});

const droptrace = (...args: string[]) => execa("node", [bin, ...args], { reject: false });

describe("the droptrace binary", () => {
  it("lists its subcommands", async () => {
    const result = await droptrace("--help");
    expect(result.exitCode).toBe(0);
    for (const command of ["controller", "agent", "run", "compile"]) expect(result.stdout).toContain(command);
  });

  it("exits 2 with the flag's name for hostile input", async () => {
    const result = await droptrace("run", "--interface", 'eth0"; system("reboot")');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("--interface:");
  });

  it("prints the version package.json declares", async () => {
    const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
    const result = await droptrace("--version");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(pkg.version);
  });
});

describe("the agent outside a DaemonSet", () => {
  it("exits 2 and names the variables the DaemonSet sets", async () => {
    const result = await execa("node", [bin, "agent"], { reject: false, env: { NODE_NAME: "" }, extendEnv: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("DROPTRACE_TRACE, DROPTRACE_TRACE_UID, NODE_NAME, DROPTRACE_DURATION not set");
  });
});

describe("the controller without its settings", () => {
  it("exits 2 and names what is missing", async () => {
    const result = await execa("node", [bin, "controller"], { reject: false, env: { PATH: process.env["PATH"] ?? "" }, extendEnv: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("POD_NAMESPACE");
    expect(result.stderr).toContain("DROPTRACE_AGENT_IMAGE");
  });
});
