// JSON merge patch (RFC 7386) and JSON patch (RFC 6902), with error texts close to the
// evanphx/json-patch library the API server uses.
import { isDeepStrictEqual } from "node:util";
import { isRecord } from "./types.js";

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) Reflect.deleteProperty(out, k);
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A JSON patch that cannot be applied: the server answers 422. */
export class PatchApplyError extends Error {}
/** A body that is not a JSON patch at all: the server answers 400. */
export class PatchDecodeError extends Error {}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function decodePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new PatchApplyError(`JSON pointer must start with /: ${pointer}`);
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

type Container = Record<string, unknown> | unknown[];

/** The parent container of a pointer's last segment, and that segment. */
function locate(doc: unknown, pointer: string, op: string): [Container, string] {
  const segs = decodePointer(pointer);
  const last = segs.pop();
  if (last === undefined) throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
  let node: unknown = doc;
  for (const seg of segs) {
    if (Array.isArray(node)) node = node[Number(seg)];
    else if (isRecord(node)) node = node[seg];
    else node = undefined;
    if (node === undefined) throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
  }
  if (!Array.isArray(node) && !isRecord(node)) {
    throw new PatchApplyError(`${op} operation does not apply: doc is missing path: "${pointer}": missing value`);
  }
  return [node, last];
}

function arrayIndex(arr: unknown[], seg: string, allowEnd: boolean): number {
  if (seg === "-" && allowEnd) return arr.length;
  if (!/^\d+$/.test(seg)) throw new PatchApplyError(`Unable to access invalid index: ${seg}: invalid index referenced`);
  const i = Number(seg);
  if (i > arr.length || (!allowEnd && i === arr.length)) {
    throw new PatchApplyError(`Unable to access invalid index: ${i}: invalid index referenced`);
  }
  return i;
}

function get(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const seg of decodePointer(pointer)) {
    if (Array.isArray(node)) node = node[Number(seg)];
    else if (isRecord(node)) node = Object.hasOwn(node, seg) ? node[seg] : undefined;
    else return undefined;
  }
  return node;
}

function remove(doc: unknown, pointer: string): unknown {
  const [parent, key] = locate(doc, pointer, "remove");
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, key, false);
    return parent.splice(i, 1)[0];
  }
  if (!Object.hasOwn(parent, key)) throw new PatchApplyError(`Unable to remove nonexistent key: ${key}: missing value`);
  const v = parent[key];
  Reflect.deleteProperty(parent, key);
  return v;
}

function add(doc: unknown, pointer: string, value: unknown): unknown {
  if (pointer === "") return structuredClone(value);
  const [parent, key] = locate(doc, pointer, "add");
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, structuredClone(value));
  else parent[key] = structuredClone(value);
  return doc;
}

function replace(doc: unknown, pointer: string, value: unknown): unknown {
  if (pointer === "") return structuredClone(value);
  const [parent, key] = locate(doc, pointer, "replace");
  if (Array.isArray(parent)) parent[arrayIndex(parent, key, false)] = structuredClone(value);
  else {
    if (!Object.hasOwn(parent, key)) {
      throw new PatchApplyError(`replace operation does not apply: doc is missing key: ${pointer}: missing value`);
    }
    parent[key] = structuredClone(value);
  }
  return doc;
}

function decode(patch: unknown): Operation[] {
  if (!Array.isArray(patch)) throw new PatchDecodeError("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  return patch.map((op) => {
    if (!isRecord(op) || typeof op["op"] !== "string") throw new PatchDecodeError("json: cannot unmarshal operation");
    const o: Operation = { op: op["op"], path: typeof op["path"] === "string" ? op["path"] : "" };
    if (typeof op["from"] === "string") o.from = op["from"];
    if ("value" in op) o.value = op["value"];
    return o;
  });
}

export function jsonPatch(target: unknown, patch: unknown): unknown {
  let doc: unknown = structuredClone(target);
  for (const op of decode(patch)) {
    switch (op.op) {
      case "add":
        doc = add(doc, op.path, op.value);
        break;
      case "remove":
        remove(doc, op.path);
        break;
      case "replace":
        doc = replace(doc, op.path, op.value);
        break;
      case "move": {
        const v = remove(doc, op.from ?? "");
        doc = add(doc, op.path, v);
        break;
      }
      case "copy": {
        const v = get(doc, op.from ?? "");
        if (v === undefined) throw new PatchApplyError(`copy operation does not apply: doc is missing from path: ${op.from ?? ""}: missing value`);
        doc = add(doc, op.path, v);
        break;
      }
      case "test": {
        const v = get(doc, op.path);
        if (!isDeepStrictEqual(v ?? null, op.value ?? null)) throw new PatchApplyError(`testing value ${op.path} failed: test failed`);
        break;
      }
      default:
        throw new PatchApplyError(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}
