// `droptrace agent`: the environment the DaemonSet gave, the host's kbuild links, the Kubernetes
// client, /metrics and /healthz, and the signals that stop the trace.
import { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { HOST_USR_LIB_MOUNT } from "../api/constants.js";
import { EXIT } from "../api/exit-codes.js";
import { agentMetrics } from "../api/metrics.js";
import { startHealthServer } from "../kube/health-server.js";
import { runAgent } from "./agent.js";
import { linkHostKbuild } from "./host-kbuild.js";
import { agentSettingsFromEnv, AgentSettingsError, type AgentSettings } from "./settings.js";
import { reportApi } from "./api-requests.js";
import { NodePods } from "./node-pods.js";
import { PodAttributor } from "./pod-attributor.js";
import { DEFAULT_BACKOFF } from "./report-writer.js";

/** The `droptrace agent` subcommand: environment, Kubernetes client, metrics, signals. */
export async function agentCommand(log: Logger): Promise<number> {
  let settings: AgentSettings;
  try {
    settings = agentSettingsFromEnv(process.env);
  } catch (err) {
    if (err instanceof AgentSettingsError) {
      log.error(err.message);
      return EXIT.badArguments;
    }
    throw err;
  }
  try {
    const linked = await linkHostKbuild(HOST_USR_LIB_MOUNT, "/usr/lib");
    if (linked.length > 0) log.info({ linked }, "linked the host's kernel build scripts for the headers");
  } catch (err) {
    log.warn({ err }, "cannot link the host's linux-kbuild directories: compiling against Debian headers may fail");
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const metrics = agentMetrics();
  const health = await startHealthServer({ port: settings.metricsPort, registry: metrics.registry });
  const controller = new AbortController();
  const stop = () => {
    log.info("SIGTERM: stopping the probe and writing the final report");
    controller.abort();
  };
  // `on`, not `once`: execa's exit hook re-raises a signal no other listener is left to handle, which would kill the agent before its final report.
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // The node's pods name the pod UIDs found in the host's /proc; listed and watched in the
  // background, so a slow or failing API server delays names, never the trace.
  const pods = new NodePods(kubeConfig, settings.node, log, { ...DEFAULT_BACKOFF, resetAfterMs: 60_000 });
  pods.start();
  try {
    return await runAgent(settings, {
      api: reportApi(kubeConfig),
      log,
      metrics,
      signal: controller.signal,
      attributor: new PodAttributor(settings.hostProc, pods, settings.hostCgroup),
      podLabels: (uid) => pods.labels(uid),
    });
  } finally {
    await pods.stop();
    await health.close();
  }
}
