// The module cache hands staprun only a module built for the running kernel: the directory and
// the record beside the module say so, and so must the module itself (its vermagic, what the
// kernel checks), so a module copied under the wrong release is never loaded there.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findModuleForKernel, moduleKernelRelease, storeModule, type ModuleKey } from "../../src/probe/cache.js";

/** A module as stap builds it, reduced to what matters here: the .modinfo strings. */
const ko = (release: string) => Buffer.from(`\x7fELF...\0license=GPL\0vermagic=${release} SMP preempt mod_unload modversions \0name=droptrace_x\0`, "latin1");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "droptrace-cache-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function store(key: ModuleKey, builtFor: string) {
  const built = path.join(dir, "built.ko");
  writeFileSync(built, ko(builtFor));
  return storeModule(path.join(dir, "cache"), key, built, 1);
}

describe("a module's own kernel release (vermagic)", () => {
  it("is the first word of its vermagic", () => {
    expect(moduleKernelRelease(ko("6.12.118+deb13-amd64"))).toBe("6.12.118+deb13-amd64");
    expect(moduleKernelRelease(Buffer.from("not a module"))).toBeUndefined();
  });
});

describe("the cache", () => {
  const key = (kernelRelease: string): ModuleKey => ({ kernelRelease, probeHash: "p1", systemtapVersion: "5.6/0.196" });

  it("finds a module built for the running kernel", async () => {
    await store(key("6.1.0-57-amd64"), "6.1.0-57-amd64");
    expect(await findModuleForKernel(path.join(dir, "cache"), "6.1.0-57-amd64", "p1", undefined)).toBeDefined();
  });

  it("never hands over another kernel's module, even one filed under this release", async () => {
    // Built for 7.2, filed (by hand, or a bad copy) under 6.12: the record says 6.12, the module does not.
    await store(key("6.12.118+deb13-amd64"), "7.2.13+deb14-amd64");
    expect(await findModuleForKernel(path.join(dir, "cache"), "6.12.118+deb13-amd64", "p1", undefined)).toBeUndefined();
    expect(await findModuleForKernel(path.join(dir, "cache"), "6.12.118+deb13-amd64", "p1", "5.6/0.196")).toBeUndefined();
  });

  it("holds every kernel's module side by side, each found for its own kernel only", async () => {
    for (const r of ["6.1.0-57-amd64", "6.12.118+deb13-amd64", "7.2.13+deb14-amd64"]) await store(key(r), r);
    mkdirSync(path.join(dir, "cache", "loaded"), { recursive: true });
    for (const r of ["6.1.0-57-amd64", "6.12.118+deb13-amd64", "7.2.13+deb14-amd64"]) {
      const found = await findModuleForKernel(path.join(dir, "cache"), r, "p1", undefined);
      expect(found?.meta.kernelRelease).toBe(r);
    }
    expect(await findModuleForKernel(path.join(dir, "cache"), "6.6.0-1-amd64", "p1", undefined)).toBeUndefined();
  });
});
