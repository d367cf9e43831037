// kube-apiserver's server-side printers (k8s.io/kubernetes/pkg/printers/internalversion) for the
// built-in kinds served here, keyed by resourceKey. The server always prints the wide columns
// (priority 1); kubectl shows them with -o wide only. Kinds without a printer here get the
// default Table (Name, Created At), as ClusterRoles, Roles and CRDs do on a real server.
import { translateTimestampSince } from "./human-duration.js";
import { age, ageColumn, at, column, formatLabels, list, meta, nameColumn, none, num, str, type ColumnDefinition, type Printer } from "./printer-helpers.js";
import { daemonSets, deployments, pods, replicaSets } from "./printers-workloads.js";
import { isRecord, type JsonObject } from "./types.js";

const namespaces: Printer = {
  columns: [nameColumn(), column("Status", "string", { text: "The status of the namespace" }), ageColumn()],
  row: (ns, now) => ({ cells: [str(meta(ns)["name"]), str(at(ns, "status", "phase")), age(ns, now)] }),
};

const nodes: Printer = {
  columns: [
    nameColumn(),
    column("Status", "string", { text: "The status of the node" }),
    column("Roles", "string", { text: "The roles of the node" }),
    ageColumn(),
    column("Version", "string", "NodeSystemInfo.kubeletVersion"),
    column("Internal-IP", "string", "NodeStatus.addresses", { priority: 1 }),
    column("External-IP", "string", "NodeStatus.addresses", { priority: 1 }),
    column("OS-Image", "string", "NodeSystemInfo.osImage", { priority: 1 }),
    column("Kernel-Version", "string", "NodeSystemInfo.kernelVersion", { priority: 1 }),
    column("Container-Runtime", "string", "NodeSystemInfo.containerRuntimeVersion", { priority: 1 }),
  ],
  row: (node, now) => {
    const ready = list(at(node, "status", "conditions")).find((c) => isRecord(c) && c["type"] === "Ready");
    const status = [isRecord(ready) ? (ready["status"] === "True" ? "Ready" : "NotReady") : "Unknown"];
    if (at(node, "spec", "unschedulable") === true) status.push("SchedulingDisabled");
    const labels = isRecord(meta(node)["labels"]) ? (meta(node)["labels"] as Record<string, unknown>) : {};
    const roles = new Set<string>();
    for (const [k, v] of Object.entries(labels)) {
      if (k.startsWith("node-role.kubernetes.io/") && k.length > "node-role.kubernetes.io/".length) roles.add(k.slice("node-role.kubernetes.io/".length));
      else if (k === "kubernetes.io/role" && str(v) !== "") roles.add(str(v));
    }
    const address = (type: string) =>
      str(
        list(at(node, "status", "addresses"))
          .filter(isRecord)
          .find((a) => a["type"] === type)?.["address"],
      );
    const info = (k: string) => str(at(node, "status", "nodeInfo", k)) || "<unknown>";
    return {
      cells: [
        str(meta(node)["name"]),
        status.join(","),
        none([...roles].sort().join(",")),
        age(node, now),
        str(at(node, "status", "nodeInfo", "kubeletVersion")),
        none(address("InternalIP")),
        none(address("ExternalIP")),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
      ],
    };
  },
};

/** An events.k8s.io/v1 Event read as the core Event the printer works on (the server stores one kind). */
function asCoreEvent(e: JsonObject): JsonObject {
  if (e["involvedObject"] !== undefined || e["regarding"] === undefined) return e;
  return {
    ...e,
    involvedObject: e["regarding"],
    message: e["note"],
    source: e["deprecatedSource"],
    firstTimestamp: e["deprecatedFirstTimestamp"],
    lastTimestamp: e["deprecatedLastTimestamp"],
    count: e["deprecatedCount"],
  };
}

const events: Printer = {
  columns: [
    column("Last Seen", "string", "Event.lastTimestamp"),
    column("Type", "string", "Event.type"),
    column("Reason", "string", "Event.reason"),
    column("Object", "string", "Event.involvedObject"),
    column("Subobject", "string", "ObjectReference.fieldPath", { priority: 1 }),
    column("Source", "string", "Event.source", { priority: 1 }),
    column("Message", "string", "Event.message"),
    column("First Seen", "string", "Event.firstTimestamp", { priority: 1 }),
    column("Count", "string", "Event.count", { priority: 1 }),
    column("Name", "string", "ObjectMeta.name", { priority: 1, format: "name" }),
  ],
  row: (raw, now) => {
    const e = asCoreEvent(raw);
    const since = (t: unknown) => translateTimestampSince(t, now);
    const first = str(e["firstTimestamp"]) !== "" ? since(e["firstTimestamp"]) : since(e["eventTime"]);
    let last = str(e["lastTimestamp"]) !== "" ? since(e["lastTimestamp"]) : first;
    let count = num(e["count"]);
    if (isRecord(e["series"])) {
      last = since(e["series"]["lastObservedTime"]);
      count = num(e["series"]["count"]);
    } else if (count === 0) count = 1;
    const kind = str(at(e, "involvedObject", "kind")).toLowerCase();
    const name = str(at(e, "involvedObject", "name"));
    const component = str(at(e, "source", "component")) || str(e["reportingController"]);
    const host = str(at(e, "source", "host")) || str(e["reportingInstance"]);
    return {
      cells: [
        last,
        str(e["type"]),
        str(e["reason"]),
        name === "" ? kind : `${kind}/${name}`,
        str(at(e, "involvedObject", "fieldPath")),
        host === "" ? component : `${component}, ${host}`,
        str(e["message"]).trim(),
        first,
        count,
        str(meta(e)["name"]),
      ],
    };
  },
};

const simple = (columns: ColumnDefinition[], cells: (obj: JsonObject) => unknown[]): Printer => ({
  columns: [nameColumn(), ...columns, ageColumn()],
  row: (obj, now) => ({ cells: [str(meta(obj)["name"]), ...cells(obj), age(obj, now)] }),
});

const countOf = (v: unknown) => (isRecord(v) ? Object.keys(v).length : Array.isArray(v) ? v.length : 0);

const secrets = simple([column("Type", "string", "Secret.type"), column("Data", "string", "Secret.data")], (s) => [str(s["type"]), countOf(s["data"])]);
const serviceAccounts = simple([column("Secrets", "string", "ServiceAccount.secrets")], (sa) => [countOf(sa["secrets"])]);
const configMaps = simple([column("Data", "string", "ConfigMap.data")], (cm) => [countOf(cm["data"]) + countOf(cm["binaryData"])]);

function externalIP(svc: JsonObject): string {
  const spec = svc["spec"];
  const externalIPs = list(at(spec, "externalIPs")).map(str);
  switch (str(at(spec, "type"))) {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = [
        ...new Set(
          list(at(svc, "status", "loadBalancer", "ingress"))
            .filter(isRecord)
            .map((i) => str(i["ip"]) || str(i["hostname"]))
            .filter((s) => s !== ""),
        ),
      ].sort();
      if (externalIPs.length > 0) return [...lb, ...externalIPs].join(",");
      return lb.length > 0 ? lb.join(",") : "<pending>";
    }
    case "ExternalName":
      return str(at(spec, "externalName"));
    default:
      return "<unknown>";
  }
}

const services: Printer = {
  columns: [
    nameColumn(),
    column("Type", "string", "ServiceSpec.type"),
    column("Cluster-IP", "string", "ServiceSpec.clusterIP"),
    column("External-IP", "string", "ServiceSpec.externalIPs"),
    column("Port(s)", "string", "ServiceSpec.ports"),
    ageColumn(),
    column("Selector", "string", "ServiceSpec.selector", { priority: 1 }),
  ],
  row: (svc, now) => {
    const spec = svc["spec"];
    const ports = list(at(spec, "ports"))
      .filter(isRecord)
      .map((p) => (num(p["nodePort"]) > 0 ? `${num(p["port"])}:${num(p["nodePort"])}/${str(p["protocol"])}` : `${num(p["port"])}/${str(p["protocol"])}`))
      .join(",");
    return {
      cells: [
        str(meta(svc)["name"]),
        str(at(spec, "type")),
        str(list(at(spec, "clusterIPs"))[0]) || "<none>",
        externalIP(svc),
        ports || "<none>",
        age(svc, now),
        formatLabels(at(spec, "selector")),
      ],
    };
  },
};

function bindingPrinter(what: string, doc: "RoleBinding.roleRef" | "ClusterRoleBinding.roleRef"): Printer {
  return {
    columns: [
      nameColumn(),
      column("Role", "string", doc),
      ageColumn(),
      column("Users", "string", { text: `Users in the ${what}` }, { priority: 1 }),
      column("Groups", "string", { text: `Groups in the ${what}` }, { priority: 1 }),
      column("ServiceAccounts", "string", { text: `ServiceAccounts in the ${what}` }, { priority: 1 }),
    ],
    row: (b, now) => {
      const subjects = list(b["subjects"]).filter(isRecord);
      const of = (kind: string) => subjects.filter((s) => s["kind"] === kind);
      return {
        cells: [
          str(meta(b)["name"]),
          `${str(at(b, "roleRef", "kind"))}/${str(at(b, "roleRef", "name"))}`,
          age(b, now),
          of("User")
            .map((s) => str(s["name"]))
            .join(", "),
          of("Group")
            .map((s) => str(s["name"]))
            .join(", "),
          of("ServiceAccount")
            .map((s) => `${str(s["namespace"])}/${str(s["name"])}`)
            .join(", "),
        ],
      };
    },
  };
}

const leases = simple([column("Holder", "string", "LeaseSpec.holderIdentity")], (l) => [str(at(l, "spec", "holderIdentity"))]);

export const builtinPrinters: Record<string, Printer> = {
  "/pods": pods,
  "/namespaces": namespaces,
  "/nodes": nodes,
  "/events": events,
  "events.k8s.io/events": events,
  "/secrets": secrets,
  "/serviceaccounts": serviceAccounts,
  "/configmaps": configMaps,
  "/services": services,
  "apps/daemonsets": daemonSets,
  "apps/deployments": deployments,
  "apps/replicasets": replicaSets,
  "coordination.k8s.io/leases": leases,
  "rbac.authorization.k8s.io/rolebindings": bindingPrinter("roleBinding", "RoleBinding.roleRef"),
  "rbac.authorization.k8s.io/clusterrolebindings": bindingPrinter("clusterRoleBinding", "ClusterRoleBinding.roleRef"),
};
