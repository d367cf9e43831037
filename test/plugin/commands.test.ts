// `kubectl droptrace` against the test API server, through the real client-node over HTTPS with a
// kubeconfig file, as a user runs it: each subcommand's output for traces in every phase, the
// controller (the real one, test/controller/harness.ts) merging what played agents report.
// The live view here is the plain-lines one (the output is not a terminal); test/plugin/
// readme.test.ts runs it on a pseudo-terminal.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { EXIT } from "../../src/api/exit-codes.js";
import {
  agents,
  createTrace,
  getTrace,
  reportStatus,
  scheduleAgentPod,
  setDesiredNodes,
  startCluster,
  startController,
  untilPhase,
  type Cluster,
} from "../controller/harness.js";
import { until } from "../support/until.js";
import { FIRST_INTERVAL_ROWS, FIXTURE_ROWS } from "../trace/stand-ins.js";
import { kubeconfigFile, runPlugin, startPlugin } from "./plugin-io.js";

const HEADERS_MISSING = {
  reason: "HeadersMissing",
  message: "no kernel headers at /lib/modules/7.2.13+deb14-amd64/build: install the headers on the node: `apt-get install linux-headers-7.2.13+deb14-amd64`",
};

/** What two honest runs print differently: times, and durations computed from the clock. */
const normalize = (text: string): string =>
  text.replaceAll(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, "<time>").replaceAll(/\d+s elapsed, \d+s left/g, "<elapsed>, <left>");

let cluster: Cluster;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  cluster = await startCluster({ tls: true });
  await startController(cluster);
  dir = mkdtempSync(path.join(tmpdir(), "droptrace-plugin-"));
  kubeconfig = kubeconfigFile(dir, "admin", cluster.server.kubeconfig());
});

afterAll(async () => {
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
});

const dt = (...argv: string[]) => runPlugin([...argv, "--kubeconfig", kubeconfig]);

/** Plays the DaemonSet controller and the nodes' agents for a trace the controller has taken up. */
async function nodesOf(name: string, ...nodes: string[]) {
  await untilPhase(cluster, name, "Pending");
  await setDesiredNodes(cluster, name, nodes.length);
  const trace = await until(`${name}'s status to count its nodes`, async () => {
    const t = await getTrace(cluster, name);
    return t?.status?.nodes?.desired === nodes.length ? t : undefined;
  });
  return agents(cluster, trace, ...nodes);
}

function two<T>(list: T[]): [T, T] {
  const [a, b] = list;
  if (a === undefined || b === undefined) throw new Error("two expected");
  return [a, b];
}

const COMPLETED_TABLE = [
  "SYMBOL                      MODULE   REASON          INTERFACE   CLASS     NODES   COUNT   RATE/S",
  "udp_rcv+0x452               kernel   NO_SOCKET       lo          depends   1       300     60.00",
  "udp_rcv+0x452               kernel   NO_SOCKET       vb          depends   1       190     38.00",
  "neigh_invalidate+0x90       kernel   NEIGH_FAILED    va          fault     1       40      8.00",
  "veth_xmit+0x1c3             veth     NOT_SPECIFIED   va          depends   1       7       1.40",
  "ip6_mc_input+0x18c          kernel   NOT_SPECIFIED   vb          depends   1       6       1.20",
  "ip6_mc_input+0x18c          kernel   NOT_SPECIFIED   va          depends   1       5       1.00",
  "__tcf_kfree_skb_list+0x62   kernel   QDISC_DROP      va          depends   1       3       0.60",
].join("\n");

describe("kubectl droptrace trace", () => {
  it("creates the trace, prints a line as it progresses and as a node fails, then the final table, and exits 0", async () => {
    const run = startPlugin(["trace", "live", "--duration", "5s", "--kubeconfig", kubeconfig]);
    const [a, b] = two(await nodesOf("live", "node-a", "node-b"));
    await a.report(reportStatus("Running", [...FIRST_INTERVAL_ROWS]));
    await until("the progress line with the first report", () => run.stdout.text.includes("0/2 nodes done; 309 drops so far"));
    await b.report(reportStatus("Failed", [], HEADERS_MISSING));
    await until("the failed node's line", () => run.stdout.text.includes("node-b Failed: HeadersMissing"));
    await a.report(reportStatus("Completed", [...FIXTURE_ROWS]));
    expect(await run.done).toBe(EXIT.ok);

    const lines = run.stdout.text.split("\n");
    expect(lines[0]).toBe("droptrace.droptrace.io/live created");
    const progress = lines.filter((l) => l.startsWith("live ")).map(normalize);
    expect(progress).toContain("live Running: <elapsed>, <left>; 0/2 nodes done; 309 drops so far");
    // Each line once: the clock alone changing prints nothing.
    expect(new Set(progress).size).toBe(progress.length);
    expect(lines.filter((l) => l.startsWith("node-b Failed:"))).toEqual([`node-b Failed: ${HEADERS_MISSING.reason}: ${HEADERS_MISSING.message}`]);
    expect(normalize(run.stdout.text.slice(run.stdout.text.indexOf("live: Completed")))).toBe(
      [
        "live: Completed, 2/2 nodes done (1 failed), 551 drops in 5s (110.20/s)",
        "started <time>, ended <time>; duration 5s",
        "",
        COMPLETED_TABLE,
        "",
        "NODE     PHASE       DROPS   REASON           MESSAGE",
        `node-b   Failed      0       HeadersMissing   ${HEADERS_MISSING.message}`,
        "node-a   Completed   551",
        "",
        "CONDITION      STATUS    REASON            MESSAGE",
        "Ready          True      AllNodesDone      551 drops counted on 1 node, every node finished; look first at NO_SOCKET at udp_rcv+0x452 on lo (300 drops): check that the process is up and listens on the port the Service's targetPort names (ss -ltnup in the pod); a trickle from port scans or late replies to closed connections is routine.",
        "Progressing    False     AllNodesDone      the trace has ended",
        "Degraded       True      NodesFailing      1 of 2 nodes failed: HeadersMissing on 1 (node-b)",
        "DropsVisible   Unknown   CountersNotRead   no node has reported the kernel's own drop counters yet (or none could read them: see each node's report)",
        "",
      ].join("\n"),
    );
    expect(run.stdout.text).not.toContain("\u001b");
    expect(run.stderr.text).toBe("");
    // What it asked for: the flags' spec, the CRD's defaults for the rest.
    expect((await getTrace(cluster, "live"))?.spec).toEqual({
      duration: "5s",
      topN: 20,
      tolerations: [{ operator: "Exists" }],
      stacks: false,
      maxProbeCPUPercent: 5,
    });
  });

  it("goes on following through the API server's errors, saying so once", async () => {
    const run = startPlugin(["trace", "flaky", "--duration", "5s", "--kubeconfig", kubeconfig]);
    const [a] = await nodesOf("flaky", "node-a");
    const seen = run.stdout.text.length;
    cluster.server.faults.failNext({ method: "GET", pathPrefix: "/apis/droptrace.io/v1alpha1/droptraces/flaky", status: 503, count: 3 });
    await until("the error's line", () => run.stdout.text.includes("; trying again)"));
    await a?.report(reportStatus("Completed", [...FIXTURE_ROWS]));
    expect(await run.done).toBe(EXIT.ok);
    const problems = run.stdout.text
      .slice(seen)
      .split("\n")
      .filter((l) => l.includes("trying again"));
    expect(problems).toEqual(['(get droptraces.droptrace.io "flaky" failed: the server is currently unable to handle the request (HTTP 503); trying again)']);
    expect(run.stdout.text).toContain("flaky: Completed, 1/1 nodes done, 551 drops in 5s (110.20/s)\n");
  });

  it("gives the trace a generated name when none is given, and --rm deletes it at the end", async () => {
    const run = startPlugin([
      "trace",
      "--duration",
      "5s",
      "--node",
      "node-a",
      "--interface",
      "eth0",
      "--reason",
      "NO_SOCKET",
      "--rm",
      "--kubeconfig",
      kubeconfig,
    ]);
    const name = await until("the created line", () => /^droptrace\.droptrace\.io\/(droptrace-[a-z0-9]{5}) created$/m.exec(run.stdout.text)?.[1]);
    const trace = await getTrace(cluster, name);
    expect(trace?.spec).toMatchObject({ nodeSelector: { "kubernetes.io/hostname": "node-a" }, filter: { interfaces: ["eth0"], reasons: ["NO_SOCKET"] } });
    const [a] = await nodesOf(name, "node-a");
    await a?.report(reportStatus("Completed", [{ symbol: "udp_rcv+0x452", interface: "eth0", module: "kernel", reason: "NO_SOCKET", count: 30 }]));
    expect(await run.done).toBe(EXIT.ok);
    expect(run.stdout.text).toContain(`${name}: Completed, 1/1 nodes done, 30 drops in 5s (6.00/s)`);
    expect(run.stdout.text.trimEnd().split("\n").at(-1)).toBe(`droptrace.droptrace.io "${name}" deleted`);
    await until(`${name} to be gone`, async () => (await getTrace(cluster, name)) === undefined);
  });

  it("exits 4 when every node failed, the conditions saying why", async () => {
    const run = startPlugin(["trace", "nowhere", "--duration", "5s", "--kubeconfig", kubeconfig]);
    const [a, b] = two(await nodesOf("nowhere", "node-a", "node-b"));
    await a.report(reportStatus("Failed", [], HEADERS_MISSING));
    await b.report(reportStatus("Failed", [], { reason: "KernelLockdown", message: "the kernel is locked down (integrity): it loads no unsigned module" }));
    expect(await run.done).toBe(EXIT.traceFailed);
    expect(run.stdout.text).toContain("nowhere: Failed, 2/2 nodes done (2 failed), 0 drops");
    expect(run.stdout.text).toMatch(/Ready +False +AllNodesFailed +/);
    expect(run.stdout.text).toMatch(/\nnode-b +Failed +0 +KernelLockdown +the kernel is locked down \(integrity\): it loads no unsigned module\n/);
  });

  it("with -o json, follows on stderr and prints the result on stdout", async () => {
    const run = startPlugin(["trace", "as-json", "--duration", "5s", "-o", "json", "--kubeconfig", kubeconfig]);
    const [a] = await nodesOf("as-json", "node-a");
    await a?.report(reportStatus("Completed", [...FIXTURE_ROWS]));
    expect(await run.done).toBe(EXIT.ok);
    const result = JSON.parse(run.stdout.text) as { name: string; phase: string; tracedSeconds: number; rows: { count: number; ratePerSecond: number }[] };
    expect(result).toMatchObject({ name: "as-json", phase: "Completed", tracedSeconds: 5, totalDrops: 551 });
    expect(result.rows[0]).toMatchObject({ symbol: "udp_rcv+0x452", interface: "lo", count: 300, ratePerSecond: 60 });
    expect(run.stderr.text).toContain("droptrace.droptrace.io/as-json created\n");
  });

  it("stops following on Ctrl-C, exits 130 and says how to follow again and how to stop the trace, which goes on", async () => {
    const run = startPlugin(["trace", "left-running", "--duration", "5m", "--rm", "--kubeconfig", kubeconfig]);
    const [a] = await nodesOf("left-running", "node-a");
    await a?.report(reportStatus("Running", [...FIRST_INTERVAL_ROWS]));
    await until("the progress line with the first report", () => run.stdout.text.includes("0/1 nodes done; 309 drops so far"));
    run.interrupt();
    expect(await run.done).toBe(EXIT.interrupted);
    expect(run.stderr.text).toBe(
      "stopped following left-running; the trace goes on (--rm: not deleted while it runs).\n" +
        "  follow it again:  kubectl droptrace get left-running -w\n" +
        "  stop it early:    kubectl delete dt left-running\n",
    );
    expect((await getTrace(cluster, "left-running"))?.status?.phase).toBe("Running");

    // What it said: get -w follows it again, to its end.
    const again = startPlugin(["get", "left-running", "-w", "--kubeconfig", kubeconfig]);
    await until("get -w to follow", () => again.stdout.text.includes("309 drops so far"));
    await a?.report(reportStatus("Completed", [...FIXTURE_ROWS]));
    expect(await again.done).toBe(EXIT.ok);
    expect(again.stdout.text).toContain("left-running: Completed, 1/1 nodes done, 551 drops in 5m (1.84/s)");
  });
});

describe("kubectl droptrace get and nodes, in every phase", () => {
  it("prints a trace while its agents start, while it runs, and once it completed or failed", async () => {
    await createTrace(cluster, "phases", { duration: "30s" });
    const [a, b] = two(await nodesOf("phases", "node-a", "node-b"));
    let out = await dt("get", "phases");
    expect(out.code).toBe(EXIT.ok);
    expect(normalize(out.stdout).split("\n").slice(0, 4)).toEqual([
      "phases: Pending, 0/2 nodes done, 0 drops",
      "started <time>; duration 30s",
      "",
      "no drops counted yet",
    ]);
    expect(out.stdout).toMatch(/Ready +False +WaitingForAgents/);

    await a.report(reportStatus("Running", [...FIRST_INTERVAL_ROWS]));
    await untilPhase(cluster, "phases", "Running");
    out = await dt("get", "phases");
    expect(out.stdout).toMatch(/^phases: Running, 0\/2 nodes done, 309 drops in \d+s \([\d.]+\/s\)\n/);
    expect(out.stdout).toMatch(/udp_rcv\+0x452 +kernel +NO_SOCKET +lo +depends +1 +300 +[\d.]+\n/);
    out = await dt("nodes", "phases");
    expect(out.stdout).toBe(
      ["NODE     PHASE     DROPS   KERNEL               REASON   MESSAGE", "node-a   Running   309     7.2.13+deb14-amd64", ""].join("\n"),
    );

    await b.report(reportStatus("Failed", [], HEADERS_MISSING));
    await a.report(reportStatus("Completed", [...FIXTURE_ROWS]));
    await untilPhase(cluster, "phases", "Completed");
    out = await dt("get", "phases");
    expect(out.code).toBe(EXIT.ok);
    expect(normalize(out.stdout)).toContain(
      `phases: Completed, 2/2 nodes done (1 failed), 551 drops in 30s (18.37/s)\nstarted <time>, ended <time>; duration 30s\n`,
    );
    out = await dt("nodes", "phases");
    expect(out.stdout).toBe(
      [
        "NODE     PHASE       DROPS   KERNEL               REASON           MESSAGE",
        `node-b   Failed      0       7.2.13+deb14-amd64   HeadersMissing   ${HEADERS_MISSING.message}`,
        "node-a   Completed   551     7.2.13+deb14-amd64",
        "",
      ].join("\n"),
    );
    const yaml = parseYaml((await dt("nodes", "phases", "-o", "yaml")).stdout) as unknown;
    expect(yaml).toEqual({
      trace: "phases",
      nodes: [
        { node: "node-b", phase: "Failed", drops: 0, kernel: "7.2.13+deb14-amd64", ...HEADERS_MISSING },
        { node: "node-a", phase: "Completed", drops: 551, kernel: "7.2.13+deb14-amd64" },
      ],
    });
    // get without -w exits 0 whatever the phase; -w on an ended trace prints it at once.
    expect((await dt("get", "phases", "-w")).code).toBe(EXIT.ok);
  });

  it("prints a failed trace and its nodes, and get -w exits 4 for it", async () => {
    await createTrace(cluster, "all-failed", { duration: "30s" });
    const [a, b] = two(await nodesOf("all-failed", "node-a", "node-b"));
    await a.report(reportStatus("Failed", [], HEADERS_MISSING));
    await b.report(reportStatus("Failed", [], HEADERS_MISSING));
    await untilPhase(cluster, "all-failed", "Failed");
    const out = await dt("get", "all-failed");
    expect(out.code).toBe(EXIT.ok);
    // The trace's start and end are the controller's clock: a second may pass between them on a slow machine.
    expect(out.stdout.split("\n")[0]).toMatch(/^all-failed: Failed, 2\/2 nodes done \(2 failed\), 0 drops( in \ds \(0\/s\))?$/);
    expect(out.stdout).toContain("\nno drops counted\n");
    expect(out.stdout).toMatch(/Ready +False +AllNodesFailed +/);
    expect((await dt("get", "all-failed", "-w")).code).toBe(EXIT.traceFailed);
  });

  it("lists nodes that never reported from the trace's node summary", async () => {
    await createTrace(cluster, "silent", { duration: "5s" });
    const [a] = two(await nodesOf("silent", "node-a", "node-b"));
    await scheduleAgentPod(cluster, "silent", "node-a");
    await scheduleAgentPod(cluster, "silent", "node-b");
    await a.report(reportStatus("Completed", [...FIXTURE_ROWS]));
    // node-b's agent never reports: past the deadline the controller ends the trace without it.
    await untilPhase(cluster, "silent", "Completed");
    const out = await dt("nodes", "silent");
    expect(out.stdout.split("\n").slice(0, 3)).toEqual([
      "NODE     PHASE          DROPS   KERNEL               REASON   MESSAGE",
      "node-b   NotReporting   0",
      "node-a   Completed      551     7.2.13+deb14-amd64",
    ]);
  });

  it("says which trace does not exist", async () => {
    const out = await dt("get", "no-such-trace");
    expect(out).toEqual({ code: EXIT.failed, stdout: "", stderr: 'error: DropTrace "no-such-trace" not found (`kubectl get dt` lists them)\n' });
  });
});

describe("kubectl droptrace diff", () => {
  it("compares two traces of different lengths by rate per second", async () => {
    // before: the fixture's rows over 60 s; after: over 120 s, twice the counts (the same rates)
    // but for neigh_invalidate at three times its rate, udp_rcv vb gone, an nft_do_chain row new.
    const rows = [...FIXTURE_ROWS];
    await createTrace(cluster, "before-fix", { duration: "60s" });
    const [before] = await nodesOf("before-fix", "node-a");
    await before?.report(reportStatus("Completed", rows));
    await createTrace(cluster, "after-fix", { duration: "2m" });
    const [after] = await nodesOf("after-fix", "node-a");
    await after?.report(
      reportStatus("Completed", [
        ...rows
          .filter((r) => r.interface !== "vb" || r.symbol !== "udp_rcv+0x452")
          .map((r) => ({ ...r, count: r.symbol === "neigh_invalidate+0x90" ? 240 : r.count * 2 })),
        { symbol: "nft_do_chain+0x4c3", interface: "vb", module: "nf_tables", reason: "NETFILTER_DROP", count: 120 },
      ]),
    );
    await untilPhase(cluster, "before-fix", "Completed");
    await untilPhase(cluster, "after-fix", "Completed");
    const out = await dt("diff", "before-fix", "after-fix");
    expect(out.code).toBe(EXIT.ok);
    expect(out.stdout).toBe(
      [
        "A: before-fix (Completed, 1m traced, 7 rows)",
        "B: after-fix (Completed, 2m traced, 7 rows)",
        "",
        "CHANGE   SYMBOL                  MODULE      REASON           INTERFACE   A/S    B/S    DELTA/S",
        "gone     udp_rcv+0x452           kernel      NO_SOCKET        vb          3.17   0      -3.17",
        "grown    neigh_invalidate+0x90   kernel      NEIGH_FAILED     va          0.67   2.00   +1.33 (+200%)",
        "new      nft_do_chain+0x4c3      nf_tables   NETFILTER_DROP   vb          0      1.00   +1.00",
        "",
        "5 rows in both changed by 20% or less and are not listed.",
        "",
      ].join("\n"),
    );
    const json = JSON.parse((await dt("diff", "before-fix", "after-fix", "--threshold", "250", "-o", "json")).stdout) as {
      rows: { change: string }[];
      unchanged: number;
    };
    expect(json.rows.map((r) => r.change)).toEqual(["gone", "new"]);
    expect(json.unchanged).toBe(6);
  });
});
