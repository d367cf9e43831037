// Compiled probe modules, kept per kernel so a node compiles at most once per
// (kernel release, probe source, SystemTap version), and a node without a compiler
// can load a module someone compiled elsewhere (`droptrace compile`).
//
//   <cacheDir>/<kernel release>/droptrace_<key>.ko     the module
//   <cacheDir>/<kernel release>/droptrace_<key>.json   how it was made
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/** Kernel releases as `uname -r` prints them; also a directory name here, so no separators. */
export const KernelReleaseSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/, { message: "a kernel release looks like 6.1.0-9-amd64: letters, digits and . _ + ~ -" });

export interface ModuleKey {
  kernelRelease: string;
  probeHash: string;
  /** As `stap --version` prints it, such as "5.6/0.196". */
  systemtapVersion: string;
}

const MetaSchema = z.strictObject({
  moduleName: z.string(),
  kernelRelease: z.string(),
  probeHash: z.string(),
  systemtapVersion: z.string(),
  compileSeconds: z.number().min(0),
  compiledAt: z.string(),
});
export type CachedModuleMeta = z.infer<typeof MetaSchema>;

export interface CachedModule {
  path: string;
  meta: CachedModuleMeta;
}

/** The version token of `stap --version` output: "5.6/0.196". */
export function parseSystemTapVersion(text: string): string | undefined {
  return /\(version ([^\s,)]+)/.exec(text)?.[1];
}

/** `droptrace_<12 hex>`: short (kernel module names stop at 55 characters) and one per key. */
export function moduleName(key: ModuleKey): string {
  const hash = createHash("sha256")
    .update([KernelReleaseSchema.parse(key.kernelRelease), key.probeHash, key.systemtapVersion].join("\0"))
    .digest("hex");
  return `droptrace_${hash.slice(0, 12)}`;
}

function modulePaths(cacheDir: string, key: ModuleKey) {
  const dir = path.join(cacheDir, KernelReleaseSchema.parse(key.kernelRelease));
  const name = moduleName(key);
  return { dir, name, ko: path.join(dir, `${name}.ko`), meta: path.join(dir, `${name}.json`) };
}

export async function findCachedModule(cacheDir: string, key: ModuleKey): Promise<CachedModule | undefined> {
  const paths = modulePaths(cacheDir, key);
  let metaText: string;
  let ko: Buffer;
  try {
    metaText = await readFile(paths.meta, "utf8");
    ko = await readFile(paths.ko);
  } catch {
    return undefined;
  }
  const meta = MetaSchema.safeParse(JSON.parse(metaText));
  if (!meta.success || meta.data.moduleName !== paths.name) return undefined;
  // The module itself says which kernel it was built for: a module copied into the wrong
  // release's directory is never handed to staprun (the kernel would refuse it, less clearly).
  if (moduleKernelRelease(ko) !== key.kernelRelease) return undefined;
  return { path: paths.ko, meta: meta.data };
}

const VERMAGIC = Buffer.from("\0vermagic=");

/**
 * The kernel release a compiled module is for: the first word of its `vermagic` in .modinfo
 * ("7.2.13+deb14-amd64 SMP preempt mod_unload modversions "), what the kernel checks before
 * it loads a module. Undefined when the file has none (not a kernel module).
 */
export function moduleKernelRelease(ko: Uint8Array): string | undefined {
  const bytes = Buffer.from(ko.buffer, ko.byteOffset, ko.byteLength);
  const at = bytes.indexOf(VERMAGIC);
  if (at === -1) return undefined;
  const start = at + VERMAGIC.length;
  const end = bytes.indexOf(0, start);
  return bytes.toString("latin1", start, end === -1 ? bytes.length : end).split(" ")[0] || undefined;
}

/**
 * The module to load on a node running `kernelRelease`: one built from this probe source.
 * With a compiler on the node, only a module of that compiler's SystemTap version counts (a
 * miss means: compile). Without one, the newest module for the release is used: the loader
 * cannot tell its own version (SystemTap 5.6's `staprun -V` prints nothing), and staprun
 * refuses a module from an incompatible SystemTap with an error that reaches the report.
 */
export async function findModuleForKernel(
  cacheDir: string,
  kernelRelease: string,
  probeHash: string,
  compilerVersion: string | undefined,
): Promise<CachedModule | undefined> {
  if (compilerVersion !== undefined) return findCachedModule(cacheDir, { kernelRelease, probeHash, systemtapVersion: compilerVersion });
  const dir = path.join(cacheDir, KernelReleaseSchema.parse(kernelRelease));
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.startsWith("droptrace_") && f.endsWith(".json"));
  } catch {
    return undefined;
  }
  const candidates: CachedModule[] = [];
  for (const file of files) {
    let meta: CachedModuleMeta;
    try {
      meta = MetaSchema.parse(JSON.parse(await readFile(path.join(dir, file), "utf8")));
    } catch {
      continue;
    }
    if (meta.probeHash !== probeHash || meta.kernelRelease !== kernelRelease) continue;
    const found = await findCachedModule(cacheDir, meta);
    if (found) candidates.push(found);
  }
  return candidates.sort((a, b) => b.meta.compiledAt.localeCompare(a.meta.compiledAt))[0];
}

/** Copies a freshly built module into the cache; readers never see a half-written file. */
export async function storeModule(cacheDir: string, key: ModuleKey, builtKo: string, compileSeconds: number): Promise<CachedModule> {
  const paths = modulePaths(cacheDir, key);
  await mkdir(paths.dir, { recursive: true });
  const meta: CachedModuleMeta = {
    moduleName: paths.name,
    kernelRelease: key.kernelRelease,
    probeHash: key.probeHash,
    systemtapVersion: key.systemtapVersion,
    compileSeconds,
    compiledAt: new Date().toISOString(),
  };
  const suffix = `.tmp-${process.pid}`;
  try {
    await copyFile(builtKo, paths.ko + suffix);
    await rename(paths.ko + suffix, paths.ko);
    await writeFile(paths.meta + suffix, `${JSON.stringify(meta, null, 2)}\n`);
    await rename(paths.meta + suffix, paths.meta);
  } finally {
    await rm(paths.ko + suffix, { force: true });
    await rm(paths.meta + suffix, { force: true });
  }
  return { path: paths.ko, meta };
}
