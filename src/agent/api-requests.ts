// The agent's few requests to the API server (its report: get, create, replace; the pods on its
// node: list), sent as the client's generated APIs send them (the kubeconfig's authentication,
// the client's HTTP library, ApiException on a status that is not 2xx), without those APIs:
// CustomObjectsApi and CoreV1Api with their wrappers took the agent's bundle chunk from 0.49 to
// 1.55 MB of code for these four calls, 0.8 MiB of its resident memory (bench/agent/memory/agent.ts). The
// controller, which uses dozens of calls, keeps the generated APIs.
import {
  ApiException,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  RequestContext,
  type KubeConfig,
  type KubernetesListObject,
  type V1Pod,
} from "@kubernetes/client-node";

/** What ReportWriter calls: CustomObjectsApi's methods of these names have the same shape. */
export interface ReportApi {
  getClusterCustomObject(request: { group: string; version: string; plural: string; name: string }): Promise<unknown>;
  createClusterCustomObject(request: { group: string; version: string; plural: string; body: object }): Promise<unknown>;
  replaceClusterCustomObject(request: { group: string; version: string; plural: string; name: string; body: object }): Promise<unknown>;
}

const http = new IsomorphicFetchHttpLibrary();

/** One JSON request to the kubeconfig's current cluster; the parsed answer, or an ApiException. */
async function requestJson(kubeConfig: KubeConfig, method: HttpMethod, path: string, query: Record<string, string> = {}, body?: object): Promise<unknown> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error("the kubeconfig has no current cluster");
  // Joined as the client's Watch joins them: the server may carry a path (an API proxy's prefix).
  const url = new URL(`${cluster.server.replace(/\/+$/, "")}${path}`);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const request = new RequestContext(url.toString(), method);
  request.setHeaderParam("Accept", "application/json");
  if (body !== undefined) {
    request.setHeaderParam("Content-Type", "application/json");
    request.setBody(JSON.stringify(body));
  }
  await kubeConfig.applySecurityAuthentication(request);
  const response = await http.send(request).toPromise();
  const text = await response.body.text();
  if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
    const code = String(response.httpStatusCode);
    throw new ApiException(
      response.httpStatusCode,
      `HTTP-Code: ${code}\nMessage: ${method} ${path} failed\nBody: ${text.slice(0, 1_000)}`,
      text,
      response.headers,
    );
  }
  return JSON.parse(text) as unknown;
}

const objectPath = (r: { group: string; version: string; plural: string }) =>
  `/apis/${encodeURIComponent(r.group)}/${encodeURIComponent(r.version)}/${encodeURIComponent(r.plural)}`;

/** The agent's report requests against the kubeconfig's cluster. */
export function reportApi(kubeConfig: KubeConfig): ReportApi {
  return {
    getClusterCustomObject: (r) => requestJson(kubeConfig, HttpMethod.GET, `${objectPath(r)}/${encodeURIComponent(r.name)}`),
    createClusterCustomObject: (r) => requestJson(kubeConfig, HttpMethod.POST, objectPath(r), {}, r.body),
    replaceClusterCustomObject: (r) => requestJson(kubeConfig, HttpMethod.PUT, `${objectPath(r)}/${encodeURIComponent(r.name)}`, {}, r.body),
  };
}

/** The pods matching `fieldSelector` in every namespace, as the API server's JSON (as the watch hands them on). */
export async function listPods(kubeConfig: KubeConfig, fieldSelector: string): Promise<KubernetesListObject<V1Pod>> {
  return (await requestJson(kubeConfig, HttpMethod.GET, "/api/v1/pods", { fieldSelector })) as KubernetesListObject<V1Pod>;
}
