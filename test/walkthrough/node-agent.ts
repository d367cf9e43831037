// One agent pod of the walkthrough, as its own process: what `droptrace agent` does
// (src/agent/command.ts agentCommand), with the two things no machine here has swapped in.
//
// Real: the settings, read and validated from the environment the controller's DaemonSet gives
// the pod; the Kubernetes client, from KUBECONFIG, with the agent service account's token (so
// the chart's RBAC is what lets it write); /metrics and /healthz; the trace session, report
// writer, signals, final report and idling.
// Stand-ins: this host's kernel cannot load modules, so the node is the fixture's machine
// (a boot of Debian's 7.2 kernel: its kallsyms, tracefs format, modules) and SystemTap is the
// stand-in stap/staprun of test/trace/fakes replaying output the probe printed on that boot.
//
// The host's /proc, which names the pods behind rows' network namespaces, is a tree cluster.ts
// wrote for the node (WALKTHROUGH_PROC): the namespaces of the recording's pods, with kubelet's
// cgroup paths naming pods that exist in the API; the pods are read from the API server for real.
//
// Environment besides the pod's: WALKTHROUGH_NODE, a JSON NodeHost; WALKTHROUGH_PROC; FAKE_* for the stand-ins.
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { runAgent } from "../../src/agent/agent.js";
import { NodePods } from "../../src/agent/node-pods.js";
import { PodAttributor } from "../../src/agent/pod-attributor.js";
import { agentSettingsFromEnv } from "../../src/agent/settings.js";
import { startHealthServer } from "../../src/kube/health-server.js";
import { agentMetrics } from "../../src/api/metrics.js";
import { loadProbeScript } from "../../src/probe/script.js";
import { FAKE_STAP, FAKE_STAPRUN, fixtureHost, GUEST_FLOWS_DIR, guestHost, moduleTableOver } from "../trace/stand-ins.js";

export interface NodeHost {
  /** false: this node has no kernel headers (the package was never installed) */
  headers: boolean;
  /**
   * Which real machine the node is: `guest`, the boot of test/fixtures/kernel-guest-flows (the
   * kernel suite's guest, stap/droptrace.stp itself, reading flows and sockets), or `fixture`, the
   * boot of ../shared/fixtures.
   */
  machine: "guest" | "fixture";
  /** the port the pod's metrics port is reached at (each pod has its own network namespace; these share one) */
  metricsPort: number;
}

const noProcNet = () => undefined;
const host = JSON.parse(process.env["WALKTHROUGH_NODE"] ?? "") as NodeHost;
const log = pino({ level: process.env["DROPTRACE_LOG_LEVEL"] ?? "info" });
const settings = { ...agentSettingsFromEnv(process.env), metricsPort: host.metricsPort };
const kubeConfig = new KubeConfig();
kubeConfig.loadFromDefault();
const metrics = agentMetrics();
const health = await startHealthServer({ port: settings.metricsPort, registry: metrics.registry });
const controller = new AbortController();
const stop = () => {
  controller.abort();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
const pods = new NodePods(kubeConfig, settings.node, log, { initialMs: 200, maxMs: 2_000, resetAfterMs: 60_000 });
pods.start();
try {
  process.exitCode = await runAgent(settings, {
    api: kubeConfig.makeApiClient(CustomObjectsApi),
    log,
    metrics,
    signal: controller.signal,
    attributor: new PodAttributor(process.env["WALKTHROUGH_PROC"] ?? settings.hostProc, pods),
    trace: {
      // The recorded boots kept no /proc/net files, so these nodes cannot read the kernel's own
      // counters and their reports say so; the real-kernel suite shows them read and compared.
      host:
        host.machine === "fixture"
          ? fixtureHost({ headers: host.headers, procNet: noProcNet })
          : guestHost({ headers: host.headers, procNet: noProcNet }, GUEST_FLOWS_DIR),
      modules: moduleTableOver(process.env["FAKE_MODULES_FILE"] ?? ""),
      script: loadProbeScript(),
      stapCommand: FAKE_STAP,
      staprunCommand: FAKE_STAPRUN,
    },
  });
} finally {
  await pods.stop();
  await health.close();
}
