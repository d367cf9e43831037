// Shapes and helpers shared by the Table printers: column definitions as metav1 serializes them,
// and the formatting helpers of k8s.io/kubernetes/pkg/printers (labels, selectors, containers).
import { translateTimestampSince } from "./human-duration.js";
import { docs, type DocKey } from "./printer-docs.js";
import { isRecord, type JsonObject } from "./types.js";

/** metav1.TableColumnDefinition: every field is serialized, empty or not. */
export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface RowCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export interface PrintedRow {
  cells: unknown[];
  conditions?: RowCondition[];
}

/** A server-side printer: its columns (wide ones included: the server always prints them) and one row per object. */
export interface Printer {
  columns: ColumnDefinition[];
  row(obj: JsonObject, now: number): PrintedRow;
}

export function column(
  name: string,
  type: string,
  description: DocKey | { text: string },
  opts: { priority?: number; format?: string } = {},
): ColumnDefinition {
  return {
    name,
    type,
    format: opts.format ?? "",
    description: typeof description === "string" ? docs[description] : description.text,
    priority: opts.priority ?? 0,
  };
}

export const none = (s: string): string => (s === "" ? "<none>" : s);
export const age = (obj: JsonObject, now: number): string => translateTimestampSince(meta(obj)["creationTimestamp"], now);
export const containersColumn = (): ColumnDefinition => column("Containers", "string", { text: "Names of each container in the template." }, { priority: 1 });
export const imagesColumn = (): ColumnDefinition =>
  column("Images", "string", { text: "Images referenced by each container in the template." }, { priority: 1 });
export const nameColumn = (): ColumnDefinition => column("Name", "string", "ObjectMeta.name", { format: "name" });
export const ageColumn = (): ColumnDefinition => column("Age", "string", "ObjectMeta.creationTimestamp");

export const str = (v: unknown): string => (typeof v === "string" ? v : "");
export const num = (v: unknown): number => (typeof v === "number" ? Math.trunc(v) : 0);
export const at = (obj: unknown, ...path: string[]): unknown => path.reduce<unknown>((node, key) => (isRecord(node) ? node[key] : undefined), obj);
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const meta = (obj: JsonObject): JsonObject => (isRecord(obj["metadata"]) ? obj["metadata"] : {});

/** labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty. */
export function formatLabels(labels: unknown): string {
  const entries = isRecord(labels) ? Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : [];
  return entries.length === 0 ? "<none>" : entries.map(([k, v]) => `${k}=${str(v)}`).join(",");
}

/** labels.Selector.String() of a LabelSelector: requirements sorted by key ("" for none). */
export function selectorString(selector: unknown): string {
  if (!isRecord(selector)) return "";
  const reqs: [string, string][] = [];
  if (isRecord(selector["matchLabels"])) for (const [k, v] of Object.entries(selector["matchLabels"])) reqs.push([k, `${k}=${str(v)}`]);
  for (const e of list(selector["matchExpressions"])) {
    if (!isRecord(e)) continue;
    const key = str(e["key"]);
    const values = list(e["values"]).map(str).sort();
    switch (e["operator"]) {
      case "In":
        reqs.push([key, `${key} in (${values.join(",")})`]);
        break;
      case "NotIn":
        reqs.push([key, `${key} notin (${values.join(",")})`]);
        break;
      case "Exists":
        reqs.push([key, key]);
        break;
      case "DoesNotExist":
        reqs.push([key, `!${key}`]);
        break;
    }
  }
  return reqs
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, text]) => text)
    .join(",");
}

/** metav1.FormatLabelSelector: the selector's string, `<none>` when it selects everything or nothing. */
export const formatLabelSelector = (selector: unknown): string => selectorString(selector) || "<none>";

/** layoutContainerCells: container names and images, comma-separated. */
export function containerCells(podSpec: unknown): [string, string] {
  const containers = list(at(podSpec, "containers")).filter(isRecord);
  return [containers.map((c) => str(c["name"])).join(","), containers.map((c) => str(c["image"])).join(",")];
}
