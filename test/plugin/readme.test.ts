// The README's "From your laptop: kubectl droptrace", run for real on the walkthrough's cluster:
// the real helm installs the chart into the test API server, the real controller and the
// walkthrough's played kubelets run it (test/walkthrough/kubelet.ts: agents replaying what the
// probe printed on Debian's 7.2 kernel; node-c has no kernel headers), and `kubectl droptrace`
// is the built plugin found by the real kubectl on PATH, as `npm install -g` lays it out.
//
// The live view runs on a pseudo-terminal (pty.ts: util-linux's script, rendered by a terminal
// emulator), and the test asserts on its frames; once more with its output piped, where it must
// write no control sequence. The README's `plugin:` blocks are this run's screens and outputs
// (normalize() hides ages and times); DROPTRACE_UPDATE_README=1 rewrites them from a run.
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { shortWorkload } from "../../src/plugin/render-trace.js";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DROPTRACE, GROUP, VERSION } from "../../src/api/constants.js";
import type { DropTraceStatus } from "../../src/api/droptrace.js";
import { parseDurationSeconds } from "../../src/api/duration.js";
import { EXIT } from "../../src/api/exit-codes.js";
import { helmBinary, kubectlBinary } from "../chart/helm.js";
import { until, type UntilOptions } from "../support/until.js";
import type { StaprunScenario } from "../trace/stand-ins.js";
import { guestRecording, IMAGES, NAMESPACE, startWalkthroughCluster, type WalkthroughCluster } from "../walkthrough/cluster.js";
import type { Kubelet } from "../walkthrough/kubelet.js";
import { normalize, readmeBlocks, rewriteReadme, Transcript } from "../walkthrough/transcript.js";
import { PseudoTerminal } from "./pty.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const README = path.join(repoRoot, "README.md");
const PLUGIN = path.join(repoRoot, "dist", "src", "plugin", "main.js");
/** The terminal the live view is drawn on: wide enough for its rows, tall enough for all of them. */
const TERMINAL = { columns: 160, rows: 40 };
/** The walkthrough's state once every node's first reports are merged (its step 3): drops and nodes done. */
const FIRST_REPORTS = { drops: "1100 drops so far", nodes: "1/3 nodes done (1 failed)" };

/** Polling a whole installation every 200 ms is often enough. */
const within = (timeoutMs: number): UntilOptions => ({ timeoutMs, everyMs: 200 });

/**
 * node-a's recording without its netfilter drops (reason 12 on that kernel): the trace after the
 * fix, the iptables rule that dropped them removed. Each interval's record counts the rows it has.
 */
function withoutNetfilterDrops(scenario: StaprunScenario): StaprunScenario {
  const filter = (out: string[]): string[] => {
    let removed = 0;
    // The removed rows' IDs: their flows (F lines, which name rows by ID) go with them.
    const removedIds = new Set<string>();
    return out.flatMap((line) => {
      const fields = line.split("\t");
      if (fields[0] === "R" && fields[5] === "12") {
        removed += 1;
        if (fields[7] !== undefined) removedIds.add(fields[7]);
        return [];
      }
      if (fields[0] === "F" && removedIds.has(fields[2] ?? "")) return [];
      if (fields[0] === "I") {
        const counted = [...fields];
        counted[2] = String(Number(fields[2]) - removed);
        removed = 0;
        removedIds.clear();
        return [counted.join("\t")];
      }
      return [line];
    });
  };
  const steps = (list: StaprunScenario["steps"]) => list?.map((step) => ("out" in step ? { out: filter(step.out) } : step));
  return { ...scenario, steps: steps(scenario.steps) ?? [], onSigint: steps(scenario.onSigint) ?? [] };
}

/** The elapsed seconds and drops of a frame's progress line, as `kubectl droptrace trace` draws it. */
function progressOf(frame: string): { elapsed: number; drops: number } | undefined {
  const m = /^\S+ \w+: (\S+) elapsed.*; (\d+) drops so far$/m.exec(frame);
  const elapsed = parseDurationSeconds(m?.[1] ?? "");
  return m === null || elapsed === undefined ? undefined : { elapsed, drops: Number(m[2]) };
}

describe("the README's kubectl droptrace section", () => {
  let cluster: WalkthroughCluster;
  let kubelet: Kubelet;
  let custom: CustomObjectsApi;
  let env: Record<string, string>;
  const transcript = new Transcript();

  const trace = async (name: string) =>
    (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: DROPTRACE.plural, name })) as { status?: DropTraceStatus };
  const agentsStopped = (name: string) =>
    until(`${name}'s agents to stop`, () => !kubelet.runningPods().some((p) => p.startsWith(`droptrace-${name}-`)), within(60_000));
  const kubectl = (step: string, args: string[]) => transcript.run(step, "kubectl", args, { env, shown: `kubectl ${args.join(" ")}` });
  const onTerminal = (args: string[]) => new PseudoTerminal(["kubectl", ...args], env, TERMINAL);

  beforeAll(async () => {
    cluster = await startWalkthroughCluster("plugin-readme", {
      nodeA: (daemonSet) => (daemonSet === "droptrace-after-fix" ? withoutNetfilterDrops(guestRecording()) : guestRecording()),
    });
    ({ kubelet, custom } = cluster);
    // kubectl-droptrace on PATH as `npm install -g` puts it: a link in a bin directory to the
    // package's bin file, made executable (npm's bin-links does both).
    if (!existsSync(PLUGIN) || !readFileSync(PLUGIN, "utf8").startsWith("#!/usr/bin/env node\n"))
      throw new Error(`${PLUGIN} is not the built plugin: run npm run build`);
    chmodSync(PLUGIN, 0o755);
    const bin = path.join(cluster.dir, "npm-global", "bin");
    mkdirSync(bin, { recursive: true });
    symlinkSync(PLUGIN, path.join(bin, "kubectl-droptrace"));
    env = {
      ...cluster.env,
      PATH: [bin, path.dirname(kubectlBinary()), path.dirname(process.execPath), process.env["PATH"] ?? ""].join(":"),
      TERM: "xterm-256color",
    };
    // The user's starting point: the chart installed, as in the walkthrough.
    const helm = await execa(
      helmBinary(),
      ["install", "droptrace", path.join(repoRoot, "charts/droptrace"), "-n", NAMESPACE, "--create-namespace", "--server-side=false", ...IMAGES],
      { env, reject: false, all: true },
    );
    if (helm.exitCode !== 0) throw new Error(`helm install failed:\n${helm.all}`);
    await execa("kubectl", ["label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=privileged", "--overwrite"], { env });
    await until(
      "the controller to be ready",
      async () => (await fetch(`http://127.0.0.1:${kubelet.metricsPort({ podPrefix: "droptrace-controller" })}/readyz`)).ok,
      within(30_000),
    );
  }, 90_000);

  afterAll(async () => {
    await cluster.close();
  });

  it("goes from nothing to a final table with one command, live on a terminal", async () => {
    // A minute, as the walkthrough's trace: its agents' start (tsx compiling them, seconds on a
    // loaded machine) and a report interval must fit well inside it for the frame shown.
    const shown = "kubectl droptrace trace before-fix --duration 60s";
    const pty = onTerminal(["droptrace", "trace", "before-fix", "--duration", "60s"]);
    try {
      const running = await until(
        "a frame with every node's first reports",
        () => pty.frames.find((f) => f.includes(FIRST_REPORTS.drops) && f.includes(FIRST_REPORTS.nodes)),
        within(90_000),
      );
      transcript.add("trace-running", shown, running);
      expect(await pty.exit).toBe(EXIT.ok);
    } finally {
      pty.kill();
    }

    // Frames: the progress line advances, rows appear, a failing node shows as it fails.
    const progress = pty.frames.map(progressOf).filter((p) => p !== undefined);
    expect(progress.length).toBeGreaterThan(3);
    for (const [i, p] of progress.entries()) {
      if (i === 0) continue;
      const before = progress[i - 1];
      expect(p.elapsed, `frame ${i}'s elapsed seconds`).toBeGreaterThanOrEqual(before?.elapsed ?? 0);
      expect(p.drops, `frame ${i}'s drops`).toBeGreaterThanOrEqual(before?.drops ?? 0);
    }
    expect((progress.at(-1)?.elapsed ?? 0) - (progress[0]?.elapsed ?? 0)).toBeGreaterThanOrEqual(20);
    const firstWithRows = pty.frames.findIndex((f) => f.includes("SYMBOL"));
    expect(firstWithRows).toBeGreaterThan(0);
    expect(pty.frames[0]).toContain("no drops counted yet");
    expect(pty.frames.find((f) => f.includes("node-c Failed: HeadersMissing: no probe module for kernel 7.2.13+deb14-amd64"))).toBeDefined();

    // The final table: the live view cleared, the trace as it ended, with its rates over 60 s.
    const screen = pty.history();
    transcript.add("trace", shown, screen);
    const done = await trace("before-fix");
    expect(done.status?.phase).toBe("Completed");
    expect(done.status?.totalDrops).toBe(1_140);
    expect(screen.startsWith("droptrace.droptrace.io/before-fix created\nbefore-fix: Completed, 3/3 nodes done (1 failed), 1140 drops in 1m (19.00/s)\n")).toBe(
      true,
    );
    for (const row of done.status?.drops ?? []) {
      const rate = (row.count / 60).toFixed(2);
      expect(screen).toMatch(
        new RegExp(
          `\\n${[row.symbol, row.module, row.reason, row.interface, row.workload === undefined ? "-" : shortWorkload(row.workload), row.class, row.nodes, row.count, rate].map((c) => String(c).replaceAll(/[+.]/g, "\\$&")).join(" +")}\\n`,
        ),
      );
    }
    expect(screen).not.toContain("Ctrl-C stops following");
    // What `get` prints is that table too.
    const get = await execa("kubectl", ["droptrace", "get", "before-fix"], { env });
    expect(screen).toContain(get.stdout);
    await agentsStopped("before-fix");
  }, 180_000);

  it("prints plain lines and no control sequence when its output is piped", async () => {
    const piped = await execa("kubectl", ["droptrace", "trace", "after-fix", "--duration", "60s"], { env, reject: false });
    expect(piped.exitCode, piped.stderr).toBe(EXIT.ok);
    expect(piped.stdout + piped.stderr).not.toContain("\u001b");
    const lines = piped.stdout.split("\n");
    expect(lines[0]).toBe("droptrace.droptrace.io/after-fix created");
    expect(lines.filter((l) => l.startsWith("node-c Failed: HeadersMissing: "))).toHaveLength(1);
    expect(
      lines.some((l) => /^after-fix Running: .*; 1\/3 nodes done \(1 failed\); 980 drops so far$/.test(l)),
      piped.stdout,
    ).toBe(true);
    expect(piped.stdout).toContain("\nafter-fix: Completed, 3/3 nodes done (1 failed), 1020 drops in 1m (17.00/s)\n");
    expect(piped.stdout).not.toContain("NETFILTER_DROP");
    await agentsStopped("after-fix");
  }, 180_000);

  it("stops following on Ctrl-C, leaves the trace running and says how to come back and how to stop it", async () => {
    // Long enough that Ctrl-C comes well before its end, however slowly its agents start.
    const shown = "kubectl droptrace trace interrupted --duration 5m";
    const pty = onTerminal(["droptrace", "trace", "interrupted", "--duration", "5m"]);
    try {
      await until(
        "a frame with every node's first reports",
        () => pty.frames.some((f) => f.includes(FIRST_REPORTS.drops) && f.includes(FIRST_REPORTS.nodes)),
        within(90_000),
      );
      pty.type("\u0003");
      expect(await pty.exit).toBe(EXIT.interrupted);
    } finally {
      pty.kill();
    }
    const screen = pty.history();
    transcript.add("interrupt", shown, screen);
    expect(screen).toMatch(
      /\nCtrl-C stops following; the trace goes on\.\n\^C\nstopped following interrupted; the trace goes on\.\n {2}follow it again: {2}kubectl droptrace get interrupted -w\n {2}stop it early: {4}kubectl delete dt interrupted$/,
    );
    expect((await trace("interrupted")).status?.phase).toBe("Running");
    await kubectl("interrupt", ["delete", "dt", "interrupted"]);
    await agentsStopped("interrupted");
  }, 180_000);

  it("lists the nodes and compares the trace before the fix with the one after", async () => {
    await kubectl("nodes", ["droptrace", "nodes", "before-fix"]);
    const diff = await kubectl("diff", ["droptrace", "diff", "before-fix", "after-fix"]);
    expect(diff).toMatch(/\ngone +nft_do_chain\+0x4c3 +nf_tables +NETFILTER_DROP +vb +2\.00 +0 +-2\.00\n/);
    expect(diff).toContain("\n11 rows in both changed by 20% or less and are not listed.");
  });

  it("keeps the README's section true", () => {
    const readme = readFileSync(README, "utf8");
    if (process.env["DROPTRACE_UPDATE_README"] === "1") {
      writeFileSync(README, rewriteReadme(readme, transcript, "plugin"));
      return;
    }
    const blocks = readmeBlocks(readme, "plugin");
    expect([...blocks.keys()].sort()).toEqual([...transcript.steps.keys()].sort());
    for (const [step, block] of blocks) expect(normalize(block), `README kubectl droptrace step ${step}`).toBe(normalize(transcript.block(step)));
  });
});
