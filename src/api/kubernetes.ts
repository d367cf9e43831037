// Shapes borrowed from core Kubernetes, validated as the API server validates them.
import { z } from "zod";

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label value: at most 63 characters, alphanumeric at both ends, may be empty. */
const LABEL_VALUE_PATTERN = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";

/** A qualified name ("app", "kubernetes.io/os"), as label and taint keys are. */
export function isQualifiedName(key: string): boolean {
  const slash = key.indexOf("/");
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) return false;
  if (slash === -1) return true;
  const prefix = key.slice(0, slash);
  return prefix.length > 0 && prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix);
}

export const LabelValueSchema = z.string().max(63).regex(new RegExp(LABEL_VALUE_PATTERN), {
  message: "a label value must be at most 63 characters, start and end with a letter or digit, and contain only letters, digits, '-', '_' and '.'",
});

/**
 * A taint key as the CRD's CEL rule checks it: an optional DNS prefix, then a name of at
 * most 63 characters. (The prefix's 253-character limit is left to the API server's
 * own DaemonSet validation; the key's total length is capped instead.)
 */
const TAINT_KEY_PATTERN = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const TAINT_KEY_MAX = 317;
const taintKeyRegExp = new RegExp(TAINT_KEY_PATTERN);

export const TolerationSchema = z
  .strictObject({
    key: z.string().max(TAINT_KEY_MAX).optional(),
    operator: z.enum(["Exists", "Equal"]).optional(),
    value: LabelValueSchema.optional(),
    effect: z.enum(["", "NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  // The four rules below are the CRD's x-kubernetes-validations on a toleration, word for word.
  .refine((t) => t.key === undefined || t.key === "" || taintKeyRegExp.test(t.key), {
    message: "key must be a qualified name such as 'example.com/dedicated'",
    path: ["key"],
  })
  .refine((t) => t.operator !== "Exists" || t.value === undefined || t.value === "", {
    message: "value must be empty when operator is Exists",
  })
  .refine((t) => (t.key !== undefined && t.key !== "") || t.operator === "Exists", {
    message: "operator must be Exists when key is empty",
  })
  .refine((t) => t.tolerationSeconds === undefined || t.effect === "NoExecute", {
    message: "tolerationSeconds may only be set when effect is NoExecute",
  });

/** A namespace name: a DNS-1123 label, as the API server checks it. */
export const NAMESPACE_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
export const NamespaceNameSchema = z.string().max(63).regex(new RegExp(NAMESPACE_NAME_PATTERN), {
  message: "a namespace name is at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
});

/** A label key's length at most: a 253-character prefix, '/', a 63-character name. */
const LABEL_KEY_MAX = TAINT_KEY_MAX;

export const SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;

const LABEL_KEY_MESSAGE = "key must be a label key such as 'app.kubernetes.io/name'";
const VALUES_MESSAGE = "values must be non-empty when operator is In or NotIn, and empty when it is Exists or DoesNotExist";

/** metav1.LabelSelectorRequirement, validated as the API server validates one in a selector. */
export function labelSelectorRequirementSchema(maxValues: number) {
  return (
    z
      .strictObject({
        key: z.string().max(LABEL_KEY_MAX),
        operator: z.enum(SELECTOR_OPERATORS),
        values: z.array(LabelValueSchema).max(maxValues).optional(),
      })
      // The CRD's x-kubernetes-validations on a requirement, word for word.
      .refine((r) => isQualifiedName(r.key), { message: LABEL_KEY_MESSAGE, path: ["key"] })
      .refine((r) => (r.operator === "In" || r.operator === "NotIn" ? (r.values?.length ?? 0) > 0 : (r.values?.length ?? 0) === 0), {
        message: VALUES_MESSAGE,
        path: ["values"],
      })
  );
}

/** metav1.LabelSelector: every matchLabels pair and every requirement must hold; an empty selector matches every pod. */
export function labelSelectorSchema(bounds: { labels: number; expressions: number; values: number }) {
  return z.strictObject({
    matchLabels: z
      .record(z.string(), LabelValueSchema)
      .refine((labels) => Object.keys(labels).length <= bounds.labels, { message: `matchLabels holds at most ${bounds.labels} labels` })
      // The CRD checks values only, as for nodeSelector: CEL over map keys costs too much. The controller refuses the trace.
      .refine((labels) => Object.keys(labels).every(isQualifiedName), { message: "matchLabels keys must be label keys such as 'app.kubernetes.io/name'" })
      .optional(),
    matchExpressions: z.array(labelSelectorRequirementSchema(bounds.values)).max(bounds.expressions).optional(),
  });
}
export interface LabelSelector {
  matchLabels?: Record<string, string> | undefined;
  matchExpressions?: readonly { key: string; operator: (typeof SELECTOR_OPERATORS)[number]; values?: readonly string[] | undefined }[] | undefined;
}

/** Whether `labels` satisfy `selector`, as labels.Selector from metav1.LabelSelectorAsSelector does. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    const listed = value !== undefined && (r.values ?? []).includes(value);
    switch (r.operator) {
      case "In":
        if (!listed) return false;
        break;
      case "NotIn":
        // Kubernetes: a pod without the label is not in the set, so NotIn matches it.
        if (listed) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
    }
  }
  return true;
}

/** metav1.Condition. */
export const ConditionSchema = z.strictObject({
  type: z.string().min(1).max(316),
  status: z.enum(["True", "False", "Unknown"]),
  observedGeneration: z.number().int().min(0).optional(),
  lastTransitionTime: z.iso.datetime({ offset: true }),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32768),
});
export type Condition = z.infer<typeof ConditionSchema>;

/** The part of ObjectMeta droptrace reads; the API server owns the rest. */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().min(1).max(253).regex(DNS_SUBDOMAIN, {
    message: "a name must be a lowercase DNS subdomain: letters, digits, '-' and '.', alphanumeric at both ends",
  }),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.union([z.string(), z.date()]).optional(),
  deletionTimestamp: z.union([z.string(), z.date()]).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
