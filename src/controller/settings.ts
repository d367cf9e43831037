// The controller's settings: environment (set by the Helm chart) and command-line flags,
// validated with zod here and nowhere else. Flags win over the environment.
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { describeFieldErrors, fieldErrors } from "../api/field-errors.js";
import { DEFAULT_CACHE_DIR } from "../api/constants.js";
import { TolerationSchema } from "../api/kubernetes.js";

/** Environment variable names; the chart sets these, so they never change (src/controller/README.md). */
export const CONTROLLER_ENV = {
  namespace: "POD_NAMESPACE",
  podName: "POD_NAME",
  agentImage: "DROPTRACE_AGENT_IMAGE",
  agentServiceAccount: "DROPTRACE_AGENT_SERVICE_ACCOUNT",
  agentCachePath: "DROPTRACE_AGENT_CACHE_PATH",
  agentPriorityClass: "DROPTRACE_AGENT_PRIORITY_CLASS",
  agentResources: "DROPTRACE_AGENT_RESOURCES",
  agentTolerations: "DROPTRACE_AGENT_TOLERATIONS",
  leaderElect: "DROPTRACE_LEADER_ELECT",
  metricsPort: "DROPTRACE_METRICS_PORT",
} as const;

const AGENT_SERVICE_ACCOUNT_DEFAULT = "droptrace-agent";
const METRICS_PORT_DEFAULT = 8080;

/** What an agent gets when DROPTRACE_AGENT_RESOURCES is not set: a cold compile needs about 1 GiB. */
const DEFAULT_AGENT_RESOURCES: AgentResources = {
  requests: { cpu: "100m", memory: "256Mi" },
  limits: { cpu: "1", memory: "1Gi" },
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A resource.Quantity as Kubernetes spells it: "100m", "1Gi", "0.5", "2e3". */
const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$/;

const quantities = z.record(z.string().min(1), z.string().regex(QUANTITY, { message: 'a quantity such as "100m", "512Mi" or "2"' }));
const AgentResourcesSchema = z.strictObject({ requests: quantities.optional(), limits: quantities.optional() });
export type AgentResources = z.infer<typeof AgentResourcesSchema>;

/** A JSON document in an environment variable, then validated by `schema`. */
function jsonIn<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx): unknown => {
      try {
        return JSON.parse(text);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: `must be JSON: ${err instanceof Error ? err.message : String(err)}` });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** Unset and empty mean the same: a Helm value left blank renders as "". */
const optionalText = z
  .string()
  .optional()
  .transform((s) => {
    const text = s?.trim();
    return text === undefined || text === "" ? undefined : text;
  });

const blankIsUnset = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema);

const EnvSchema = z.object({
  [CONTROLLER_ENV.namespace]: z
    .string({ message: "the namespace agents run in: set POD_NAMESPACE from the downward API, or pass --namespace" })
    .regex(DNS_LABEL, { message: "a namespace name: lowercase letters, digits and '-'" }),
  [CONTROLLER_ENV.podName]: optionalText,
  [CONTROLLER_ENV.agentImage]: z.string({ message: "the agent image: set DROPTRACE_AGENT_IMAGE or pass --agent-image" }).trim().min(1, {
    message: "the agent image: set DROPTRACE_AGENT_IMAGE or pass --agent-image",
  }),
  [CONTROLLER_ENV.agentServiceAccount]: z.string().regex(DNS_SUBDOMAIN, { message: "a service account name" }).default(AGENT_SERVICE_ACCOUNT_DEFAULT),
  [CONTROLLER_ENV.agentCachePath]: z.string().startsWith("/", { message: "an absolute path on the node" }).default(DEFAULT_CACHE_DIR),
  [CONTROLLER_ENV.agentPriorityClass]: optionalText,
  [CONTROLLER_ENV.agentResources]: blankIsUnset(jsonIn(AgentResourcesSchema).optional()),
  [CONTROLLER_ENV.agentTolerations]: blankIsUnset(jsonIn(z.array(TolerationSchema)).optional()),
  [CONTROLLER_ENV.leaderElect]: z.stringbool().default(true),
  [CONTROLLER_ENV.metricsPort]: z.coerce.number().int().min(0).max(65535).default(METRICS_PORT_DEFAULT),
});

export interface ControllerSettings {
  namespace: string;
  /** This replica's name in the leader Lease: the pod name (or host name) plus a random suffix, as client-go does. */
  identity: string;
  agentImage: string;
  agentServiceAccount: string;
  agentCachePath: string;
  agentPriorityClass: string | undefined;
  agentResources: AgentResources;
  /** Added to every trace's own tolerations. */
  agentTolerations: z.infer<typeof TolerationSchema>[];
  leaderElect: boolean;
  metricsPort: number;
  /** Undefined: in-cluster config, then $KUBECONFIG, then ~/.kube/config. */
  kubeconfig: string | undefined;
}

/** The `droptrace controller` flags that override the environment. */
export const ControllerFlagsSchema = z.object({
  kubeconfig: z.string().optional(),
  namespace: z.string().optional(),
  agentImage: z.string().optional(),
  metricsPort: z.string().optional(),
});
export type ControllerFlags = z.infer<typeof ControllerFlagsSchema>;

export class ControllerSettingsError extends Error {
  override readonly name = "ControllerSettingsError";
}

export function controllerSettings(env: NodeJS.ProcessEnv, flags: ControllerFlags = {}): ControllerSettings {
  const merged: Record<string, string | undefined> = {
    ...env,
    ...(flags.namespace === undefined ? {} : { [CONTROLLER_ENV.namespace]: flags.namespace }),
    ...(flags.agentImage === undefined ? {} : { [CONTROLLER_ENV.agentImage]: flags.agentImage }),
    ...(flags.metricsPort === undefined ? {} : { [CONTROLLER_ENV.metricsPort]: flags.metricsPort }),
  };
  const parsed = EnvSchema.safeParse(merged);
  if (!parsed.success) {
    throw new ControllerSettingsError(`the controller's settings are invalid: ${describeFieldErrors(fieldErrors(parsed.error))}`);
  }
  const e = parsed.data;
  return {
    namespace: e[CONTROLLER_ENV.namespace],
    identity: `${e[CONTROLLER_ENV.podName] ?? hostname()}_${randomUUID()}`,
    agentImage: e[CONTROLLER_ENV.agentImage],
    agentServiceAccount: e[CONTROLLER_ENV.agentServiceAccount],
    agentCachePath: e[CONTROLLER_ENV.agentCachePath],
    agentPriorityClass: e[CONTROLLER_ENV.agentPriorityClass],
    agentResources: e[CONTROLLER_ENV.agentResources] ?? DEFAULT_AGENT_RESOURCES,
    agentTolerations: e[CONTROLLER_ENV.agentTolerations] ?? [],
    leaderElect: e[CONTROLLER_ENV.leaderElect],
    metricsPort: e[CONTROLLER_ENV.metricsPort],
    kubeconfig: flags.kubeconfig === undefined || flags.kubeconfig === "" ? undefined : flags.kubeconfig,
  };
}
