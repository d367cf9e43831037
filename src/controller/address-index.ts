// Whose an IP address is, for the names of flows' addresses in status (flows.ts): a pod's IP is
// `namespace/pod`, a Service's cluster IP `svc/namespace/name`, a node's own address `node`.
// A cluster may run 150,000 pods, and a full pod object is several KiB, so nothing here caches
// pods, Services or nodes: each informer's transform keeps only the addresses and the name
// (about 200 bytes a pod), and the index maps address to name. Names are only ever a help: when
// these watches fail (RBAC without list on pods, a slow API server) status is written as
// before, with the addresses unnamed, and the restarting informers log why.
import { CoreV1Api, ListWatch, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1ListMeta, type Watch } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { model } from "../kube/api.js";
import { RestartingInformer } from "../kube/restarting-informer.js";
import type { Backoff } from "../kube/backoff.js";
import type { AddressNamer } from "./status/flow-sums.js";
import { TransformingWatch } from "../kube/transforming-watch.js";
import { ADDRESS_LIST_PAGE } from "./defaults.js";
import { listPages, type PageLister } from "../kube/list-pages.js";

/** What the index keeps of a pod, a Service or a node: its name in flows and its addresses. */
export interface AddressView {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  /** `namespace/pod`, `svc/namespace/name` or the node's name. */
  owner: string;
  addresses: string[];
}

type Loose = Record<string, unknown> | undefined;
const record = (value: unknown): Loose => (typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined);
const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
const texts = (values: unknown[]): string[] => values.flatMap((v) => (typeof v === "string" && v !== "" ? [v] : []));

function meta(raw: unknown): { metadata: AddressView["metadata"] } | undefined {
  const m = record(record(raw)?.["metadata"]);
  const name = text(m?.["name"]);
  if (name === undefined) return undefined;
  const namespace = text(m?.["namespace"]);
  const resourceVersion = text(m?.["resourceVersion"]);
  return { metadata: { name, ...(namespace === undefined ? {} : { namespace }), ...(resourceVersion === undefined ? {} : { resourceVersion }) } };
}

/**
 * A pod's IPs under `namespace/pod`. A host-network pod has its node's IP, which names the node,
 * so it has none here; nor does a pod that has finished (Succeeded, Failed): its IP may already be
 * another pod's.
 */
export function toPodAddresses(raw: unknown): AddressView | undefined {
  const m = meta(raw);
  if (m === undefined) return undefined;
  const spec = record(record(raw)?.["spec"]);
  const status = record(record(raw)?.["status"]);
  const phase = status?.["phase"];
  const live = spec?.["hostNetwork"] !== true && phase !== "Succeeded" && phase !== "Failed";
  const podIPs = Array.isArray(status?.["podIPs"]) ? (status["podIPs"] as unknown[]).map((p) => record(p)?.["ip"]) : [status?.["podIP"]];
  return { ...m, owner: `${m.metadata.namespace ?? ""}/${m.metadata.name}`, addresses: live ? texts(podIPs) : [] };
}

/** A Service's cluster IPs (both families) under `svc/namespace/name`; a headless Service's "None" is no address. */
export function toServiceAddresses(raw: unknown): AddressView | undefined {
  const m = meta(raw);
  if (m === undefined) return undefined;
  const spec = record(record(raw)?.["spec"]);
  const ips = Array.isArray(spec?.["clusterIPs"]) ? (spec["clusterIPs"] as unknown[]) : [spec?.["clusterIP"]];
  return { ...m, owner: `svc/${m.metadata.namespace ?? ""}/${m.metadata.name}`, addresses: texts(ips).filter((ip) => ip !== "None") };
}

/** A node's internal and external IPs under its name. */
export function toNodeAddresses(raw: unknown): AddressView | undefined {
  const m = meta(raw);
  if (m === undefined) return undefined;
  const addresses = record(record(raw)?.["status"])?.["addresses"];
  const ips = (Array.isArray(addresses) ? addresses : [])
    .map(record)
    .filter((a) => a?.["type"] === "InternalIP" || a?.["type"] === "ExternalIP")
    .map((a) => a?.["address"]);
  return { ...m, owner: m.metadata.name, addresses: texts(ips) };
}

/** Address to owner for one kind of object, kept from that kind's add, update and delete events. */
export class AddressBook {
  readonly #owners = new Map<string, string>();
  /** Each object's addresses as last seen: an update or delete removes what it had. */
  readonly #addressesOf = new Map<string, readonly string[]>();

  set(view: AddressView): void {
    this.delete(view);
    if (view.addresses.length === 0) return;
    this.#addressesOf.set(view.owner, view.addresses);
    for (const address of view.addresses) this.#owners.set(address, view.owner);
  }

  delete(view: Pick<AddressView, "owner">): void {
    const had = this.#addressesOf.get(view.owner);
    if (had === undefined) return;
    this.#addressesOf.delete(view.owner);
    // An address another object has taken since (a new pod with a deleted pod's IP) stays the new one's.
    for (const address of had) if (this.#owners.get(address) === view.owner) this.#owners.delete(address);
  }

  get(address: string): string | undefined {
    return this.#owners.get(address);
  }

  get size(): number {
    return this.#owners.size;
  }
}

/** How the index lists: one page of raw objects at a time (the API's `limit` and `continue`). */
export type { PageLister } from "../kube/list-pages.js";

/** A list of every page, each item through `view` as it arrives: no page outlives its turn. */
export async function listLean(
  listPage: PageLister,
  view: (raw: unknown) => AddressView | undefined,
): Promise<KubernetesListObject<AddressView & KubernetesObject>> {
  const { resourceVersion, items } = await listPages(listPage, view);
  return { metadata: model<V1ListMeta>(resourceVersion === undefined ? {} : { resourceVersion }), items };
}

export interface AddressSource {
  /** "pods", "services" or "nodes": the restart metric's label and the logs' resource. */
  resource: string;
  path: string;
  /** A Watch that hands each object through `view` before the informer caches it. */
  watch: Watch;
  listPage: PageLister;
  view: (raw: unknown) => AddressView | undefined;
}

export interface AddressIndexOptions extends AddressWatchOptions {
  pods: AddressSource;
  services: AddressSource;
  nodes: AddressSource;
}

export interface AddressWatchOptions {
  backoff: Backoff & { resetAfterMs: number };
  log: Logger;
  onRestart?: (resource: string) => void;
}

/** The index over a cluster: every namespace's pods and Services, and the nodes, listed in pages. */
export function clusterAddressIndex(kubeConfig: KubeConfig, options: AddressWatchOptions): AddressIndex {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const page = (cont: string | undefined) => ({ limit: ADDRESS_LIST_PAGE, ...(cont === undefined ? {} : { _continue: cont }) });
  const source = (resource: string, path: string, view: (raw: unknown) => AddressView | undefined, listPage: PageLister): AddressSource => ({
    resource,
    path,
    watch: new TransformingWatch(kubeConfig, view),
    listPage,
    view,
  });
  return new AddressIndex({
    ...options,
    // "address-pods": the agent pods' informer is "pods" in the restart metric.
    pods: source("address-pods", "/api/v1/pods", toPodAddresses, (cont) => core.listPodForAllNamespaces(page(cont))),
    services: source("services", "/api/v1/services", toServiceAddresses, (cont) => core.listServiceForAllNamespaces(page(cont))),
    nodes: source("nodes", "/api/v1/nodes", toNodeAddresses, (cont) => core.listNode(page(cont))),
  });
}

/** Pods, Services and nodes by address, from three lean informers. */
export class AddressIndex {
  readonly #books = { nodes: new AddressBook(), services: new AddressBook(), pods: new AddressBook() };
  readonly #informers: RestartingInformer<AddressView & KubernetesObject>[];

  constructor(options: AddressIndexOptions) {
    this.#informers = (["nodes", "services", "pods"] as const).map((kind) => {
      const source = options[kind];
      const book = this.#books[kind];
      const informer = new ListWatch<AddressView & KubernetesObject>(source.path, source.watch, () => listLean(source.listPage, source.view), false);
      informer.on("add", (view) => {
        book.set(view);
      });
      informer.on("update", (view) => {
        book.set(view);
      });
      informer.on("delete", (view) => {
        book.delete(view);
      });
      return new RestartingInformer(informer, {
        resource: source.resource,
        backoff: options.backoff,
        log: options.log.child({ index: "addresses" }),
        ...(options.onRestart === undefined ? {} : { onRestart: options.onRestart }),
      });
    });
  }

  /**
   * The name of an address: a node's own address names the node even where a host-network pod
   * or a Service (an external IP) has it too; then a Service's cluster IP; then a pod's IP.
   */
  readonly name: AddressNamer = (address) => this.#books.nodes.get(address) ?? this.#books.services.get(address) ?? this.#books.pods.get(address);

  start(): void {
    for (const informer of this.#informers) informer.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#informers.map((informer) => informer.stop()));
  }

  /**
   * Why some addresses may stay unnamed now (a watch failing or not listed yet); undefined when all
   * three are up. `failingOnly`: only watches that fail, not those still listing at start.
   */
  problem(options: { failingOnly?: boolean } = {}): string | undefined {
    const problems = this.#informers.flatMap((informer) => {
      const failing = informer.failing;
      if (failing !== undefined)
        return [`the ${informer.resource} watch fails: ${failing.error instanceof Error ? failing.error.message : String(failing.error)}`];
      return informer.synced || options.failingOnly === true ? [] : [`the ${informer.resource} are not listed yet`];
    });
    return problems.length === 0 ? undefined : problems.join("; ");
  }
}
