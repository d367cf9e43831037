// The answer in the shape the client asked for with its Accept header (the real handlers'
// transformResponseObject and watch encoder): as stored, a Table, or PartialObjectMetadata.
import { notAcceptable, type Negotiated } from "./negotiation.js";
import { asPartialObjectMetadata, asPartialObjectMetadataList, includeObjectParam, toTable } from "./table.js";
import { isRecord, type JsonObject, type ResourceType } from "./types.js";

/** The answer body as the client asked for it (transformResponseObject). Status bodies pass through. */
export function transformed(rt: ResourceType, body: unknown, how: Negotiated, q: URLSearchParams, noHeaders = false): unknown {
  if (how.transform === undefined || !isRecord(body) || body["kind"] === "Status") return body;
  const isList = Array.isArray(body["items"]);
  switch (how.transform) {
    case "Table":
      return toTable(rt, body, { apiVersion: how.apiVersion, includeObject: includeObjectParam(q), noHeaders });
    case "PartialObjectMetadata":
      if (isList) throw notAcceptable();
      return asPartialObjectMetadata(body, how.apiVersion);
    case "PartialObjectMetadataList":
      if (!isList) throw notAcceptable();
      return asPartialObjectMetadataList(body, how.apiVersion);
  }
}

/** Each watch event's object as asked for: a Table carries the column definitions on the first event only. */
export function watchEncoder(rt: ResourceType, how: Negotiated, q: URLSearchParams): ((object: JsonObject) => unknown) | undefined {
  if (how.transform === undefined) return undefined;
  let first = true;
  return (object) => {
    if (object["kind"] === "Status") return object;
    if (how.transform === "Table") {
      const table = transformed(rt, object, how, q, !first);
      first = false;
      return table;
    }
    return asPartialObjectMetadata(object, how.apiVersion);
  };
}
