// The real machine as preflight sees it.
import { readFile, readlink, stat } from "node:fs/promises";
import { release } from "node:os";
import { execa } from "execa";
import type { HostView } from "./preflight.js";

export const realHost: HostView = {
  uid: () => process.getuid?.() ?? -1,
  kernelRelease: () => release(),
  readText: async (path) => {
    try {
      return await readFile(path, "utf8");
    } catch {
      return undefined;
    }
  },
  readBytes: async (path) => {
    try {
      return await readFile(path);
    } catch {
      return undefined;
    }
  },
  exists: async (path) => {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  },
  readLink: async (path) => {
    try {
      return await readlink(path);
    } catch {
      return undefined;
    }
  },
  commandOutput: async (command, args) => {
    const result = await execa(command, args, { reject: false, timeout: 10_000, stdin: "ignore" });
    return result.exitCode === 0 ? `${result.stdout}\n${result.stderr}` : undefined;
  },
};
