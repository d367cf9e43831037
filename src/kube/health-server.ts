// /metrics, /healthz and /readyz on one small HTTP server, for the agent and the controller.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface HealthServerOptions {
  port: number;
  registry: Registry;
  /** Undefined when healthy, else why not. */
  healthy?: () => string | undefined;
  ready?: () => string | undefined;
}

export async function startHealthServer(options: HealthServerOptions): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const probe = path === "/healthz" ? options.healthy : path === "/readyz" ? (options.ready ?? options.healthy) : undefined;
    if (path === "/metrics") {
      options.registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { "content-type": options.registry.contentType });
          res.end(text);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`metrics failed: ${String(err)}\n`);
        });
      return;
    }
    if (path === "/healthz" || path === "/readyz") {
      const problem = probe?.();
      res.writeHead(problem === undefined ? 200 : 503, { "content-type": "text/plain" });
      res.end(problem === undefined ? "ok\n" : `${problem}\n`);
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found: try /metrics, /healthz or /readyz\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, () => {
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
