// Whose cluster and credentials: kubectl's rules, through client-node's KubeConfig. --kubeconfig
// names one file; without it $KUBECONFIG (a list of files, merged) or ~/.kube/config, as kubectl
// reads them; --context picks a context other than the current one.
import { KubeConfig } from "@kubernetes/client-node";
import { EXIT } from "../api/exit-codes.js";
import { PluginError } from "./errors.js";

export interface KubeConfigFlags {
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

export function loadKubeConfig(flags: KubeConfigFlags): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (flags.kubeconfig === undefined) kc.loadFromDefault();
    else kc.loadFromFile(flags.kubeconfig);
  } catch (err) {
    const where = flags.kubeconfig ?? process.env["KUBECONFIG"] ?? "~/.kube/config";
    throw new PluginError(`cannot read the kubeconfig ${where}: ${err instanceof Error ? err.message : String(err)}`, EXIT.badArguments, { cause: err });
  }
  if (flags.context !== undefined) {
    if (kc.getContextObject(flags.context) === null) {
      const known = kc.getContexts().map((c) => c.name);
      throw new PluginError(
        `context "${flags.context}" does not exist in the kubeconfig${known.length > 0 ? ` (it has: ${known.join(", ")})` : ""}`,
        EXIT.badArguments,
      );
    }
    kc.setCurrentContext(flags.context);
  }
  return kc;
}

/** The API server's address, for messages about reaching it. */
export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? "(no cluster in the kubeconfig)";
}
