// Raw HTTP against the test API server, for what client-node does not send: Accept headers asking
// for Tables, bearer tokens of other users, protobuf bodies. HTTPS servers are trusted through
// their caData.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { TestApiServer } from "./apiserver.js";

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** the body as JSON (undefined when it is not JSON) */
  json: unknown;
}

export interface RawRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  token?: string;
}

export function raw(server: TestApiServer, path: string, req: RawRequest = {}): Promise<RawAnswer> {
  const url = new URL(path, server.url);
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(JSON.stringify(req.body));
  const headers: Record<string, string> = {
    ...(body === undefined || Buffer.isBuffer(req.body) ? {} : { "Content-Type": "application/json" }),
    ...req.headers,
  };
  if (req.token !== undefined) headers["Authorization"] = `Bearer ${req.token}`;
  if (body !== undefined) headers["Content-Length"] = String(body.length);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = send(url, { method: req.method ?? "GET", headers, ...(server.caData === undefined ? {} : { ca: server.caData }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    r.on("error", reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

/** What kubectl get sends. */
export const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/** The newline-delimited events of a watch, read until `count` arrived (or the stream ended). */
export function watchEvents(
  server: TestApiServer,
  path: string,
  count: number,
  req: RawRequest = {},
): Promise<{ type: string; object: Record<string, unknown> }[]> {
  const url = new URL(path, server.url);
  const headers: Record<string, string> = { ...req.headers };
  if (req.token !== undefined) headers["Authorization"] = `Bearer ${req.token}`;
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const events: { type: string; object: Record<string, unknown> }[] = [];
    let buffered = "";
    const r = send(url, { headers, ...(server.caData === undefined ? {} : { ca: server.caData }) }, (res) => {
      res.on("data", (c: Buffer) => {
        buffered += c.toString("utf8");
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          events.push(JSON.parse(buffered.slice(0, nl)) as { type: string; object: Record<string, unknown> });
          buffered = buffered.slice(nl + 1);
        }
        if (events.length >= count) {
          r.destroy();
          resolve(events);
        }
      });
      res.on("end", () => {
        resolve(events);
      });
    });
    r.on("error", (err) => {
      if (events.length >= count) resolve(events);
      else reject(err);
    });
    r.end();
  });
}
