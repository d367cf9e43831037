// The HTTP server: reads the request, applies injected faults, hands it to the handlers, writes
// the answer and records it. One instance per test (or suite), on 127.0.0.1 and a random port.
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { defaultCrdDir, loadCrds } from "../crd/load.js";
import type { LoadedCrd } from "../crd/types.js";
import { Cluster } from "./cluster.js";
import { Deleter } from "./deletion.js";
import { Faults } from "./faults.js";
import { GarbageCollector } from "./gc.js";
import { Handlers, type HttpAnswer } from "./handlers.js";
import { ResourceRegistry } from "./registry.js";
import { ApiError, faultStatus, statusErrors } from "./status.js";
import { Store } from "./store.js";
import { WatchHub } from "./watch.js";

export interface TestApiServerOptions {
  /** directories of CRD manifests to serve; default the repository's `crds/` */
  crdDirs?: string[];
  /** more CRDs, already loaded */
  crds?: LoadedCrd[];
  /** events kept for watches to resume from; older resourceVersions get 410 Gone (default 1000) */
  historyLimit?: number;
  /** namespaces that exist from the start (default: default, kube-system, kube-public, kube-node-lease) */
  namespaces?: string[];
  /** refuse namespaced writes into a namespace that does not exist, as NamespaceLifecycle does (default true) */
  enforceNamespaces?: boolean;
  /** delay before the emulated garbage collector deletes dependents (default 0: before the DELETE answers) */
  gcDelayMs?: number;
  /** how often a watch with allowWatchBookmarks=true gets a BOOKMARK (default 60000, about what the real server does) */
  bookmarkIntervalMs?: number;
  /** server-side timeout of watches that send no timeoutSeconds (default none) */
  watchTimeoutSeconds?: number;
  /** the first resourceVersion (default 1000) */
  initialResourceVersion?: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  status: number;
}

export interface TestApiServer {
  url: string;
  kubeConfig: KubeConfig;
  faults: Faults;
  /** every request served, in order */
  requests: RequestRecord[];
  /** requests that could change state: POST, PUT, PATCH, DELETE */
  writes(): RequestRecord[];
  store: Store;
  registry: ResourceRegistry;
  openWatches(): number;
  close(): Promise<void>;
}

const maxBodyBytes = 3 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      chunks.push(c);
    });
    req.on("end", () => {
      if (size > maxBodyBytes) reject(statusErrors.tooLarge(`Request entity too large: limit is ${maxBodyBytes}`));
      else resolve(Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

function parseBody(raw: Buffer, contentType: string): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (err) {
    if (contentType.includes("yaml")) throw statusErrors.unsupportedMediaType(contentType, ["application/json"]);
    throw statusErrors.badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

function makeKubeConfig(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "test", server: url, skipTLSVerify: true }],
    users: [{ name: "test", token: "test-token" }],
    contexts: [{ name: "test", cluster: "test", user: "test", namespace: "default" }],
    currentContext: "test",
  });
  return kc;
}

export async function startTestApiServer(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
  const dirs = opts.crdDirs ?? (existsSync(defaultCrdDir) ? [defaultCrdDir] : []);
  const crds = [...dirs.flatMap((d) => loadCrds(d)), ...(opts.crds ?? [])];
  const registry = new ResourceRegistry(crds);
  const store = new Store(opts.historyLimit ?? 1000, opts.initialResourceVersion ?? 1000);
  const gc = new GarbageCollector(store, opts.gcDelayMs ?? 0);
  const deleter = new Deleter(store, registry, gc);
  const cluster = new Cluster(store, deleter, gc, opts.enforceNamespaces ?? true);
  const watches = new WatchHub(store, opts.bookmarkIntervalMs ?? 60_000, opts.watchTimeoutSeconds);
  const faults = new Faults(
    () => watches.dropAll(),
    () => {
      store.compact();
    },
  );
  const requests: RequestRecord[] = [];
  let address = "";
  const handlers = new Handlers(registry, cluster, deleter, watches, () => address);

  const namespaceType = registry.find("", "v1", "namespaces");
  for (const ns of opts.namespaces ?? ["default", "kube-system", "kube-public", "kube-node-lease"]) {
    if (namespaceType !== undefined) cluster.create(namespaceType, "", { metadata: { name: ns } }, { dryRun: false, strict: false });
  }

  const answer = (res: ServerResponse, a: HttpAnswer) => {
    const text = typeof a.body === "string" ? a.body : JSON.stringify(a.body);
    res.writeHead(a.status, {
      "Content-Type": typeof a.body === "string" ? "text/plain; charset=utf-8" : "application/json",
      "Audit-Id": crypto.randomUUID(),
      ...(a.headers ?? {}),
    });
    res.end(text);
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const record = (status: number) => requests.push({ method, path: url.pathname, query: url.search, status });
    try {
      const raw = await readBody(req);
      const wait = faults.delayFor(method, url.pathname);
      if (wait > 0) await sleep(wait);
      const fault = faults.takeFailure(method, url.pathname);
      if (fault !== undefined) throw faultStatus(fault.status, fault.message);
      const contentType = req.headers["content-type"] ?? "";
      const a = handlers.handle({ method, url, body: parseBody(raw, contentType), contentType }, res);
      if (a === undefined) {
        record(200);
        return;
      }
      record(a.status);
      answer(res, a);
    } catch (err) {
      const apiErr = err instanceof ApiError ? err : statusErrors.internal(err instanceof Error ? err.message : String(err));
      const code = apiErr.status.code ?? 500;
      record(code);
      if (res.headersSent) res.destroy();
      else answer(res, { status: code, body: apiErr.status, headers: apiErr.headers });
    }
  };

  const server = createServer((req, res) => {
    serve(req, res).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  address = `127.0.0.1:${port}`;
  const url = `http://${address}`;

  return {
    url,
    kubeConfig: makeKubeConfig(url),
    faults,
    requests,
    writes: () => requests.filter((r) => r.method !== "GET"),
    store,
    registry,
    openWatches: () => watches.openCount,
    close: async () => {
      gc.close();
      watches.dropAll();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => {
        server.close((err) => {
          if (err === undefined) resolve();
          else reject(err);
        });
      });
    },
  };
}
