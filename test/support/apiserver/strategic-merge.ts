// Strategic merge patch (application/strategic-merge-patch+json) for the built-in kinds: maps
// merge, lists with a patchMergeKey merge item by item (containers by name, ports by port, ...),
// lists of primitives with the merge strategy (finalizers) are unions, other lists are replaced.
// The directives kubectl's three-way patches carry are understood: `$patch: replace|delete|merge`,
// `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`.
// The merge keys come from a table of the fields these kinds use, not from the Go structs' tags.
import { isRecord, type JsonObject } from "./types.js";

/** patchMergeKey of the built-in list fields this server's kinds have (by field name; `ports` depends on where). */
const mergeKeys: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  imagePullSecrets: "name",
  hostAliases: "ip",
  ownerReferences: "uid",
  conditions: "type",
  secrets: "name",
  taints: "key",
  addresses: "type",
  podIPs: "ip",
  hostIPs: "ip",
  resourceClaims: "name",
  topologySpreadConstraints: "topologyKey",
};

/** Lists of primitives whose patch strategy is merge (a union), not replace. */
const mergedPrimitiveLists = new Set(["finalizers"]);

function mergeKeyFor(field: string, items: unknown[]): string | undefined {
  if (field === "ports") return items.some((i) => isRecord(i) && i["containerPort"] !== undefined) ? "containerPort" : "port";
  return mergeKeys[field];
}

const directive = (k: string) => k.startsWith("$");

export class StrategicMergeError extends Error {}

function mergeList(field: string, original: unknown, patch: unknown[]): unknown[] {
  const base: unknown[] = Array.isArray(original) ? (structuredClone(original) as unknown[]) : [];
  const replace = patch.find((p) => isRecord(p) && p["$patch"] === "replace");
  if (replace !== undefined) return patch.filter((p) => p !== replace);
  const key = mergeKeyFor(field, [...base, ...patch]);
  if (patch.every((p) => !isRecord(p))) {
    if (!mergedPrimitiveLists.has(field)) return structuredClone(patch);
    return [...base, ...patch.filter((p) => !base.includes(p))];
  }
  if (key === undefined) return patch.filter((p) => !(isRecord(p) && p["$patch"] !== undefined));
  let result = base;
  for (const item of patch) {
    if (!isRecord(item)) continue;
    const k = item[key];
    const at = result.findIndex((r) => isRecord(r) && r[key] === k);
    if (item["$patch"] === "delete") {
      if (at >= 0) result = result.filter((_, i) => i !== at);
      continue;
    }
    if (at >= 0) result[at] = strategicMerge(result[at], item);
    else result.push(strategicMerge(undefined, item));
  }
  return result;
}

/** Orders a list as `$setElementOrder/<field>` says: listed items first, in that order, then the rest. */
function ordered(field: string, list: unknown[], order: unknown[]): unknown[] {
  const key = mergeKeyFor(field, list);
  const id = (v: unknown) => (isRecord(v) && key !== undefined ? v[key] : v);
  const wanted = order.map(id);
  const rank = (v: unknown) => {
    const i = wanted.findIndex((w) => w === id(v));
    return i < 0 ? wanted.length : i;
  };
  return list
    .map((v, i) => ({ v, i }))
    .sort((a, b) => rank(a.v) - rank(b.v) || a.i - b.i)
    .map((x) => x.v);
}

/** Applies a strategic merge patch to a built-in object (a copy is returned). */
export function strategicMerge(original: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  if (patch["$patch"] === "replace") {
    const copy = structuredClone(patch);
    delete copy["$patch"];
    return copy;
  }
  if (patch["$patch"] === "delete") return undefined;
  if (patch["$patch"] !== undefined && patch["$patch"] !== "merge") throw new StrategicMergeError(`Unknown patch type: ${JSON.stringify(patch["$patch"])}`);
  const out: JsonObject = isRecord(original) ? structuredClone(original) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (directive(k)) continue;
    if (v === null) Reflect.deleteProperty(out, k);
    else if (Array.isArray(v)) out[k] = mergeList(k, out[k], v);
    else if (isRecord(v)) {
      const merged = strategicMerge(out[k], v);
      if (merged === undefined) Reflect.deleteProperty(out, k);
      else out[k] = merged;
    } else out[k] = v;
  }
  for (const [k, v] of Object.entries(patch)) {
    const deleteFrom = /^\$deleteFromPrimitiveList\/(.+)$/.exec(k)?.[1];
    if (deleteFrom !== undefined && Array.isArray(v) && Array.isArray(out[deleteFrom])) out[deleteFrom] = out[deleteFrom].filter((x) => !v.includes(x));
    const orderOf = /^\$setElementOrder\/(.+)$/.exec(k)?.[1];
    if (orderOf !== undefined && Array.isArray(v) && Array.isArray(out[orderOf])) out[orderOf] = ordered(orderOf, out[orderOf], v);
  }
  const retain = patch["$retainKeys"];
  if (Array.isArray(retain)) for (const k of Object.keys(out)) if (!retain.includes(k)) Reflect.deleteProperty(out, k);
  return out;
}
