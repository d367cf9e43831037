// The real kubectl and helm binaries against a test API server: each test file gets a scratch
// HOME (kubectl's discovery cache, helm's config), kubeconfig files per token, and runs the
// binaries with execa. kubectl must be at /usr/bin/kubectl; a missing one fails the test.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { helmBinary } from "../chart/helm.js";
import type { TestApiServer } from "./apiserver.js";

export const KUBECTL = "/usr/bin/kubectl";

export function kubectlBinary(): string {
  if (!existsSync(KUBECTL))
    throw new Error(`${KUBECTL} is missing: these tests drive the real kubectl (v1.32); install it (apt-get install kubectl, or the upstream binary)`);
  return KUBECTL;
}

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class Cli {
  readonly dir = mkdtempSync(path.join(tmpdir(), "apiserver-cli-"));

  constructor(private readonly server: TestApiServer) {}

  /** A kubeconfig file for this server and token. */
  kubeconfig(token = "test-token"): string {
    const file = path.join(this.dir, `${token.replace(/[^A-Za-z0-9_-]/g, "_")}.kubeconfig`);
    writeFileSync(file, this.server.kubeconfig(token));
    return file;
  }

  env(token?: string): Record<string, string> {
    return {
      KUBECONFIG: this.kubeconfig(token),
      HOME: this.dir,
      HELM_CACHE_HOME: path.join(this.dir, "helm-cache"),
      HELM_CONFIG_HOME: path.join(this.dir, "helm-config"),
      HELM_DATA_HOME: path.join(this.dir, "helm-data"),
    };
  }

  async kubectl(args: string[], opts: { token?: string; input?: string } = {}): Promise<CliResult> {
    const r = await execa(kubectlBinary(), args, { env: this.env(opts.token), reject: false, ...(opts.input === undefined ? {} : { input: opts.input }) });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** A long-running kubectl (get -w): the caller reads its stdout and kills it. */
  spawnKubectl(args: string[], token?: string) {
    return execa(kubectlBinary(), args, { env: this.env(token), reject: false, buffer: false });
  }

  async helm(args: string[], token?: string): Promise<CliResult> {
    const r = await execa(helmBinary(), args, { env: this.env(token), reject: false });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A YAML file in the scratch directory, for kubectl apply -f. */
export function manifest(cli: Cli, name: string, text: string): string {
  const file = path.join(cli.dir, name);
  writeFileSync(file, text);
  return file;
}

/** Lines of a kubectl table with runs of spaces collapsed, for comparisons that do not depend on column widths. */
export const tableLines = (out: string): string[] =>
  out
    .trim()
    .split("\n")
    .map((l) => l.trim().replace(/\s{2,}/g, " | "));
