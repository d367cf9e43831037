// Label selectors (=, ==, !=, in, notin, exists, !exists, gt, lt) and field selectors (=, ==, !=),
// parsed and matched the way k8s.io/apimachinery's labels and fields packages do.
import { statusErrors } from "./status.js";
import type { JsonObject, ResourceType } from "./types.js";

type Requirement =
  | { op: "exists" | "!exists"; key: string }
  | { op: "=" | "!="; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: string[] }
  | { op: "gt" | "lt"; key: string; n: number };

export type LabelSelector = Requirement[];

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

const keyRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*\/)?([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const valueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string): string {
  if (!keyRe.test(key)) throw statusErrors.badRequest(`unable to parse requirement: invalid label key "${key}"`);
  return key;
}

function checkValue(value: string): string {
  if (value.length > 63 || !valueRe.test(value)) {
    throw statusErrors.badRequest(`unable to parse requirement: invalid label value: "${value}"`);
  }
  return value;
}

function parseRequirement(text: string): Requirement {
  let m = /^!\s*(\S+)$/.exec(text);
  if (m?.[1] !== undefined) return { op: "!exists", key: checkKey(m[1]) };
  m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(text);
  if (m?.[1] !== undefined && m[3] !== undefined) {
    const values = m[3].split(",").map((v) => checkValue(v.trim()));
    return { op: m[2] === "in" ? "in" : "notin", key: checkKey(m[1]), values };
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(\S*)$/.exec(text);
  if (m?.[1] !== undefined && m[3] !== undefined) {
    const key = checkKey(m[1]);
    if (m[2] === ">" || m[2] === "<") {
      const n = Number(m[3]);
      if (!/^-?\d+$/.test(m[3])) throw statusErrors.badRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
      return { op: m[2] === ">" ? "gt" : "lt", key, n };
    }
    return { op: m[2] === "!=" ? "!=" : "=", key, value: checkValue(m[3]) };
  }
  if (/^\S+$/.test(text)) return { op: "exists", key: checkKey(text) };
  throw statusErrors.badRequest(`unable to parse requirement: found '${text}', expected: in, notin, =, ==, !=, gt, lt`);
}

export function parseLabelSelector(text: string | null): LabelSelector {
  if (text === null || text.trim() === "") return [];
  return splitTopLevel(text).map(parseRequirement);
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "=":
        return has && v === r.value;
      case "!=":
        return !has || v !== r.value;
      case "in":
        return has && r.values.includes(v ?? "");
      case "notin":
        return !has || !r.values.includes(v ?? "");
      case "gt":
        return has && /^-?\d+$/.test(v ?? "") && Number(v) > r.n;
      case "lt":
        return has && /^-?\d+$/.test(v ?? "") && Number(v) < r.n;
    }
  });
}

export interface FieldRequirement {
  field: string;
  value: string;
  equal: boolean;
  get: (obj: JsonObject) => string;
}

const metaField = (key: "name" | "namespace") => (obj: JsonObject) => {
  const meta = obj["metadata"];
  const v = typeof meta === "object" && meta !== null ? (meta as Record<string, unknown>)[key] : undefined;
  return typeof v === "string" ? v : "";
};

export function parseFieldSelector(text: string | null, rt: ResourceType): FieldRequirement[] {
  if (text === null || text.trim() === "") return [];
  return text.split(",").map((part) => {
    const m = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (m?.[1] === undefined || m[3] === undefined) throw statusErrors.badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1];
    const get = field === "metadata.name" ? metaField("name") : field === "metadata.namespace" ? metaField("namespace") : rt.fieldLabels[field];
    if (get === undefined) {
      throw statusErrors.badRequest(
        rt.crd !== undefined ? `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"` : `field label not supported: ${field}`,
      );
    }
    return { field, value: m[3], equal: m[2] !== "!=", get };
  });
}

export function matchesFields(reqs: FieldRequirement[], obj: JsonObject): boolean {
  return reqs.every((r) => (r.get(obj) === r.value) === r.equal);
}
