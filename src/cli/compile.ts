// `droptrace compile`: build the probe for a kernel release into the module cache,
// on any machine with that release's headers and SystemTap.
import { CompileError, compileProbe } from "../probe/compile.js";
import { KernelReleaseSchema } from "../probe/cache.js";
import { loadProbeScript, withStacks } from "../probe/script.js";
import { EXIT, UsageError } from "../api/exit-codes.js";

export async function compileCommand(opts: { kernelRelease: string; cacheDir: string; stacks?: boolean | undefined }, stapCommand?: string): Promise<number> {
  const release = KernelReleaseSchema.safeParse(opts.kernelRelease);
  if (!release.success) throw new UsageError(`--kernel-release: ${release.error.issues[0]?.message ?? "invalid"}`);
  // --stacks: the module with the stacks handler too (spec.stacks, run --stacks load that one).
  const script = loadProbeScript();
  const scripts = opts.stacks === true ? [script, withStacks(script)] : [script];
  try {
    for (const each of scripts) {
      const result = await compileProbe({
        script: each,
        kernelRelease: release.data,
        cacheDir: opts.cacheDir,
        ...(stapCommand === undefined ? {} : { stapCommand }),
      });
      const how = result.cacheHit ? "already in the cache" : `compiled in ${result.compileSeconds}s`;
      const what = each.args.length > 0 ? ", with stacks" : "";
      process.stdout.write(`${result.module.path} (${how}${what}; SystemTap ${result.module.meta.systemtapVersion})\n`);
    }
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CompileError) {
      process.stderr.write(`droptrace compile: ${err.reason}: ${err.message}\n`);
      return EXIT.cannotTrace;
    }
    throw err;
  }
}
