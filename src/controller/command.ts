// `droptrace controller`: settings, Kubernetes client, /metrics /healthz /readyz, signals.
import { delimiter } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { EXIT } from "../api/exit-codes.js";
import { startHealthServer } from "../kube/health-server.js";
import { controllerMetrics } from "../api/metrics.js";
import { Controller } from "./controller.js";
import { ControllerFlagsSchema, controllerSettings, ControllerSettingsError, type ControllerSettings } from "./settings.js";

function kubeConfigFor(settings: ControllerSettings): KubeConfig {
  const kubeConfig = new KubeConfig();
  // A single file named by --kubeconfig; a $KUBECONFIG list, in-cluster config and
  // ~/.kube/config are what loadFromDefault already looks for.
  if (settings.kubeconfig !== undefined && !settings.kubeconfig.includes(delimiter)) kubeConfig.loadFromFile(settings.kubeconfig);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}

export async function controllerCommand(flags: Record<string, unknown>, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let settings: ControllerSettings;
  try {
    settings = controllerSettings(env, ControllerFlagsSchema.parse(flags));
  } catch (err) {
    if (err instanceof ControllerSettingsError) {
      log.error(err.message);
      return EXIT.badArguments;
    }
    throw err;
  }
  const metrics = controllerMetrics();
  const controller = new Controller({ kubeConfig: kubeConfigFor(settings), settings, log, metrics });
  const health = await startHealthServer({
    port: settings.metricsPort,
    registry: metrics.registry,
    healthy: () => controller.healthy(),
    ready: () => controller.ready(),
  });
  log.info(
    { namespace: settings.namespace, identity: settings.identity, agentImage: settings.agentImage, metricsPort: health.port },
    "droptrace controller starting",
  );

  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, "stopping: finishing reconciles in flight and releasing the leader lease");
      resolve();
    };
    process.once("SIGTERM", () => {
      stop("SIGTERM");
    });
    process.once("SIGINT", () => {
      stop("SIGINT");
    });
  });
  try {
    await Promise.race([controller.start(), stopped]);
    await stopped;
    await controller.stop();
    return EXIT.ok;
  } finally {
    await health.close();
  }
}
