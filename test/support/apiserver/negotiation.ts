// Accept header negotiation: plain JSON, or a transformation into a meta.k8s.io Table,
// PartialObjectMetadata or PartialObjectMetadataList (the `as`, `g` and `v` media type
// parameters). The first acceptable media type wins, by quality then order, as the real
// negotiator does; protobuf, CBOR and YAML are not served, so they are skipped.
import { ApiError } from "./status.js";

export type Transform = "Table" | "PartialObjectMetadata" | "PartialObjectMetadataList";

export interface Negotiated {
  transform: Transform | undefined;
  /** apiVersion of the transformed answer: meta.k8s.io/v1 or meta.k8s.io/v1beta1 */
  apiVersion: string;
}

interface MediaRange {
  type: string;
  params: Record<string, string>;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(",")
    .map((part) => {
      const [type = "", ...rest] = part.split(";").map((s) => s.trim());
      const params: Record<string, string> = {};
      for (const p of rest) {
        const eq = p.indexOf("=");
        if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
      }
      const q = params["q"] === undefined ? 1 : Number(params["q"]);
      return { type: type.toLowerCase(), params, q: Number.isNaN(q) ? 0 : q };
    })
    .filter((m) => m.type !== "" && m.q > 0)
    .sort((a, b) => b.q - a.q);
}

const served = ["application/json", "application/*", "*/*"];

export const notAcceptable = (): ApiError =>
  new ApiError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "only the following media types are accepted: application/json",
    reason: "NotAcceptable",
    code: 406,
  });

/** The answer's shape for this Accept header; 406 when nothing in it can be served. */
export function negotiate(header: string | undefined): Negotiated {
  if (header === undefined || header.trim() === "") return { transform: undefined, apiVersion: "" };
  for (const m of parseAccept(header)) {
    if (!served.includes(m.type)) continue;
    const as = m.params["as"];
    if (as === undefined) return { transform: undefined, apiVersion: "" };
    const version = m.params["v"];
    if (m.params["g"] !== "meta.k8s.io" || (version !== "v1" && version !== "v1beta1")) continue;
    if (as === "Table" || as === "PartialObjectMetadata" || as === "PartialObjectMetadataList") return { transform: as, apiVersion: `meta.k8s.io/${version}` };
  }
  throw notAcceptable();
}
