// Server-side printing: a get, list or watch event answered as a meta.k8s.io Table when the client
// asks for one (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, what kubectl get sends).
// Custom resources print a Name column plus their version's additionalPrinterColumns (an Age
// column when it declares none), as the apiextensions table convertor does; built-in kinds use
// printers.ts; anything else the default convertor's Name and Created At.
import { translateTimestampSince } from "./human-duration.js";
import { evaluateSimplePath, goJson } from "./jsonpath.js";
import { column, nameColumn, str, type ColumnDefinition, type Printer } from "./printer-helpers.js";
import { builtinPrinters } from "./printers.js";
import { statusErrors } from "./status.js";
import { apiVersionOf, isRecord, metaOf, resourceKey, type JsonObject, type ResourceType } from "./types.js";

export type IncludeObject = "Metadata" | "Object" | "None";

export interface TableOptions {
  /** meta.k8s.io/v1 or meta.k8s.io/v1beta1, as negotiated */
  apiVersion: string;
  includeObject: IncludeObject;
  /** leave out columnDefinitions (every watch event after the first) */
  noHeaders: boolean;
}

/** The includeObject query parameter, checked as ValidateTableOptions does. */
export function includeObjectParam(q: URLSearchParams): IncludeObject {
  const v = q.get("includeObject") ?? "";
  if (v === "" || v === "Metadata") return "Metadata";
  if (v === "Object" || v === "None") return v;
  throw statusErrors.badRequest(
    `Unable to convert to Table as requested: includeObject: Invalid value: ${JSON.stringify(v)}: must be 'Metadata', 'Object', 'None', or empty`,
  );
}

interface CrdColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
}

const defaultAgeColumn: CrdColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

function crdColumns(rt: ResourceType): CrdColumn[] {
  const spec = rt.crd?.raw["spec"];
  const versions: unknown[] = isRecord(spec) && Array.isArray(spec["versions"]) ? spec["versions"] : [];
  const version = versions.find((v) => isRecord(v) && v["name"] === rt.version);
  const cols = isRecord(version) && Array.isArray(version["additionalPrinterColumns"]) ? version["additionalPrinterColumns"].filter(isRecord) : [];
  const parsed = cols.map((c) => ({
    name: str(c["name"]),
    type: str(c["type"]),
    format: str(c["format"]),
    description: str(c["description"]),
    priority: typeof c["priority"] === "number" ? c["priority"] : 0,
    jsonPath: str(c["jsonPath"]),
  }));
  return parsed.length > 0 ? parsed : [defaultAgeColumn];
}

/** cellForJSONValue, and the jsonpath printing of `string` columns. */
function crdCell(type: string, value: unknown, now: number): unknown {
  if (value === undefined || value === null) return null;
  switch (type) {
    case "string":
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      return goJson(value);
    case "integer":
      return typeof value === "number" ? Math.trunc(value) : null;
    case "number":
      return typeof value === "number" ? value : null;
    case "boolean":
      return typeof value === "boolean" ? value : null;
    case "date":
      if (typeof value !== "string") return null;
      return Number.isNaN(Date.parse(value)) ? "<invalid>" : translateTimestampSince(value, now);
    default:
      return null;
  }
}

function crdPrinter(rt: ResourceType): Printer {
  const cols = crdColumns(rt);
  const columns: ColumnDefinition[] = [
    nameColumn(),
    ...cols.map((c) =>
      c === defaultAgeColumn
        ? column("Age", "date", "ObjectMeta.creationTimestamp")
        : {
            name: c.name,
            type: c.type,
            format: c.format ?? "",
            description:
              c.description !== undefined && c.description !== "" ? c.description : `Custom resource definition column (in JSONPath format): ${c.jsonPath}`,
            priority: c.priority ?? 0,
          },
    ),
  ];
  return {
    columns,
    row: (obj, now) => ({ cells: [str(metaOf(obj).name), ...cols.map((c) => crdCell(c.type, evaluateSimplePath(obj, c.jsonPath), now))] }),
  };
}

/** rest.NewDefaultTableConvertor: Name and Created At (RFC 3339). */
const defaultPrinter: Printer = {
  columns: [nameColumn(), column("Created At", "date", "ObjectMeta.creationTimestamp")],
  row: (obj) => ({ cells: [str(metaOf(obj).name), str(metaOf(obj).creationTimestamp)] }),
};

export function printerFor(rt: ResourceType): Printer {
  if (rt.crd !== undefined) return crdPrinter(rt);
  return builtinPrinters[resourceKey(rt)] ?? defaultPrinter;
}

/** What a row carries as `object`: PartialObjectMetadata (the default), the object, or null. */
function rowObject(rt: ResourceType, obj: JsonObject, opts: TableOptions): unknown {
  switch (opts.includeObject) {
    case "None":
      return null;
    case "Object":
      return { ...obj, apiVersion: apiVersionOf(rt), kind: rt.kind };
    case "Metadata":
      return asPartialObjectMetadata(obj, opts.apiVersion);
  }
}

export function asPartialObjectMetadata(obj: JsonObject, apiVersion: string): JsonObject {
  return { kind: "PartialObjectMetadata", apiVersion, metadata: obj["metadata"] ?? {} };
}

/** The Table of one object or of a list's items. */
export function toTable(rt: ResourceType, result: JsonObject, opts: TableOptions, now: number = Date.now()): JsonObject {
  const printer = printerFor(rt);
  const isList = Array.isArray(result["items"]);
  const items = isList ? (result["items"] as unknown[]).filter(isRecord) : [result];
  const listMeta = isRecord(result["metadata"]) ? result["metadata"] : {};
  const metadata: JsonObject = {};
  if (isList) {
    for (const k of ["resourceVersion", "continue", "remainingItemCount"]) if (listMeta[k] !== undefined) metadata[k] = listMeta[k];
  } else if (listMeta["resourceVersion"] !== undefined) metadata["resourceVersion"] = listMeta["resourceVersion"];
  return {
    kind: "Table",
    apiVersion: opts.apiVersion,
    metadata,
    columnDefinitions: opts.noHeaders ? null : printer.columns,
    rows: items.map((item) => {
      const printed = printer.row(item, now);
      return { cells: printed.cells, ...(printed.conditions === undefined ? {} : { conditions: printed.conditions }), object: rowObject(rt, item, opts) };
    }),
  };
}

/** PartialObjectMetadataList of a list's items. */
export function asPartialObjectMetadataList(result: JsonObject, apiVersion: string): JsonObject {
  const listMeta = isRecord(result["metadata"]) ? result["metadata"] : {};
  const items = Array.isArray(result["items"]) ? result["items"].filter(isRecord) : [];
  return { kind: "PartialObjectMetadataList", apiVersion, metadata: listMeta, items: items.map((i) => asPartialObjectMetadata(i, apiVersion)) };
}
