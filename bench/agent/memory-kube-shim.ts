// A what-if for bench/agent/memory.ts, not production code: the three Kubernetes calls the agent
// makes (get, create and replace of its DropTraceReport) over node:http(s), with the names the
// agent imports from @kubernetes/client-node (KubeConfig, CustomObjectsApi, ApiException).
// memory.ts installs it, type-stripped, as node_modules/@kubernetes/client-node of a scratch copy
// of the build, so the agent runs unchanged on it and the RSS difference is what the client
// costs. It does only what that run needs: loadFromOptions with a token, JSON in and out.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export class ApiException<T> extends Error {
  readonly code: number;
  readonly body: T;
  readonly headers: Record<string, string>;

  constructor(code: number, message: string, body: T, headers: Record<string, string>) {
    super(message);
    this.code = code;
    this.body = body;
    this.headers = headers;
  }
}

interface Options {
  clusters: { name: string; server: string; skipTLSVerify?: boolean }[];
  users: { name: string; token?: string }[];
  contexts: { name: string; cluster: string; user: string }[];
  currentContext: string;
}

export class KubeConfig {
  server = "";
  token: string | undefined;
  skipTLSVerify = false;

  loadFromOptions(options: Options): void {
    const context = options.contexts.find((c) => c.name === options.currentContext);
    const cluster = options.clusters.find((c) => c.name === context?.cluster);
    if (cluster === undefined) throw new Error("no cluster for the current context");
    this.server = cluster.server;
    this.skipTLSVerify = cluster.skipTLSVerify ?? false;
    this.token = options.users.find((u) => u.name === context?.user)?.token;
  }

  makeApiClient<T>(api: new (config: KubeConfig) => T): T {
    return new api(this);
  }
}

interface Target {
  group: string;
  version: string;
  plural: string;
}

export class CustomObjectsApi {
  readonly #config: KubeConfig;

  constructor(config: KubeConfig) {
    this.#config = config;
  }

  getClusterCustomObject(p: Target & { name: string }): Promise<unknown> {
    return this.#call("GET", `/apis/${p.group}/${p.version}/${p.plural}/${p.name}`);
  }

  createClusterCustomObject(p: Target & { body: object }): Promise<unknown> {
    return this.#call("POST", `/apis/${p.group}/${p.version}/${p.plural}`, p.body);
  }

  replaceClusterCustomObject(p: Target & { name: string; body: object }): Promise<unknown> {
    return this.#call("PUT", `/apis/${p.group}/${p.version}/${p.plural}/${p.name}`, p.body);
  }

  #call(method: string, path: string, body?: object): Promise<unknown> {
    const url = new URL(path, this.#config.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#config.token !== undefined) headers["authorization"] = `Bearer ${this.#config.token}`;
    if (payload !== undefined) headers["content-type"] = "application/json";
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers, rejectUnauthorized: !this.#config.skipTLSVerify }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: kept as text.
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve(parsed);
          else reject(new ApiException(code, `HTTP ${String(code)} from ${method} ${path}`, parsed, {}));
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(payload);
    });
  }
}
