// The HTTP(S) server: reads the request, authenticates and authorizes it (with the
// `authorization` option), applies injected faults, hands it to the handlers, writes the answer
// and records it. One instance per test (or suite), on 127.0.0.1 and a random port.
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { parse as parseYaml } from "yaml";
import { defaultCrdDir, loadCrds } from "../crd/load.js";
import type { LoadedCrd } from "../crd/types.js";
import type { AuthorizationOptions } from "./authentication.js";
import { Authorization } from "./authorization.js";
import { crdKey } from "./builtin-crd.js";
import { Cluster } from "./cluster.js";
import { CrdController } from "./crd-controller.js";
import { Deleter } from "./deletion.js";
import { Faults } from "./faults.js";
import { AdmissionPolicies } from "./admission-policies.js";
import { GarbageCollector } from "./gc.js";
import { Handlers, type HttpAnswer } from "./handlers.js";
import { ownerReferenceAdmission, type Admission, type AuthorizationCheck } from "./owner-admission.js";
import { decodeProtobuf, UnsupportedProtobuf } from "./protobuf.js";
import type { UserInfo } from "./rbac.js";
import { ResourceRegistry } from "./registry.js";
import { requestAttributes, type RequestAttributes } from "./request-info.js";
import { ApiError, faultStatus, statusErrors } from "./status.js";
import { Store } from "./store.js";
import { resourceKey } from "./types.js";
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
  /**
   * Authentication by bearer token and RBAC authorization from the stored roles and bindings
   * (default: none, every request is allowed). Unknown or missing token: 401.
   */
  authorization?: AuthorizationOptions;
  /**
   * Serve HTTPS with the test certificate in fixtures/tls (default: when `authorization` is set:
   * kubectl and helm send a bearer token only over TLS).
   */
  tls?: boolean;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  status: number;
  /** the user the request acted as (with the `authorization` option only) */
  user?: string;
  groups?: string[];
  /** what the request asked for, as RBAC sees it: verb, apiGroup, resource, subresource, namespace, name */
  attributes: RequestAttributes;
  /** false when RBAC refused the request (403) */
  authorized: boolean;
  /** RBAC's reason: the binding that allowed the request (`RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "x" to ServiceAccount "sa/ns"`) */
  reason?: string;
  /** further permissions checked while serving it (setting blockOwnerDeletion needs update on the owner's finalizers) */
  checks: AuthorizationCheck[];
}

export interface TestApiServer {
  url: string;
  /** client-node's configuration, with the token `test-token` (and TLS verification off) */
  kubeConfig: KubeConfig;
  /** The PEM certificate clients must trust when the server serves HTTPS */
  caData: string | undefined;
  /** A kubeconfig file's text for kubectl and helm: this server, trusted, and the given bearer token. */
  kubeconfig(token?: string, namespace?: string): string;
  faults: Faults;
  /** Validating admission policies a test installs: refusals on cue (admission-policies.ts). */
  admission: AdmissionPolicies;
  /** every request served, in order */
  requests: RequestRecord[];
  /** requests that could change state: POST, PUT, PATCH, DELETE */
  writes(): RequestRecord[];
  /** the requests a user made (with the `authorization` option), in order */
  requestsBy(user: string): RequestRecord[];
  /** RBAC's decision for a user and request (with the `authorization` option; undefined without) */
  authorization: Authorization | undefined;
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
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  // Protobuf, what client-go's typed clients send for built-in kinds: only the few kinds protobuf.ts knows.
  if (type === "application/vnd.kubernetes.protobuf") {
    try {
      return decodeProtobuf(raw);
    } catch (err) {
      if (err instanceof UnsupportedProtobuf)
        throw statusErrors.unsupportedMediaType(
          contentType,
          ["application/json", "application/yaml"],
          ` (this test API server decodes protobuf for Namespace, Secret, ConfigMap, ServiceAccount, SelfSubjectAccessReview and DeleteOptions only: ${err.message})`,
        );
      throw err;
    }
  }
  if (type === "application/cbor") throw statusErrors.unsupportedMediaType(contentType, ["application/json", "application/yaml"]);
  if (type === "application/yaml" || type === "application/apply-patch+yaml") {
    try {
      return parseYaml(raw.toString("utf8"));
    } catch (err) {
      throw statusErrors.badRequest(`error converting YAML to JSON: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw statusErrors.badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

const tlsDir = fileURLToPath(new URL("../fixtures/tls/", import.meta.url));

function kubeconfigText(url: string, caData: string | undefined, token: string, namespace: string | undefined): string {
  const ca = caData === undefined ? "" : `, certificate-authority-data: ${Buffer.from(caData).toString("base64")}`;
  return [
    "apiVersion: v1",
    "kind: Config",
    `clusters: [{name: test, cluster: {server: "${url}"${ca}}}]`,
    `users: [{name: test, user: {token: ${JSON.stringify(token)}}}]`,
    `contexts: [{name: test, context: {cluster: test, user: test${namespace === undefined ? "" : `, namespace: ${namespace}`}}}]`,
    "current-context: test",
    "",
  ].join("\n");
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
  const admission = new AdmissionPolicies();
  const faults = new Faults(
    () => watches.dropAll(),
    () => {
      store.compact();
    },
  );
  const requests: RequestRecord[] = [];
  let address = "";
  const handlers = new Handlers(registry, cluster, deleter, watches, () => address);
  const crdController = new CrdController(store, registry, deleter);
  const authorization = opts.authorization === undefined ? undefined : new Authorization(opts.authorization, store);

  const namespaceType = registry.find("", "v1", "namespaces");
  for (const ns of opts.namespaces ?? ["default", "kube-system", "kube-public", "kube-node-lease"]) {
    if (namespaceType !== undefined) cluster.create(namespaceType, "", { metadata: { name: ns } }, { dryRun: false, strict: false });
  }
  // The CRDs served from the start exist as CustomResourceDefinition objects too, Established.
  const crdType = registry.all.find((r) => resourceKey(r) === crdKey);
  for (const crd of crds) {
    if (crdType === undefined || store.get(crdKey, "", crd.name) !== undefined) continue;
    cluster.create(crdType, "", structuredClone(crd.raw), { dryRun: false, strict: false });
    crdController.establish(crd.name);
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
    const entry: RequestRecord = {
      method,
      path: url.pathname,
      query: url.search,
      status: 0,
      attributes: requestAttributes(method, url),
      authorized: true,
      checks: [],
    };
    const record = (status: number) => {
      entry.status = status;
      requests.push(entry);
    };
    try {
      const raw = await readBody(req);
      let user: UserInfo | undefined;
      if (authorization !== undefined) {
        user = authorization.authenticate(req.headers);
        entry.user = user.name;
        entry.groups = user.groups;
        const decision = authorization.decide(user, entry.attributes);
        entry.reason = decision.reason;
        if (!decision.allowed) {
          entry.authorized = false;
          throw authorization.forbidden(user, entry.attributes, decision);
        }
      }
      const wait = faults.delayFor(method, url.pathname);
      if (wait > 0) await sleep(wait);
      const fault = faults.takeFailure(method, url.pathname);
      if (fault !== undefined) throw faultStatus(fault.status, fault.message);
      const contentType = req.headers["content-type"] ?? "";
      const ownerAdmit =
        authorization === undefined || user === undefined
          ? undefined
          : ownerReferenceAdmission((u, a) => authorization.authorize(u, a), registry, user, entry.checks);
      const admit: Admission = (rt, object, old, subresource) => {
        ownerAdmit?.(rt, object, old, subresource);
        admission.check(rt, object, old, subresource);
      };
      const authorize = authorization === undefined || user === undefined ? undefined : (a: RequestAttributes) => authorization.authorize(user, a);
      const a = handlers.handle({ method, url, body: parseBody(raw, contentType), contentType, accept: req.headers.accept, admit, authorize }, res);
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

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  };
  const tls = opts.tls ?? opts.authorization !== undefined;
  const caData = tls ? readFileSync(`${tlsDir}cert.pem`, "utf8") : undefined;
  const server = tls ? createTlsServer({ cert: caData, key: readFileSync(`${tlsDir}key.pem`, "utf8") }, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  address = `127.0.0.1:${port}`;
  const url = `${tls ? "https" : "http"}://${address}`;

  return {
    url,
    kubeConfig: makeKubeConfig(url),
    caData,
    kubeconfig: (token = "test-token", namespace?: string) => kubeconfigText(url, caData, token, namespace),
    faults,
    admission,
    requests,
    writes: () => requests.filter((r) => r.method !== "GET"),
    requestsBy: (user) => requests.filter((r) => r.user === user),
    authorization,
    store,
    registry,
    openWatches: () => watches.openCount,
    close: async () => {
      gc.close();
      crdController.close();
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
