// The controller at scale: 5,000 nodes each reporting 200 rows. Prints numbers, asserts nothing.
//
//   npx tsx bench/controller/merge.ts                  # rows named as agents name them (issue 11)
//   npx tsx bench/controller/merge.ts --unattributed   # rows as agents older than attribution wrote them
//   npx tsx bench/controller/merge.ts --flows          # every row with 5 flows (issue 11), addresses named from an index
//   npx tsx bench/controller/merge.ts --merge-only     # 1 to 3 only (for profiling: node --cpu-prof --import tsx ...)
//
// 1. Ingest: each report through the cache's transform (zod + compact view), as the informer does.
// 2. Memory with 5,000 cached reports (JS heap and RSS, after full collections).
// 3. One status update: merge every node's rows, top N, build the status.
// 4. The status object's size for 10, 100, 1,000 and 5,000 nodes (goal: under 256 KiB).
// 5. Status writes per report interval against node count: the real Reconciler on an in-memory
//    cluster and a simulated clock, every node writing its report once per interval and each
//    write followed by a reconcile (the worst case: the queue usually folds several into one).
//
// The rows look like a real cluster's: a few thousand distinct (symbol, interface, module,
// reason) keys shared between nodes, counts skewed towards a few hot drop sites. Every row
// carries 3 stacks of 8 to 16 frames (spec.stacks; a real agent sends them on its top rows only,
// so this is the worst case for the controller), and every report its probe's cost. Attributed as
// the agent does: `eth0` rows are in pods' namespaces (30 pods a node, of 3,000 workloads in 150
// namespaces, popular ones on many nodes), so they carry pod and workload and the status merges
// them by workload; `cali*`, `lo` and `eth1` are the node's own (`host`), `-` is `unknown`.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DropTraceSpecSchema } from "../../src/api/droptrace.js";
import type { DropTraceReport } from "../../src/api/report.js";
import { REASON } from "../../src/api/conditions.js";
import { dropClass } from "../../src/api/drop-explanations.js";
import { mergeReports, type MergeOptions } from "../../src/controller/status/merge.js";
import { MAX_FLOWS_PER_ROW, type Flow } from "../../src/api/flows.js";
import { countNodes, type NodeState } from "../../src/controller/status/node-states.js";
import { Reconciler } from "../../src/controller/reconciler.js";
import { StringPool, toReportView, type ReportView } from "../../src/controller/status/report-view.js";
import { controllerSettings } from "../../src/controller/settings.js";
import { buildStatus } from "../../src/controller/status/status.js";
import { controllerMetrics } from "../../src/api/metrics.js";
import { silentLogger } from "../../src/cli/log.js";
import { FakeCluster } from "../../test/controller/fake-cluster.js";

const NODES = 5_000;
const ROWS_PER_NODE = 200;
const TOP_N = 200;
const ROUNDS = 5;
const SIZES = [10, 100, 1_000, 5_000];
const INTERVALS = 6;
const INTERVAL_SECONDS = 10;
const ATTRIBUTED = !process.argv.includes("--unattributed");
const FLOWS = process.argv.includes("--flows");
const MERGE_ONLY = process.argv.includes("--merge-only");
const SERVICE_IPS = 10_000;
const PODS_PER_NODE = 30;
const WORKLOADS = 3_000;
const NAMESPACES = 150;
const WORKLOAD_KINDS = ["Deployment", "Deployment", "Deployment", "StatefulSet", "DaemonSet", "Job"];

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

function memory(): { heapMiB: number; rssMiB: number } {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return { heapMiB: usage.heapUsed / 2 ** 20, rssMiB: usage.rss / 2 ** 20 };
}

function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 1 }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const FUNCTIONS = [
  "udp_rcv",
  "udp_queue_rcv_one_skb",
  "ip_rcv_finish",
  "ip_rcv_core",
  "nft_do_chain",
  "tcp_v4_rcv",
  "tcp_validate_incoming",
  "neigh_resolve_output",
  "__dev_queue_xmit",
  "sk_filter_trim_cap",
  "ip6_rcv_core",
  "br_handle_frame",
  "veth_xmit",
  "netif_receive_skb_core",
  "tcp_rcv_state_process",
];
const INTERFACES = ["eth0", "eth1", "lo", "-", ...Array.from({ length: 40 }, (_, i) => `cali${(0x5a3c0 + i * 7919).toString(16)}`)];
const REASONS = [
  "NO_SOCKET",
  "NETFILTER_DROP",
  "TCP_CSUM",
  "OTHERHOST",
  "NEIGH_FAILED",
  "SOCKET_FILTER",
  "TCP_INVALID_SEQUENCE",
  "QDISC_DROP",
  "NOT_SPECIFIED",
  "PKT_TOO_SMALL",
];

const CALLERS = [
  "ip_protocol_deliver_rcu+0xab",
  "ip_local_deliver_finish+0x7c",
  "__netif_receive_skb_one_core+0x8d",
  "process_backlog+0x87",
  "__napi_poll+0x2e",
  "net_rx_action+0x33a",
  "handle_softirqs+0xe1",
  "do_softirq+0x46",
  "__local_bh_enable_ip+0x62",
  "__dev_queue_xmit+0x2c7",
  "ip_finish_output2+0x1d0",
  "ip_output+0x6d",
  "udp_send_skb+0x1b3",
  "udp_sendmsg+0x8f0",
  "__sys_sendto+0x1d2",
  "veth_poll+0x2c1 [veth]",
  "br_handle_frame_finish+0x1a4 [bridge]",
];

/** A stack from the drop site outwards: 8 to 16 frames, callers picked with the same skew as rows, so nodes share most stacks. */
function stackFrames(symbol: string, next: () => number): string[] {
  const depth = 8 + Math.floor(next() * 9);
  return [symbol, ...Array.from({ length: depth - 1 }, () => CALLERS[Math.floor(next() ** 3 * CALLERS.length)] ?? "")];
}

/** The pod at `podIndex` on `node`: its workload is a skewed pick, so popular workloads run on many nodes. */
function nodePod(node: number, podIndex: number) {
  const pick = random(node * PODS_PER_NODE + podIndex + 1);
  pick();
  const w = Math.floor(pick() ** 2 * WORKLOADS);
  const kind = WORKLOAD_KINDS[w % WORKLOAD_KINDS.length] ?? "Deployment";
  const namespace = `team-${String(w % NAMESPACES).padStart(3, "0")}`;
  const name = `service-${String(w).padStart(4, "0")}`;
  const uid = `${String(node).padStart(8, "0")}-0000-4000-8000-${String(podIndex).padStart(12, "0")}`;
  return { pod: { namespace, name: `${name}-7d9c5b6f4-${String(node).padStart(5, "0")}${podIndex}`, uid }, workload: { kind, name } };
}

function attribution(node: number, podIndex: number | undefined, netns: number) {
  if (podIndex !== undefined) return { attribution: "netns" as const, ...nodePod(node, podIndex) };
  return { attribution: netns === 0 ? ("unknown" as const) : ("host" as const) };
}

const podIP = (node: number, podIndex: number) => `10.${1 + (node >> 8)}.${node & 0xff}.${podIndex + 2}`;
const serviceIP = (i: number) => `10.96.${i >> 8}.${i & 0xff}`;

/**
 * A row's 5 flows, as an agent sends them: from one of the node's pods (or a pod on another node)
 * to a Service, skewed so popular Services and ports recur across nodes; they hold about 80% of
 * the row's count, unparsed drops 5%, the rest is other flows.
 */
function rowFlows(node: number, count: number, next: () => number): { flows: Flow[]; unparsedFlows: number; otherFlows: number } {
  const shares = [0.4, 0.2, 0.1, 0.06, 0.04];
  const flows: Flow[] = shares.slice(0, MAX_FLOWS_PER_ROW).map((share) => ({
    protocol: next() < 0.7 ? "TCP" : "UDP",
    source: { address: podIP(next() < 0.8 ? node : Math.floor(next() * NODES), Math.floor(next() * PODS_PER_NODE)), port: 32768 + Math.floor(next() * 28000) },
    destination: { address: serviceIP(Math.floor(next() ** 3 * SERVICE_IPS)), port: [80, 443, 53, 8080, 5432][Math.floor(next() ** 2 * 5)] ?? 80 },
    count: Math.floor(count * share),
  }));
  flows.sort((a, b) => b.count - a.count);
  const listed = flows.reduce((sum, f) => sum + f.count, 0);
  const unparsedFlows = Math.floor(count * 0.05);
  return { flows, unparsedFlows, otherFlows: count - listed - unparsedFlows };
}

/** Pods' and Services' addresses by name, as the address index keeps them. */
function addressNames(): MergeOptions {
  if (!FLOWS) return {};
  const names = new Map<string, string>();
  for (let n = 0; n < NODES; n += 1) {
    for (let p = 0; p < PODS_PER_NODE; p += 1) {
      const { pod } = nodePod(n, p);
      names.set(podIP(n, p), `${pod.namespace}/${pod.name}`);
    }
  }
  for (let i = 0; i < SERVICE_IPS; i += 1) names.set(serviceIP(i), `svc/team-${String(i % NAMESPACES).padStart(3, "0")}/service-${String(i).padStart(5, "0")}`);
  return { addressName: (address) => names.get(address) };
}

/** One node's report as the API server would send it. */
function report(node: number, next: () => number, scale: number): DropTraceReport {
  const flowNext = random(1_000_003 + node);
  const rows = new Map<string, DropTraceReport["status"] extends infer S ? (S extends { rows: (infer R)[] } ? R : never) : never>();
  while (rows.size < ROWS_PER_NODE) {
    // Skewed: low indexes are hot, so nodes share most of their top rows.
    const pick = <T>(list: readonly T[]) => list[Math.floor(next() ** 2.5 * list.length)] as T;
    const fn = pick(FUNCTIONS);
    const symbol = `${fn}+0x${(Math.floor(next() ** 3 * 40) * 16 + 0x1a).toString(16)}`;
    const iface = pick(INTERFACES);
    const reason = pick(REASONS);
    // A pod's eth0 is in the pod's namespace; every other interface here is the node's.
    const podIndex = iface === "eth0" ? Math.floor(next() * PODS_PER_NODE) : undefined;
    const netns = podIndex !== undefined ? 4026532000 + podIndex : iface === "-" ? 0 : 4026531840;
    const key = `${symbol}/${iface}/${reason}/${netns}`;
    if (rows.has(key)) continue;
    const count = Math.max(1, Math.floor((1 - next()) ** 6 * 10_000 * scale));
    rows.set(key, {
      symbol,
      interface: iface,
      netns,
      module: fn === "nft_do_chain" ? "nf_tables" : "kernel",
      reason,
      class: dropClass(reason),
      count,
      // From their own random stream: the rows are the same with flows as without.
      ...(FLOWS ? rowFlows(node, count, flowNext) : {}),
      stacks: [3, 2, 1].map((weight) => ({ count: weight * 10, frames: stackFrames(symbol, next) })),
      ...(ATTRIBUTED ? attribution(node, podIndex, netns) : {}),
    });
  }
  const list = [...rows.values()].sort((a, b) => b.count - a.count);
  const counted = list.reduce((s, r) => s + r.count, 0);
  const name = `node-${String(node).padStart(5, "0")}`;
  return {
    apiVersion: "droptrace.io/v1alpha1",
    kind: "DropTraceReport",
    metadata: {
      name: `bench-${name}`,
      resourceVersion: String(10_000 + node),
      ownerReferences: [{ apiVersion: "droptrace.io/v1alpha1", kind: "DropTrace", name: "bench", uid: "uid-bench" }],
    },
    spec: { trace: "bench", node: name },
    status: {
      phase: "Running",
      kernelRelease: "7.2.13+deb14-amd64",
      intervals: 6,
      totalDrops: counted + 1234,
      uncountedDrops: 0,
      otherRows: 3,
      otherDrops: 1234,
      rows: list,
      probeCost: {
        hits: counted * 3,
        handlerNanoseconds: counted * 3 * 310,
        elapsedNanoseconds: 60e9,
        cpus: 16,
        nanosecondsPerHit: 310,
        cpuPercent: Math.round(next() * 10_000) / 10_000,
        peakIntervalCPUPercent: 1,
        notCounted: { mapFull: 0, skipped: 0, stackTableFull: 0 },
      },
    },
  };
}

const pool = new StringPool();
function ingest(raw: unknown): ReportView {
  const result = toReportView(raw, pool);
  if (result === undefined || result.invalid !== undefined) throw new Error(`bench report refused: ${result?.invalid ?? "no name"}`);
  return result.view;
}

// 1 + 2: ingest 5,000 reports, then measure what the cache keeps.
const before = memory();
const next = random(42);
let views: ReportView[] = [];
let rawBytes = 0;
const ingestStart = performance.now();
for (let i = 0; i < NODES; i += 1) {
  // Parsed from JSON text as the informer's watch gets it; the raw object is dropped once viewed.
  const text = JSON.stringify(report(i, next, 1));
  rawBytes += text.length;
  views.push(ingest(JSON.parse(text)));
}
const ingestMs = performance.now() - ingestStart;
const cached = memory();

// 3: one status update.
const spec = DropTraceSpecSchema.parse({ duration: "1h", reportInterval: "10s", topN: TOP_N });
const nodes: NodeState[] = views.map((v) => ({ node: v.node, phase: v.phase, totalDrops: v.totalDrops }));
const mergeOptions = addressNames();
const mergeTimes: number[] = [];
let flowBytes5000 = 0;
let distinct = 0;
let workloadRows = 0;
let topWorkload: string | undefined;
let statusBytes5000 = 0;
let stackBytes5000 = 0;
for (let r = 0; r < ROUNDS; r += 1) {
  const start = performance.now();
  const merged = mergeReports(views, TOP_N, mergeOptions);
  const status = buildStatus({
    current: undefined,
    generation: 1,
    outcome: { phase: "Running", reason: REASON.tracing },
    nodes,
    counts: countNodes(nodes, NODES),
    merged,
    notReporting: { count: 0, names: [] },
    startTime: "2026-03-01T10:00:00Z",
    nowMs: Date.now(),
    daemonSet: "droptrace-system/droptrace-bench",
  });
  statusBytes5000 = Buffer.byteLength(JSON.stringify(status));
  stackBytes5000 = Buffer.byteLength(JSON.stringify(status.drops?.map((d) => d.stacks ?? []) ?? []));
  flowBytes5000 = Buffer.byteLength(JSON.stringify(status.drops?.map((d) => [d.flows ?? [], d.unparsedFlows, d.otherFlows]) ?? []));
  mergeTimes.push(performance.now() - start);
  distinct = merged.distinctRows;
  workloadRows = merged.drops.filter((d) => d.workload !== undefined).length;
  topWorkload = merged.topWorkload;
}

// 4: status size by node count (the first n nodes; a quarter of them failing with long messages).
const sizes = (MERGE_ONLY ? [] : SIZES).map((n) => {
  const some = views.slice(0, n);
  const states: NodeState[] = some.map((v, i) =>
    i % 4 === 0
      ? {
          node: v.node,
          phase: "Failed",
          reason: "HeadersMissing",
          message:
            "stap found no kernel headers for 7.2.13+deb14-amd64: install them (Debian/Ubuntu: apt-get install linux-headers-7.2.13+deb14-amd64). stap said: ".padEnd(
              1024,
              "x",
            ),
          totalDrops: 0,
        }
      : { node: v.node, phase: v.phase, totalDrops: v.totalDrops },
  );
  const status = buildStatus({
    current: undefined,
    generation: 1,
    outcome: { phase: "Completed", reason: REASON.deadlinePassed },
    nodes: states,
    counts: countNodes(states, n),
    merged: mergeReports(some, TOP_N, mergeOptions),
    notReporting: { count: 0, names: [] },
    startTime: "2026-03-01T10:00:00Z",
    nowMs: Date.now(),
    daemonSet: "droptrace-system/droptrace-bench",
  });
  return { nodes: n, bytes: Buffer.byteLength(JSON.stringify(status)) };
});

// 5: status writes per interval, the real reconciler, a simulated clock.
const settings = controllerSettings({ POD_NAMESPACE: "droptrace-system", DROPTRACE_AGENT_IMAGE: "droptrace:bench" });
async function writesPerInterval(nodeCount: number): Promise<{ perInterval: number[]; reconciles: number; reconcileMs: number }> {
  let now = Date.parse("2026-03-01T10:00:00Z");
  const cluster = new FakeCluster("bench", spec, settings, nodeCount);
  const reconciler = new Reconciler({
    source: cluster,
    writer: cluster,
    settings: { ...settings, identity: "bench" },
    timings: { deadlineGraceMs: 300_000, statusIntervalMs: undefined, agentStartWaitMs: 120_000 },
    clock: () => now,
    log: silentLogger,
    metrics: controllerMetrics(),
  });
  const base = views.slice(0, nodeCount);
  for (const v of base) cluster.setReport({ ...v, phase: "Pending" });
  await reconciler.reconcile("bench");
  const perInterval: number[] = [];
  let reconciles = 0;
  const started = performance.now();
  for (let interval = 0; interval < INTERVALS; interval += 1) {
    const writesBefore = cluster.calls.statusWrites;
    for (let i = 0; i < nodeCount; i += 1) {
      const v = base[i];
      if (v === undefined) continue;
      // Node i writes at its own offset in the interval; counts grow every interval.
      now += (INTERVAL_SECONDS * 1000) / nodeCount;
      cluster.setReport({
        ...v,
        phase: "Running",
        totalDrops: v.totalDrops * (interval + 1),
        rows: v.rows.map((r) => ({ ...r, count: r.count * (interval + 1) })),
      });
      await reconciler.reconcile("bench");
      reconciles += 1;
    }
    perInterval.push(cluster.calls.statusWrites - writesBefore);
  }
  return { perInterval, reconciles, reconcileMs: (performance.now() - started) / reconciles };
}

const writeRuns: { nodes: number; perInterval: number[]; reconciles: number; reconcileMs: number }[] = [];
for (const n of MERGE_ONLY ? [] : SIZES) writeRuns.push({ nodes: n, ...(await writesPerInterval(n)) });

console.log(
  `node ${process.version}; rows ${ATTRIBUTED ? "attributed (pods' eth0 merged by workload)" : "unattributed"}${FLOWS ? `, each with ${MAX_FLOWS_PER_ROW} flows` : ""}`,
);
console.log(`reports: ${fmt(NODES)} nodes x ${ROWS_PER_NODE} rows = ${fmt(NODES * ROWS_PER_NODE)} rows, ${fmt(rawBytes / 2 ** 20)} MiB of report JSON`);
console.log(`ingest (zod + compact view): ${fmt(ingestMs)} ms total, ${fmt((ingestMs * 1000) / NODES)} us per report`);
console.log(
  `memory with ${fmt(NODES)} cached reports: heap ${fmt(before.heapMiB)} -> ${fmt(cached.heapMiB)} MiB (+${fmt(cached.heapMiB - before.heapMiB)}), rss ${fmt(before.rssMiB)} -> ${fmt(cached.rssMiB)} MiB, ${fmt(pool.size)} pooled strings`,
);
console.log(
  `merge + status for one update, ${fmt(NODES)} nodes, ${fmt(distinct)} distinct rows, top ${TOP_N}: ${mergeTimes.map(fmt).join(", ")} ms (median ${fmt(median(mergeTimes))} ms)`,
);
console.log(`top ${TOP_N} rows naming a workload: ${workloadRows}; top workload: ${topWorkload ?? "none"}`);
console.log(
  `status size at ${fmt(NODES)} nodes, all running: ${fmt(statusBytes5000)} bytes (${fmt(statusBytes5000 / 1024)} KiB), of which the top rows' stacks ${fmt(stackBytes5000)}, flows ${fmt(flowBytes5000)}`,
);
for (const s of sizes) console.log(`status size, ${fmt(s.nodes)} nodes (1 in 4 failing, 1 KiB messages): ${fmt(s.bytes)} bytes (${fmt(s.bytes / 1024)} KiB)`);
for (const w of writeRuns) {
  console.log(
    `status writes per ${INTERVAL_SECONDS}s interval, ${fmt(w.nodes)} nodes (${fmt(w.nodes)} report writes per interval): ${w.perInterval.join(", ")}; ` +
      `${fmt(w.reconciles)} reconciles, ${fmt(w.reconcileMs)} ms each on average`,
  );
}
views = [];
