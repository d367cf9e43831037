// `droptrace compile`: build the probe for a kernel release into the module cache,
// on any machine with that release's headers and SystemTap.
import { CompileError, compileProbe } from "../probe/compile.js";
import { KernelReleaseSchema } from "../probe/cache.js";
import { loadProbeScript } from "../probe/script.js";
import { EXIT, UsageError } from "../api/exit-codes.js";

export async function compileCommand(opts: { kernelRelease: string; cacheDir: string }, stapCommand?: string): Promise<number> {
  const release = KernelReleaseSchema.safeParse(opts.kernelRelease);
  if (!release.success) throw new UsageError(`--kernel-release: ${release.error.issues[0]?.message ?? "invalid"}`);
  try {
    const result = await compileProbe({
      script: loadProbeScript(),
      kernelRelease: release.data,
      cacheDir: opts.cacheDir,
      ...(stapCommand === undefined ? {} : { stapCommand }),
    });
    const how = result.cacheHit ? "already in the cache" : `compiled in ${result.compileSeconds}s`;
    process.stdout.write(`${result.module.path} (${how}; SystemTap ${result.module.meta.systemtapVersion})\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CompileError) {
      process.stderr.write(`droptrace compile: ${err.reason}: ${err.message}\n`);
      return EXIT.cannotTrace;
    }
    throw err;
  }
}
