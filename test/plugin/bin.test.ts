// kubectl-droptrace as a user gets it: the package's second executable, with --help on every
// subcommand giving examples and exit codes, as kubectl plugins do.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repoRoot, "dist", "src", "plugin", "main.js");

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build\` first (npm test does)`);
});

const plugin = (...args: string[]) => execa("node", [bin, ...args], { reject: false });

describe("kubectl-droptrace", () => {
  it("is the package's second executable, beside droptrace, so `npm install -g` puts both on PATH", () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ droptrace: "dist/src/cli/main.js", "kubectl-droptrace": "dist/src/plugin/main.js" });
    expect(readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
  });

  it("lists its subcommands and its exit codes", async () => {
    const result = await plugin("--help");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Usage: kubectl droptrace \[options\] \[command\]/);
    for (const command of ["trace [options] [NAME]", "get [options] <NAME>", "diff [options] <A> <B>", "nodes [options] <NAME>"])
      expect(result.stdout).toContain(command);
    for (const code of ["0 ", "1 ", "2 ", "4 ", "130 "]) expect(result.stdout).toContain(`\n  ${code}`);
  });

  it.each(["trace", "get", "diff", "nodes"])("answers %s --help with its flags, examples and exit codes", async (command) => {
    const result = await plugin(command, "--help");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`Usage: kubectl droptrace ${command} `);
    expect(result.stdout).toContain("-o, --output <format>");
    expect(result.stdout).toContain("--kubeconfig <file>");
    expect(result.stdout).toContain("--context <name>");
    expect(result.stdout).toContain("\nExamples:\n");
    expect(result.stdout).toContain("\nExit codes:\n");
  });

  it("exits 2 for a flag it does not know", async () => {
    const result = await plugin("get", "x", "--no-such-flag");
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("unknown option '--no-such-flag'");
  });
});
