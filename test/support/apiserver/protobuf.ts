// Request bodies in Kubernetes' protobuf encoding (application/vnd.kubernetes.protobuf), which
// client-go's typed clients send for built-in kinds: helm stores its releases in Secrets this way,
// and `kubectl create namespace|secret|configmap|serviceaccount` and typed deletes use it too.
// Decoded here into the JSON the rest of the server works with, for the few messages those send:
// Namespace, Secret, ConfigMap, ServiceAccount, SelfSubjectAccessReview (kubectl auth can-i),
// DeleteOptions. Answers are always JSON (which
// those clients accept). Any other kind in protobuf answers 415.
import { isRecord, type JsonObject } from "./types.js";

type Scalar = "string" | "bytes" | "bool" | "int64" | "int32";
type FieldType = Scalar | { message: Schema } | { map: Scalar };
interface FieldDef {
  name: string;
  type: FieldType;
  repeated?: boolean;
}
type Schema = Record<number, FieldDef>;

const time: Schema = { 1: { name: "seconds", type: "int64" }, 2: { name: "nanos", type: "int32" } };
const ownerReference: Schema = {
  1: { name: "kind", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
  6: { name: "controller", type: "bool" },
  7: { name: "blockOwnerDeletion", type: "bool" },
};
const objectMeta: Schema = {
  1: { name: "name", type: "string" },
  2: { name: "generateName", type: "string" },
  3: { name: "namespace", type: "string" },
  5: { name: "uid", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "generation", type: "int64" },
  8: { name: "creationTimestamp", type: { message: time } },
  9: { name: "deletionTimestamp", type: { message: time } },
  10: { name: "deletionGracePeriodSeconds", type: "int64" },
  11: { name: "labels", type: { map: "string" } },
  12: { name: "annotations", type: { map: "string" } },
  13: { name: "ownerReferences", type: { message: ownerReference }, repeated: true },
  14: { name: "finalizers", type: "string", repeated: true },
};
const metadata = { name: "metadata", type: { message: objectMeta } };
const objectReference: Schema = {
  1: { name: "kind", type: "string" },
  2: { name: "namespace", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "fieldPath", type: "string" },
};

const schemas: Record<string, Schema> = {
  "v1/Secret": {
    1: metadata,
    2: { name: "data", type: { map: "bytes" } },
    3: { name: "type", type: "string" },
    4: { name: "stringData", type: { map: "string" } },
    5: { name: "immutable", type: "bool" },
  },
  "v1/ConfigMap": {
    1: metadata,
    2: { name: "data", type: { map: "string" } },
    3: { name: "binaryData", type: { map: "bytes" } },
    4: { name: "immutable", type: "bool" },
  },
  "v1/Namespace": {
    1: metadata,
    2: { name: "spec", type: { message: { 1: { name: "finalizers", type: "string", repeated: true } } } },
    3: { name: "status", type: { message: { 1: { name: "phase", type: "string" } } } },
  },
  "v1/ServiceAccount": {
    1: metadata,
    2: { name: "secrets", type: { message: objectReference }, repeated: true },
    3: { name: "imagePullSecrets", type: { message: { 1: { name: "name", type: "string" } } }, repeated: true },
    4: { name: "automountServiceAccountToken", type: "bool" },
  },
  "authorization.k8s.io/v1/SelfSubjectAccessReview": {
    1: metadata,
    2: {
      name: "spec",
      type: {
        message: {
          1: {
            name: "resourceAttributes",
            type: {
              message: Object.fromEntries(
                ["namespace", "verb", "group", "version", "resource", "subresource", "name"].map((n, i) => [i + 1, { name: n, type: "string" as const }]),
              ),
            },
          },
          2: { name: "nonResourceAttributes", type: { message: { 1: { name: "path", type: "string" }, 2: { name: "verb", type: "string" } } } },
        },
      },
    },
  },
  // DeleteOptions is registered in every group version; the kind is what matters.
  DeleteOptions: {
    1: { name: "gracePeriodSeconds", type: "int64" },
    2: { name: "preconditions", type: { message: { 1: { name: "uid", type: "string" }, 2: { name: "resourceVersion", type: "string" } } } },
    3: { name: "orphanDependents", type: "bool" },
    4: { name: "propagationPolicy", type: "string" },
    5: { name: "dryRun", type: "string", repeated: true },
  },
};

export class UnsupportedProtobuf extends Error {}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new UnsupportedProtobuf("truncated varint");
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  bytes(): Buffer {
    const n = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new UnsupportedProtobuf(`wire type ${wire}`);
  }
}

function scalar(type: Scalar, r: Reader, wire: number): unknown {
  if (type === "string") return r.bytes().toString("utf8");
  if (type === "bytes") return r.bytes().toString("base64");
  if (wire !== 0) throw new UnsupportedProtobuf(`wire type ${wire} for ${type}`);
  const v = r.varint();
  if (type === "bool") return v !== 0n;
  return Number(BigInt.asIntN(64, v));
}

/** A Time message as metav1.Time marshals to JSON: RFC 3339, seconds. */
const timeText = (t: JsonObject) => new Date(Number(t["seconds"] ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

function decodeMessage(buf: Buffer, schema: Schema): JsonObject {
  const r = new Reader(buf);
  const out: JsonObject = {};
  while (!r.done) {
    const tag = Number(r.varint());
    const field = schema[tag >> 3];
    const wire = tag & 7;
    if (field === undefined) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    if (typeof field.type === "string") value = scalar(field.type, r, wire);
    else if ("message" in field.type) {
      const msg = decodeMessage(r.bytes(), field.type.message);
      value = field.type.message === time ? timeText(msg) : msg;
    } else {
      const entry = new Reader(r.bytes());
      let key = "";
      let v: unknown = "";
      while (!entry.done) {
        const t = Number(entry.varint());
        if (t >> 3 === 1) key = entry.bytes().toString("utf8");
        else if (t >> 3 === 2) v = scalar(field.type.map, entry, t & 7);
        else entry.skip(t & 7);
      }
      const existing = out[field.name];
      const map: JsonObject = isRecord(existing) ? existing : {};
      map[key] = v;
      out[field.name] = map;
      continue;
    }
    const previous = out[field.name];
    if (field.repeated === true) out[field.name] = [...(Array.isArray(previous) ? (previous as unknown[]) : []), value];
    // Go's JSON leaves out empty strings, zero numbers and false (omitempty); protobuf writes them.
    else if (value !== "" && value !== 0 && value !== false) out[field.name] = value;
  }
  return out;
}

const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** The JSON object a protobuf request body holds; throws UnsupportedProtobuf for kinds not listed above. */
export function decodeProtobuf(raw: Buffer): JsonObject {
  if (!raw.subarray(0, 4).equals(magic)) throw new UnsupportedProtobuf("no k8s protobuf envelope");
  const unknown = decodeMessage(raw.subarray(4), {
    1: { name: "typeMeta", type: { message: { 1: { name: "apiVersion", type: "string" }, 2: { name: "kind", type: "string" } } } },
    2: { name: "raw", type: "bytes" },
  });
  const typeMeta = isRecord(unknown["typeMeta"]) ? unknown["typeMeta"] : {};
  const apiVersion = typeof typeMeta["apiVersion"] === "string" ? typeMeta["apiVersion"] : "";
  const kind = typeof typeMeta["kind"] === "string" ? typeMeta["kind"] : "";
  const schema = schemas[`${apiVersion}/${kind}`] ?? (kind === "DeleteOptions" ? schemas["DeleteOptions"] : undefined);
  if (schema === undefined) throw new UnsupportedProtobuf(`${apiVersion} ${kind}`);
  const body = Buffer.from(typeof unknown["raw"] === "string" ? unknown["raw"] : "", "base64");
  return { apiVersion, kind, ...decodeMessage(body, schema) };
}
