// What the built-in kinds share: the fields every entry starts from, small accessors, and the
// label selector helpers the workload kinds validate with.
import { goSyntax } from "../crd/field-error.js";
import { isRecord, type ResourceType } from "./types.js";

export const str = (v: unknown): string => (typeof v === "string" ? v : "");
export const at = (obj: unknown, ...path: string[]): unknown => path.reduce<unknown>((node, key) => (isRecord(node) ? node[key] : undefined), obj);

export const base = {
  shortNames: [] as string[],
  categories: [] as string[],
  fieldLabels: {} as ResourceType["fieldLabels"],
  returnDeletedObject: false,
  verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
};

export function selectorText(sel: unknown): string {
  const s = isRecord(sel) ? sel : {};
  const labels = isRecord(s["matchLabels"])
    ? `map[string]string{${Object.entries(s["matchLabels"])
        .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
        .join(", ")}}`
    : "map[string]string(nil)";
  const exprs = Array.isArray(s["matchExpressions"]) ? goSyntax(s["matchExpressions"]) : "[]v1.LabelSelectorRequirement(nil)";
  return `v1.LabelSelector{MatchLabels:${labels}, MatchExpressions:${exprs}}`;
}

export function selectorMatches(sel: unknown, labels: Record<string, unknown>): boolean {
  if (!isRecord(sel)) return false;
  const ml = isRecord(sel["matchLabels"]) ? sel["matchLabels"] : {};
  if (!Object.entries(ml).every(([k, v]) => labels[k] === v)) return false;
  const exprs = Array.isArray(sel["matchExpressions"]) ? sel["matchExpressions"] : [];
  return exprs.every((e) => {
    if (!isRecord(e)) return false;
    const key = str(e["key"]);
    const values = Array.isArray(e["values"]) ? e["values"] : [];
    const has = Object.hasOwn(labels, key);
    switch (e["operator"]) {
      case "In":
        return has && values.includes(labels[key]);
      case "NotIn":
        return !has || !values.includes(labels[key]);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}
