// The server-side printers of the workload kinds (pkg/printers/internalversion): pods, with the
// printer's way of working out STATUS and RESTARTS from container statuses, DaemonSets,
// Deployments and ReplicaSets. The server always prints the wide columns too.
import { translateTimestampSince } from "./human-duration.js";
import {
  age,
  ageColumn,
  at,
  column,
  containerCells,
  containersColumn,
  formatLabels,
  formatLabelSelector,
  imagesColumn,
  list,
  meta,
  nameColumn,
  none,
  num,
  selectorString,
  str,
  type Printer,
  type RowCondition,
} from "./printer-helpers.js";
import { isRecord, type JsonObject } from "./types.js";

const timeOf = (v: unknown): number => (typeof v === "string" && v !== "" ? Date.parse(v) : 0);

const podConditions: Record<string, RowCondition[]> = {
  Succeeded: [{ type: "Completed", status: "True", reason: "Succeeded", message: "The pod has completed successfully." }],
  Failed: [{ type: "Completed", status: "True", reason: "Failed", message: "The pod failed." }],
};

const hasCondition = (status: unknown, type: string) => list(at(status, "conditions")).some((c) => isRecord(c) && c["type"] === type && c["status"] === "True");

/** printPod: READY, STATUS (the reason a person wants to see), RESTARTS, AGE, and the wide columns. */
function podRow(pod: JsonObject, now: number): { cells: unknown[]; conditions?: RowCondition[] } {
  const spec = pod["spec"];
  const status = pod["status"];
  const initContainers = new Map(
    list(at(spec, "initContainers"))
      .filter(isRecord)
      .map((c) => [str(c["name"]), c]),
  );
  const restartable = (name: string) => initContainers.get(name)?.["restartPolicy"] === "Always";
  const total = list(at(spec, "containers")).length + [...initContainers.keys()].filter(restartable).length;
  let ready = 0;
  let restarts = 0;
  let restartableRestarts = 0;
  let lastRestart = 0;
  let lastRestartableRestart = 0;
  const phase = str(at(status, "phase"));
  let reason = str(at(status, "reason")) || phase;
  for (const c of list(at(status, "conditions")))
    if (isRecord(c) && c["type"] === "PodScheduled" && c["reason"] === "SchedulingGated") reason = "SchedulingGated";

  let initializing = false;
  const initStatuses = list(at(status, "initContainerStatuses")).filter(isRecord);
  for (const [i, cs] of initStatuses.entries()) {
    restarts += num(cs["restartCount"]);
    const finished = timeOf(at(cs, "lastState", "terminated", "finishedAt"));
    lastRestart = Math.max(lastRestart, finished);
    if (restartable(str(cs["name"]))) {
      restartableRestarts += num(cs["restartCount"]);
      lastRestartableRestart = Math.max(lastRestartableRestart, finished);
    }
    const terminated = at(cs, "state", "terminated");
    const waitingReason = str(at(cs, "state", "waiting", "reason"));
    if (isRecord(terminated) && num(terminated["exitCode"]) === 0) continue;
    if (restartable(str(cs["name"])) && cs["started"] === true) {
      if (cs["ready"] === true) ready++;
      continue;
    }
    if (isRecord(terminated)) {
      const why = str(terminated["reason"]);
      reason =
        why !== ""
          ? `Init:${why}`
          : num(terminated["signal"]) !== 0
            ? `Init:Signal:${num(terminated["signal"])}`
            : `Init:ExitCode:${num(terminated["exitCode"])}`;
    } else if (waitingReason !== "" && waitingReason !== "PodInitializing") reason = `Init:${waitingReason}`;
    else reason = `Init:${i}/${initContainers.size}`;
    initializing = true;
    break;
  }

  if (!initializing || hasCondition(status, "Initialized")) {
    restarts = restartableRestarts;
    lastRestart = lastRestartableRestart;
    let hasRunning = false;
    const statuses = list(at(status, "containerStatuses")).filter(isRecord);
    for (const cs of [...statuses].reverse()) {
      restarts += num(cs["restartCount"]);
      lastRestart = Math.max(lastRestart, timeOf(at(cs, "lastState", "terminated", "finishedAt")));
      const waiting = str(at(cs, "state", "waiting", "reason"));
      const terminated = at(cs, "state", "terminated");
      if (waiting !== "") reason = waiting;
      else if (isRecord(terminated) && str(terminated["reason"]) !== "") reason = str(terminated["reason"]);
      else if (isRecord(terminated))
        reason = num(terminated["signal"]) !== 0 ? `Signal:${num(terminated["signal"])}` : `ExitCode:${num(terminated["exitCode"])}`;
      else if (cs["ready"] === true && isRecord(at(cs, "state", "running"))) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === "Completed" && hasRunning) reason = hasCondition(status, "Ready") ? "Running" : "NotReady";
  }
  const deleting = meta(pod)["deletionTimestamp"] !== undefined;
  if (deleting && str(at(status, "reason")) === "NodeLost") reason = "Unknown";
  else if (deleting && phase !== "Succeeded" && phase !== "Failed") reason = "Terminating";

  const restartsText =
    restarts !== 0 && lastRestart !== 0 ? `${restarts} (${translateTimestampSince(new Date(lastRestart).toISOString(), now)} ago)` : String(restarts);
  const gates = list(at(spec, "readinessGates")).filter(isRecord);
  const gateText =
    gates.length === 0
      ? "<none>"
      : `${gates.filter((g) => list(at(status, "conditions")).some((c) => isRecord(c) && c["type"] === g["conditionType"] && c["status"] === "True")).length}/${gates.length}`;
  const podIP = list(at(status, "podIPs")).filter(isRecord)[0]?.["ip"];
  const cells = [
    str(meta(pod)["name"]),
    `${ready}/${total}`,
    reason,
    restartsText,
    age(pod, now),
    none(str(podIP)),
    none(str(at(spec, "nodeName"))),
    none(str(at(status, "nominatedNodeName"))),
    gateText,
  ];
  const conditions = podConditions[phase];
  return conditions === undefined ? { cells } : { cells, conditions };
}

export const pods: Printer = {
  columns: [
    nameColumn(),
    column("Ready", "string", { text: "The aggregate readiness state of this pod for accepting traffic." }),
    column("Status", "string", { text: "The aggregate status of the containers in this pod." }),
    column("Restarts", "string", {
      text: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    }),
    ageColumn(),
    column("IP", "string", "PodStatus.podIP", { priority: 1 }),
    column("Node", "string", "PodSpec.nodeName", { priority: 1 }),
    column("Nominated Node", "string", "PodStatus.nominatedNodeName", { priority: 1 }),
    column("Readiness Gates", "string", "PodSpec.readinessGates", { priority: 1 }),
  ],
  row: podRow,
};

export const daemonSets: Printer = {
  columns: [
    nameColumn(),
    column("Desired", "integer", "DaemonSetStatus.desiredNumberScheduled"),
    column("Current", "integer", "DaemonSetStatus.currentNumberScheduled"),
    column("Ready", "integer", "DaemonSetStatus.numberReady"),
    column("Up-to-date", "integer", "DaemonSetStatus.updatedNumberScheduled"),
    column("Available", "integer", "DaemonSetStatus.numberAvailable"),
    column("Node Selector", "string", "PodSpec.nodeSelector"),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    column("Selector", "string", "DaemonSetSpec.selector", { priority: 1 }),
  ],
  row: (ds, now) => {
    const s = ds["status"];
    const podSpec = at(ds, "spec", "template", "spec");
    const [names, images] = containerCells(podSpec);
    return {
      cells: [
        str(meta(ds)["name"]),
        num(at(s, "desiredNumberScheduled")),
        num(at(s, "currentNumberScheduled")),
        num(at(s, "numberReady")),
        num(at(s, "updatedNumberScheduled")),
        num(at(s, "numberAvailable")),
        formatLabels(at(podSpec, "nodeSelector")),
        age(ds, now),
        names,
        images,
        formatLabelSelector(at(ds, "spec", "selector")),
      ],
    };
  },
};

export const deployments: Printer = {
  columns: [
    nameColumn(),
    column("Ready", "string", { text: "Number of the pod with ready state" }),
    column("Up-to-date", "string", "DeploymentStatus.updatedReplicas"),
    column("Available", "string", "DeploymentStatus.availableReplicas"),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    column("Selector", "string", "DeploymentSpec.selector", { priority: 1 }),
  ],
  row: (d, now) => {
    const s = d["status"];
    const [names, images] = containerCells(at(d, "spec", "template", "spec"));
    return {
      cells: [
        str(meta(d)["name"]),
        `${num(at(s, "readyReplicas"))}/${num(at(d, "spec", "replicas"))}`,
        num(at(s, "updatedReplicas")),
        num(at(s, "availableReplicas")),
        age(d, now),
        names,
        images,
        selectorString(at(d, "spec", "selector")),
      ],
    };
  },
};

export const replicaSets: Printer = {
  columns: [
    nameColumn(),
    column("Desired", "integer", "ReplicaSetSpec.replicas"),
    column("Current", "integer", "ReplicaSetStatus.replicas"),
    column("Ready", "integer", "ReplicaSetStatus.readyReplicas"),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    column("Selector", "string", "ReplicaSetSpec.selector", { priority: 1 }),
  ],
  row: (rs, now) => {
    const [names, images] = containerCells(at(rs, "spec", "template", "spec"));
    return {
      cells: [
        str(meta(rs)["name"]),
        num(at(rs, "spec", "replicas")),
        num(at(rs, "status", "replicas")),
        num(at(rs, "status", "readyReplicas")),
        age(rs, now),
        names,
        images,
        formatLabelSelector(at(rs, "spec", "selector")),
      ],
    };
  },
};
